package stream

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Transfer is one part of a move of token ranges inside a rack (a rack
// scaled out or in): the ranges whose owner is From before the move and To
// after it. The keys of Ranges are copied from From's datastore to To's.
type Transfer struct {
	DC     string `json:"datacenter"`
	Rack   string `json:"rack"`
	From   string `json:"from"`
	To     string `json:"to"`
	Ranges Ranges `json:"ranges"`
}

// Moves compares two continuums of the same racks, the nodes owning tokens
// before a move and after it (each node's Name, DC, Rack and Tokens are
// read), and returns for every rack the token ranges whose owner changes,
// one Transfer per (old owner, new owner) pair, sorted by datacenter,
// rack, From and To. A rack present on one side only is an error: a move
// never creates or empties a rack.
//
// The owners are compared on the rack's elementary intervals: the ranges
// between consecutive tokens of the union of both continuums' tokens.
// Inside one such interval neither continuum changes owner (an owner
// changes only at a token), so the interval's owner on each side is that of
// its end token. Adjacent intervals with the same pair of owners are merged,
// the last with the first when both wrap around the top of the ring.
func Moves(before, after []ring.Node) ([]Transfer, error) {
	if len(before) == 0 || len(after) == 0 {
		return nil, fmt.Errorf("stream: moves: no nodes before (%d) or after (%d) the move", len(before), len(after))
	}
	// Topologies for their Owner (upstream's vnode_dispatch); the local
	// node is irrelevant here.
	bt, err := ring.NewTopology(before[0].Name, plain(before), ring.Options{})
	if err != nil {
		return nil, fmt.Errorf("stream: moves: the nodes before the move: %w", err)
	}
	at, err := ring.NewTopology(after[0].Name, plain(after), ring.Options{})
	if err != nil {
		return nil, fmt.Errorf("stream: moves: the nodes after the move: %w", err)
	}
	var out []Transfer
	for d := range bt.NumDCs() {
		dc := bt.DCName(d)
		ad := at.DCIndex(dc)
		if ad < 0 {
			return nil, fmt.Errorf("stream: moves: datacenter %q has no node after the move", dc)
		}
		for r := range bt.NumRacks(d) {
			rack := bt.RackName(d, r)
			ar := at.RackIndex(ad, rack)
			if ar < 0 {
				return nil, fmt.Errorf("stream: moves: rack %s/%s has no node after the move", dc, rack)
			}
			out = append(out, rackMoves(bt, d, r, at, ad, ar)...)
		}
	}
	for d := range at.NumDCs() {
		for r := range at.NumRacks(d) {
			if bd := bt.DCIndex(at.DCName(d)); bd < 0 || bt.RackIndex(bd, at.RackName(d, r)) < 0 {
				return nil, fmt.Errorf("stream: moves: rack %s/%s has no node before the move", at.DCName(d), at.RackName(d, r))
			}
		}
	}
	slices.SortFunc(out, func(a, b Transfer) int {
		return cmp.Or(cmp.Compare(a.DC, b.DC), cmp.Compare(a.Rack, b.Rack), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return out, nil
}

// plain copies nodes without the fields NewTopology sets or checks besides
// the placement and tokens.
func plain(nodes []ring.Node) []ring.Node {
	out := make([]ring.Node, len(nodes))
	for i, n := range nodes {
		out[i] = ring.Node{Name: n.Name, Addr: n.Addr, DC: n.DC, Rack: n.Rack, Tokens: n.Tokens}
	}
	return out
}

// rackMoves compares one rack of bt (dc d, rack r) with the same rack of at.
func rackMoves(bt *ring.Topology, d, r int, at *ring.Topology, ad, ar int) []Transfer {
	var toks []ring.Token
	for _, n := range bt.RackNodes(d, r) {
		toks = append(toks, n.Tokens...)
	}
	for _, n := range at.RackNodes(ad, ar) {
		toks = append(toks, n.Tokens...)
	}
	slices.Sort(toks)
	toks = slices.Compact(toks)
	type piece struct {
		from, to string
		rng      Range
	}
	var pieces []piece
	for i, end := range toks {
		from, to := bt.Owner(d, r, end).Name, at.Owner(ad, ar, end).Name
		if from == to {
			continue
		}
		start := toks[(i+len(toks)-1)%len(toks)]
		if n := len(pieces); n > 0 && pieces[n-1].from == from && pieces[n-1].to == to && pieces[n-1].rng.End == start {
			pieces[n-1].rng.End = end
			continue
		}
		pieces = append(pieces, piece{from, to, Range{Start: start, End: end}})
	}
	// the last piece may continue into the first across the top of the ring
	if n := len(pieces); n > 1 && pieces[0].from == pieces[n-1].from && pieces[0].to == pieces[n-1].to &&
		pieces[n-1].rng.End == pieces[0].rng.Start {
		pieces[0].rng.Start = pieces[n-1].rng.Start
		pieces = pieces[:n-1]
	}
	byPair := map[[2]string]int{}
	var out []Transfer
	for _, p := range pieces {
		k := [2]string{p.from, p.to}
		i, ok := byPair[k]
		if !ok {
			i = len(out)
			byPair[k] = i
			out = append(out, Transfer{DC: bt.DCName(d), Rack: bt.RackName(d, r), From: p.from, To: p.to})
		}
		out[i].Ranges = append(out[i].Ranges, p.rng)
	}
	return out
}

// Continuums splits the nodes of a ring for a move that adds the nodes
// named in join and removes those named in leave: before are the nodes not
// joining, after the nodes not leaving. A name in join or leave that nodes
// lack is an error naming it.
func Continuums(nodes []ring.Node, join, leave []string) (before, after []ring.Node, err error) {
	for _, name := range append(slices.Clone(join), leave...) {
		if !slices.ContainsFunc(nodes, func(n ring.Node) bool { return n.Name == name }) {
			return nil, nil, fmt.Errorf("stream: node %q is not in the ring", name)
		}
	}
	for _, n := range nodes {
		if !slices.Contains(join, n.Name) {
			before = append(before, n)
		}
		if !slices.Contains(leave, n.Name) {
			after = append(after, n)
		}
	}
	return before, after, nil
}
