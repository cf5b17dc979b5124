package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// movingNodes is 2 datacenters x 2 racks of random nodes, 1 to 3 random
// tokens each, where rack dc1/rack1 keeps a normal node "keeper" (the local
// node) and the other nodes of every rack but dc2/rack2 are normal, joining
// or leaving at random; dc2/rack2 has no mover. Every rack keeps at least
// one owner on each side of the move.
func movingNodes(rng *rand.Rand) []Node {
	used := map[Token]bool{}
	var tokens func() []Token
	tokens = func() []Token {
		var ts []Token
		for range 1 + rng.IntN(3) {
			var tok Token
			switch rng.IntN(8) {
			case 0:
				tok = Token(rng.IntN(4)) // near the bottom: wrap-around
			case 1:
				tok = Token(math.MaxUint32 - uint32(rng.IntN(4)))
			default:
				tok = Token(rng.Uint32())
			}
			if !used[tok] {
				used[tok] = true
				ts = append(ts, tok)
			}
		}
		if len(ts) == 0 {
			return tokens()
		}
		return ts
	}
	var nodes []Node
	for d := range 2 {
		for r := range 2 {
			dc, rk := fmt.Sprintf("dc%d", d+1), fmt.Sprintf("rack%d", r+1)
			clear(used) // tokens only need to differ within a rack
			if d == 0 && r == 0 {
				nodes = append(nodes, node("keeper", dc, rk, tokens()...))
			}
			n := 1 + rng.IntN(5)
			var joined, left, normal int
			for i := range n {
				nd := node(fmt.Sprintf("%s-%s-n%d", dc, rk, i), dc, rk, tokens()...)
				if d != 1 || r != 1 {
					nd.State = NodeState(rng.IntN(3))
				}
				switch nd.State {
				case StateJoining:
					joined++
				case StateLeaving:
					left++
				default:
					normal++
				}
				nodes = append(nodes, nd)
			}
			if normal == 0 && (d != 0 || r != 0) && (joined == 0 || left == 0) {
				nodes[len(nodes)-1].State = StateNormal // keep an owner on each side
			}
		}
	}
	return nodes
}

// sideOf is the topology of the nodes of one side of a move, built on its
// own, every node normal: the normal nodes and those in state also.
func sideOf(tb testing.TB, nodes []Node, also NodeState) *Topology {
	var side []Node
	for _, n := range nodes {
		if n.State == StateNormal || n.State == also {
			n.State = StateNormal
			side = append(side, n)
		}
	}
	return mustTopology(tb, "keeper", side, Options{})
}

// probes are tokens worth asking about: every node token, its neighbours,
// both ends of the ring and random ones.
func probes(rng *rand.Rand, nodes []Node) []Token {
	ps := []Token{0, 1, math.MaxUint32}
	for _, n := range nodes {
		for _, tok := range n.Tokens {
			ps = append(ps, tok, tok-1, tok+1)
		}
	}
	for range 200 {
		ps = append(ps, Token(rng.Uint32()))
	}
	return ps
}

func TestExtraOwnerMatchesTopologiesOfEachSide(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nodes := movingNodes(rng)
		before, after := sideOf(t, nodes, StateLeaving), sideOf(t, nodes, StateJoining)
		for _, switched := range []bool{false, true} {
			topo := mustTopology(t, "keeper", nodes, Options{Switched: switched})
			reads, other := before, after
			if switched {
				reads, other = after, before
			}
			require.Equal(t, switched, topo.Switched())
			for d := range topo.NumDCs() {
				for r := range topo.NumRacks(d) {
					for _, tok := range probes(rng, nodes) {
						want := reads.Owner(d, r, tok).Name
						got := topo.Owner(d, r, tok)
						require.Equal(t, want, got.Name, "seed %d switched %v dc %d rack %d token %d", seed, switched, d, r, tok)
						extra := topo.ExtraOwner(d, r, tok)
						if o := other.Owner(d, r, tok).Name; o == want {
							require.Nil(t, extra, "seed %d switched %v dc %d rack %d token %d: both sides say %s", seed, switched, d, r, tok, o)
						} else {
							require.NotNil(t, extra, "seed %d switched %v dc %d rack %d token %d", seed, switched, d, r, tok)
							require.Equal(t, o, extra.Name, "seed %d switched %v dc %d rack %d token %d", seed, switched, d, r, tok)
						}
						if d == 1 && r == 1 {
							require.Nil(t, extra, "a rack where nothing moves has no extra owner")
						}
					}
				}
			}
		}
	}
}

