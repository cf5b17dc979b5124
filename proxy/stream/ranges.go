package stream

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Range is a slice of one rack's 32-bit token ring: the tokens t with
// Start < t <= End, read clockwise. Start is exclusive and End inclusive
// because that is how the ring assigns ownership: a node holding token T owns
// every key token in (previous token, T] (see proxy/ring's Topology.Owner).
//
// A range with Start > End wraps around the top of the ring: it holds the
// tokens above Start and the tokens from 0 up to End. A range with Start ==
// End is the whole ring (a rack whose single token belongs to one node).
type Range struct {
	Start ring.Token `json:"start"`
	End   ring.Token `json:"end"`
}

// Contains reports whether tok falls in r.
func (r Range) Contains(tok ring.Token) bool {
	switch {
	case r.Start < r.End:
		return r.Start < tok && tok <= r.End
	case r.Start > r.End: // wraps past 2^32-1 to 0
		return tok > r.Start || tok <= r.End
	default:
		return true
	}
}

// String prints the range in interval notation, "(start, end]".
func (r Range) String() string { return fmt.Sprintf("(%d, %d]", r.Start, r.End) }

// Ranges is a set of token ranges; a token is in the set when one range
// contains it.
type Ranges []Range

// Contains reports whether one of the ranges contains tok.
func (rs Ranges) Contains(tok ring.Token) bool {
	for _, r := range rs {
		if r.Contains(tok) {
			return true
		}
	}
	return false
}

// String lists the ranges separated by commas.
func (rs Ranges) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// NodeRanges returns the ranges that the node named name owns in its own
// rack: one range (previous token in the rack, T] per token T of the node,
// in ascending order of T. The previous token of the rack's smallest token is
// the rack's largest, so that range wraps. A node alone in its rack with a
// single token owns the whole ring (one range with Start == End).
func NodeRanges(topo *ring.Topology, name string) (Ranges, error) {
	n := topo.NodeByName(name)
	if n == nil {
		return nil, fmt.Errorf("stream: node %q is not in the topology", name)
	}
	var all []ring.Token
	for _, peer := range topo.RackNodes(n.DCIndex, n.RackIndex) {
		all = append(all, peer.Tokens...)
	}
	slices.Sort(all)
	out := make(Ranges, 0, len(n.Tokens))
	for _, tok := range n.Tokens {
		i, _ := slices.BinarySearch(all, tok)
		prev := all[(i+len(all)-1)%len(all)]
		out = append(out, Range{Start: prev, End: tok})
	}
	return out, nil
}

// KeyFilter decides whether a key belongs to a set of ranges, hashing it
// exactly as the router does (the topology's hash and hash tag).
type KeyFilter struct {
	Topo   *ring.Topology
	Ranges Ranges
	// Keyless says what to do with keys that have nothing to hash (an empty
	// hash tag such as "{}foo"): the router serves those on whichever node
	// the client reached, so no range owns them. false leaves them out.
	Keyless bool
}

// Match reports whether key's token falls in the filter's ranges.
func (f *KeyFilter) Match(key []byte) bool {
	tok, ok := f.Topo.KeyToken(key)
	if !ok {
		return f.Keyless
	}
	return f.Ranges.Contains(tok)
}
