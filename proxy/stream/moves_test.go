package stream

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

func node(name, rack string, toks ...ring.Token) ring.Node {
	return ring.Node{Name: name, DC: "dc1", Rack: rack, Tokens: toks}
}

func TestMovesJoinSplitsTheRangeOfTheNextOwner(t *testing.T) {
	before := []ring.Node{node("a", "r1", 1000), node("b", "r1", 3000)}
	after := append(before[:2:2], node("c", "r1", 2000))
	got, err := Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{{DC: "dc1", Rack: "r1", From: "b", To: "c", Ranges: Ranges{{1000, 2000}}}}, got)

	// and back: c leaves, b takes its range again
	got, err = Moves(after, before)
	require.NoError(t, err)
	require.Equal(t, []Transfer{{DC: "dc1", Rack: "r1", From: "c", To: "b", Ranges: Ranges{{1000, 2000}}}}, got)
}

func TestMovesWrapAround(t *testing.T) {
	// a owns (3000, 1000], which wraps; d joins at 100 and takes (3000, 100]
	before := []ring.Node{node("a", "r1", 1000), node("b", "r1", 3000)}
	after := append(before[:2:2], node("d", "r1", 100))
	got, err := Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{{DC: "dc1", Rack: "r1", From: "a", To: "d", Ranges: Ranges{{3000, 100}}}}, got)

	// a token above every other: e at 4000 takes (3000, 4000] from a, a
	// range that does not wrap, while a keeps (4000, 1000], which does
	after = append(before[:2:2], node("e", "r1", 4000))
	got, err = Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{{DC: "dc1", Rack: "r1", From: "a", To: "e", Ranges: Ranges{{3000, 4000}}}}, got)
}

func TestMovesAloneInItsRack(t *testing.T) {
	// a single node owns the whole ring; b joins and takes (1000, 3000]
	before := []ring.Node{node("a", "r1", 1000)}
	after := []ring.Node{node("a", "r1", 1000), node("b", "r1", 3000)}
	got, err := Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{{DC: "dc1", Rack: "r1", From: "a", To: "b", Ranges: Ranges{{1000, 3000}}}}, got)

	// a replaced by b at once: b gets the whole ring, (t, t]
	got, err = Moves([]ring.Node{node("a", "r1", 1000)}, []ring.Node{node("b", "r1", 3000)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "a", got[0].From)
	require.Equal(t, "b", got[0].To)
	require.Len(t, got[0].Ranges, 1)
	require.Equal(t, got[0].Ranges[0].Start, got[0].Ranges[0].End, "the whole ring")
}

func TestMovesSeveralTokensAndOwners(t *testing.T) {
	// c joins with two tokens, each taking part of one of b's ranges
	before := []ring.Node{node("a", "r1", 1000, 5000), node("b", "r1", 3000, 7000)}
	after := append(before[:2:2], node("c", "r1", 2000, 6000))
	got, err := Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{
		{DC: "dc1", Rack: "r1", From: "b", To: "c", Ranges: Ranges{{1000, 2000}, {5000, 6000}}},
	}, got)

	// a range split across several old owners: with a leaving, c at 6000
	// owns (3000, 6000], which was a's (3000, 5000] and b's (5000, 6000];
	// b takes a's (7000, 1000], which wraps
	after = []ring.Node{node("b", "r1", 3000, 7000), node("c", "r1", 6000)}
	got, err = Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{
		{DC: "dc1", Rack: "r1", From: "a", To: "b", Ranges: Ranges{{7000, 1000}}},
		{DC: "dc1", Rack: "r1", From: "a", To: "c", Ranges: Ranges{{3000, 5000}}},
		{DC: "dc1", Rack: "r1", From: "b", To: "c", Ranges: Ranges{{5000, 6000}}},
	}, got)

	// a new range over two old owners: d replaces b and also takes
	// (3000, 3500] of a's (3000, 5000]
	before = []ring.Node{node("a", "r1", 1000, 5000), node("b", "r1", 3000)}
	after = []ring.Node{node("a", "r1", 1000, 5000), node("d", "r1", 3500)}
	got, err = Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{
		{DC: "dc1", Rack: "r1", From: "a", To: "d", Ranges: Ranges{{3000, 3500}}},
		{DC: "dc1", Rack: "r1", From: "b", To: "d", Ranges: Ranges{{1000, 3000}}},
	}, got)
}