func TestOwnerHelpersAnswerFromTheSwitchedContinuum(t *testing.T) {
	nodes := []Node{
		node("keeper", "dc1", "r1", 100),
		node("old", "dc1", "r1", 200),
		node("new", "dc1", "r1", 150),
		node("b1", "dc1", "r2", 100),
		node("b2", "dc1", "r2", 300),
		node("x1", "dc2", "r1", 100),
		node("x2", "dc2", "r1", 300),
	}
	nodes[1].State, nodes[2].State = StateLeaving, StateJoining
	nodes[4].State = StateLeaving
	nodes = append(nodes, Node{Name: "x3", Addr: "x3:8101", DC: "dc2", Rack: "r1", Tokens: []Token{250}, State: StateJoining})
	for _, tc := range []struct {
		switched              bool
		readR1, extraR1       string
		readR2, extraR2       string
		readRemote, extraRemo string
	}{
		// token 180: r1 before {keeper 100, old 200} -> old; after {keeper
		// 100, new 150} -> wraps to keeper. r2 before -> b2; after {b1} ->
		// b1. dc2 before {x1, x2} -> x2; after {x1, x2, x3} -> x3.
		{false, "old", "keeper", "b2", "b1", "x2", "x3"},
		{true, "keeper", "old", "b1", "b2", "x3", "x2"},
	} {
		topo := mustTopology(t, "keeper", nodes, Options{Switched: tc.switched})
		require.True(t, topo.Moving())
		tok := Token(180)
		require.Equal(t, tc.readR1, topo.Owner(0, 0, tok).Name)
		require.Equal(t, tc.extraR1, topo.ExtraOwner(0, 0, tok).Name)
		require.Equal(t, tc.readR2, topo.Owner(0, 1, tok).Name)
		require.Equal(t, tc.extraR2, topo.ExtraOwner(0, 1, tok).Name)
		require.Equal(t, tc.readRemote, topo.Owner(1, 0, tok).Name)
		require.Equal(t, tc.extraRemo, topo.ExtraOwner(1, 0, tok).Name)
		names := func(ns []*Node) []string {
			var out []string
			for _, n := range ns {
				out = append(out, n.Name)
			}
			return out
		}
		require.Equal(t, []string{tc.readR1, tc.readR2}, names(topo.LocalReplicas(tok, nil)))
		require.Equal(t, []string{tc.readR1, tc.readR2}, names(topo.RackOwners(0, tok, nil)))
		require.Equal(t, []string{tc.readRemote}, names(topo.RemoteOwners(1, tok, nil)))
		require.Equal(t, []string{tc.readR1, tc.readR2, tc.readRemote}, names(topo.ReplicasForToken(tok, nil)))
		// Lookup hashes the key: compare it with Owner of the key's token
		key := []byte("some key")
		ktok, _ := topo.KeyToken(key)
		require.Same(t, topo.Owner(0, 0, ktok), topo.Lookup(key, 0, 0))
		// every node is listed, whatever its state
		require.Len(t, topo.RackNodes(0, 0), 3)
		require.Len(t, topo.RackNodes(1, 0), 3)
		// a token where both sides agree has no extra owner: 90 is keeper's
		require.Nil(t, topo.ExtraOwner(0, 0, 90))
		require.Nil(t, topo.ExtraOwner(5, 0, 90), "dc out of range")
		require.Nil(t, topo.ExtraOwner(0, 5, 90), "rack out of range")
	}
}

func TestMoveTopologyRejects(t *testing.T) {
	with := func(n Node, s NodeState) Node { n.State = s; return n }
	tests := map[string]struct {
		nodes   []Node
		wantIs  error
		wantErr string
	}{
		"every node of a rack joining": {
			nodes:  []Node{node("a", "dc1", "r1", 1), with(node("b", "dc1", "r2", 1), StateJoining)},
			wantIs: ErrNoOwner, wantErr: `every node of dc "dc1", rack "r2" is joining, so the rack has no owner before the move`,
		},
		"every node of a rack leaving": {
			nodes:  []Node{with(node("a", "dc1", "r1", 1), StateLeaving), node("b", "dc1", "r2", 1)},
			wantIs: ErrNoOwner, wantErr: `every node of dc "dc1", rack "r1" is leaving, so the rack has no owner after the move`,
		},
		"a joining node's token held by a normal node": {
			nodes:  []Node{node("a", "dc1", "r1", 5), with(node("b", "dc1", "r1", 5), StateJoining)},
			wantIs: ErrDuplicateToken, wantErr: `token 5 is claimed by node "a" and node "b" (joining) in dc "dc1", rack "r1"`,
		},
		"two leaving nodes with one token": {
			nodes: []Node{node("a", "dc1", "r1", 1), with(node("b", "dc1", "r1", 5), StateLeaving),
				with(node("c", "dc1", "r1", 5), StateLeaving)},
			wantIs: ErrDuplicateToken, wantErr: `token 5 is claimed by node "b" (leaving) and node "c" (leaving)`,
		},
		"an unknown state": {
			nodes:  []Node{node("a", "dc1", "r1", 1), with(node("b", "dc1", "r1", 5), 7)},
			wantIs: ErrInvalidNode, wantErr: `node "b" has unknown state 7`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewTopology("a", tc.nodes, Options{})
			require.ErrorIs(t, err, tc.wantIs)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestJoiningNodeMayTakeOverALeavingNodesToken(t *testing.T) {
	nodes := []Node{node("a", "dc1", "r1", 100), node("old", "dc1", "r1", 200), node("new", "dc1", "r1", 200)}
	nodes[1].State, nodes[2].State = StateLeaving, StateJoining
	for _, switched := range []bool{false, true} {
		topo := mustTopology(t, "a", nodes, Options{Switched: switched})
		read, extra := "old", "new"
		if switched {
			read, extra = extra, read
		}
		require.Equal(t, read, topo.Owner(0, 0, 150).Name)
		require.Equal(t, extra, topo.ExtraOwner(0, 0, 150).Name)
		require.Equal(t, "a", topo.Owner(0, 0, 50).Name)
		require.Nil(t, topo.ExtraOwner(0, 0, 50))
	}
}

func TestNothingMovingHasNoExtraOwners(t *testing.T) {
	topo := benchTopology(t)
	require.False(t, topo.Moving())
	for tok := Token(0); tok < math.MaxUint32-1<<24; tok += 1 << 24 {
		for d := range topo.NumDCs() {
			for r := range topo.NumRacks(d) {
				require.Nil(t, topo.ExtraOwner(d, r, tok))
			}
		}
	}
}

// movingBenchTopology is benchTopology with one joining and one leaving
// node in every rack of dc1 (the local datacenter).
func movingBenchTopology(tb testing.TB, switched bool) *Topology {
	nodes := benchTopology(tb).Nodes()
	var out []Node
	for _, n := range nodes {
		n.Local, n.Index = false, 0
		if n.DC == "dc1" && n.Name[len(n.Name)-2:] == "05" {
			n.State = StateLeaving
		}
		out = append(out, n)
		if n.DC == "dc1" && n.Name[len(n.Name)-2:] == "07" {
			j := n
			j.Name += "-joining"
			j.Tokens = []Token{n.Tokens[0] + 1<<27}
			j.State = StateJoining
			out = append(out, j)
		}
	}
	return mustTopology(tb, "dc1-rack1-n00", out, Options{HashTag: "{}", Switched: switched})
}

func TestMovingLookupsDoNotAllocate(t *testing.T) {
	for _, topo := range []*Topology{benchTopology(t), movingBenchTopology(t, false), movingBenchTopology(t, true)} {
		key := []byte("user:{1000}:profile")
		dst := make([]*Node, 0, topo.NumReplicas())
		tok := Token(0)
		require.Zero(t, testing.AllocsPerRun(1000, func() {
			tok += 2654435761
			_ = topo.Lookup(key, 0, 2)
			_ = topo.Owner(0, 1, tok)
			_ = topo.ExtraOwner(0, 1, tok)
			_ = topo.ExtraOwner(1, 1, tok)
			dst = topo.ReplicasForToken(tok, dst)
			dst = topo.RackOwners(0, tok, dst)
		}))
	}
}