func TestMovesPerRack(t *testing.T) {
	before := []ring.Node{node("a1", "r1", 1000), node("b1", "r1", 3000), node("a2", "r2", 1000)}
	after := append(before[:3:3], node("c2", "r2", 2000))
	got, err := Moves(before, after)
	require.NoError(t, err)
	require.Equal(t, []Transfer{{DC: "dc1", Rack: "r2", From: "a2", To: "c2", Ranges: Ranges{{1000, 2000}}}}, got)

	_, err = Moves(before, before[:2])
	require.ErrorContains(t, err, "rack dc1/r2 has no node after the move")
	_, err = Moves(before[:2], before)
	require.ErrorContains(t, err, "rack dc1/r2 has no node before the move")
	_, err = Moves(nil, before)
	require.Error(t, err)
}

// TestMovesAgreeWithTheOwners checks random moves token by token: every
// token whose owner changes is in exactly one transfer, from its old owner
// to its new one, and no other token is in any.
func TestMovesAgreeWithTheOwners(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		var all []ring.Node
		used := map[ring.Token]bool{}
		for i := range 2 + rng.IntN(5) {
			n := node(string(rune('a'+i)), "r1")
			for range 1 + rng.IntN(3) {
				tok := ring.Token(rng.Uint32())
				if !used[tok] {
					used[tok] = true
					n.Tokens = append(n.Tokens, tok)
				}
			}
			all = append(all, n)
		}
		var before, after []ring.Node
		for i, n := range all {
			switch {
			case i == 0:
				before, after = append(before, n), append(after, n)
			case rng.IntN(3) == 0:
				before = append(before, n) // leaving
			case rng.IntN(2) == 0:
				after = append(after, n) // joining
			default:
				before, after = append(before, n), append(after, n)
			}
		}
		got, err := Moves(before, after)
		require.NoError(t, err)
		bt, err := ring.NewTopology(before[0].Name, before, ring.Options{})
		require.NoError(t, err)
		at, err := ring.NewTopology(after[0].Name, after, ring.Options{})
		require.NoError(t, err)
		probes := []ring.Token{0, 1, ^ring.Token(0)}
		for tok := range used {
			probes = append(probes, tok, tok-1, tok+1)
		}
		for range 200 {
			probes = append(probes, ring.Token(rng.Uint32()))
		}
		for _, tok := range probes {
			from, to := bt.Owner(0, 0, tok).Name, at.Owner(0, 0, tok).Name
			var in []Transfer
			for _, tr := range got {
				if tr.Ranges.Contains(tok) {
					in = append(in, tr)
				}
			}
			if from == to {
				require.Empty(t, in, "iteration %d: token %d stays on %s", iter, tok, from)
				continue
			}
			require.Len(t, in, 1, "iteration %d: token %d moves from %s to %s", iter, tok, from, to)
			require.Equal(t, from, in[0].From, "iteration %d token %d", iter, tok)
			require.Equal(t, to, in[0].To, "iteration %d token %d", iter, tok)
		}
	}
}

func TestContinuums(t *testing.T) {
	nodes := []ring.Node{node("a", "r1", 1), node("b", "r1", 2), node("c", "r1", 3)}
	before, after, err := Continuums(nodes, []string{"c"}, []string{"a"})
	require.NoError(t, err)
	require.Equal(t, nodes[:2], before)
	require.Equal(t, nodes[1:], after)
	_, _, err = Continuums(nodes, []string{"x:8101"}, nil)
	require.ErrorContains(t, err, `"x:8101"`)
}
