package stream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

func TestRangeContains(t *testing.T) {
	tests := map[string]struct {
		r       Range
		in, out []ring.Token
	}{
		"plain": {Range{10, 20}, []ring.Token{11, 15, 20}, []ring.Token{0, 9, 10, 21, math.MaxUint32}},
		"wraps": {Range{4000000000, 5}, []ring.Token{4000000001, math.MaxUint32, 0, 5},
			[]ring.Token{6, 4000000000, 100}},
		"whole ring": {Range{7, 7}, []ring.Token{0, 7, 8, math.MaxUint32}, nil},
		"from zero":  {Range{0, 3}, []ring.Token{1, 3}, []ring.Token{0, 4}},
		"up to max":  {Range{math.MaxUint32 - 1, math.MaxUint32}, []ring.Token{math.MaxUint32}, []ring.Token{0, math.MaxUint32 - 1}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, tok := range tc.in {
				require.True(t, tc.r.Contains(tok), "%v should contain %d", tc.r, tok)
			}
			for _, tok := range tc.out {
				require.False(t, tc.r.Contains(tok), "%v should not contain %d", tc.r, tok)
			}
		})
	}
}

func testTopology(t testing.TB, opts ring.Options) *ring.Topology {
	t.Helper()
	nodes := []ring.Node{
		{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{100, 2000000000}},
		{Name: "b", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1000000000, 3000000000, 4000000000}},
		{Name: "c", DC: "dc1", Rack: "r1", Tokens: []ring.Token{500}},
		{Name: "d", DC: "dc1", Rack: "r2", Tokens: []ring.Token{42}},
		{Name: "e", DC: "dc2", Rack: "r1", Tokens: []ring.Token{1, 2147483648}},
		{Name: "f", DC: "dc2", Rack: "r1", Tokens: []ring.Token{3221225472}},
	}
	topo, err := ring.NewTopology("a", nodes, opts)
	require.NoError(t, err)
	return topo
}

func TestNodeRanges(t *testing.T) {
	topo := testTopology(t, ring.Options{})
	tests := map[string]Ranges{
		// a's smallest token 100 follows the rack's largest, 4000000000: it wraps.
		"a": {{4000000000, 100}, {1000000000, 2000000000}},
		"b": {{500, 1000000000}, {2000000000, 3000000000}, {3000000000, 4000000000}},
		"c": {{100, 500}},
		"d": {{42, 42}}, // alone in its rack: the whole ring
		"e": {{3221225472, 1}, {1, 2147483648}},
	}
	for name, want := range tests {
		got, err := NodeRanges(topo, name)
		require.NoError(t, err)
		require.Equal(t, want, got, "node %s", name)
	}
	_, err := NodeRanges(topo, "zz")
	require.ErrorContains(t, err, `node "zz"`)
}

// The ranges of the nodes of a rack agree with Topology.Owner on every
// token: a token is in exactly one node's ranges, and that node is its owner.
func TestNodeRangesAgreeWithOwner(t *testing.T) {
	topo := testTopology(t, ring.Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	toks := []ring.Token{0, 1, 2, 42, 43, 99, 100, 101, 500, 501, 1000000000, 3999999999, 4000000000, 4000000001, math.MaxUint32}
	for range 20000 {
		toks = append(toks, ring.Token(rng.Uint32()))
	}
	for dc := range topo.NumDCs() {
		for rk := range topo.NumRacks(dc) {
			owned := map[string]Ranges{}
			for _, n := range topo.RackNodes(dc, rk) {
				rs, err := NodeRanges(topo, n.Name)
				require.NoError(t, err)
				owned[n.Name] = rs
			}
			for _, tok := range toks {
				var in []string
				for name, rs := range owned {
					if rs.Contains(tok) {
						in = append(in, name)
					}
				}
				require.Equal(t, []string{topo.Owner(dc, rk, tok).Name}, in, "token %d in dc %d rack %d", tok, dc, rk)
			}
		}
	}
}

// KeyFilter agrees with Topology.Lookup on random keys, hash tag honoured.
func TestKeyFilterAgreesWithLookup(t *testing.T) {
	for _, opts := range []ring.Options{{}, {HashTag: "{}"}, {Hash: "crc32a", HashTag: "{}"}} {
		topo := testTopology(t, opts)
		rng := rand.New(rand.NewPCG(3, 4))
		for _, name := range []string{"a", "b", "c"} {
			rs, err := NodeRanges(topo, name)
			require.NoError(t, err)
			f := KeyFilter{Topo: topo, Ranges: rs}
			for i := range 5000 {
				key := []byte(fmt.Sprintf("user:%d:%d", rng.Uint64(), i))
				if i%3 == 0 {
					key = []byte(fmt.Sprintf("x%d{tag%d}y%d", i, rng.IntN(50), rng.Uint32()))
				}
				want := topo.Lookup(key, 0, 0).Name == name
				require.Equal(t, want, f.Match(key), "key %q node %s opts %+v", key, name, opts)
			}
		}
		if opts.HashTag != "" {
			f := KeyFilter{Topo: topo, Ranges: Ranges{{0, 0}}}
			require.False(t, f.Match([]byte("{}keyless")), "a key-less key is left out by default")
			f.Keyless = true
			require.True(t, f.Match([]byte("{}keyless")))
		}
	}
}
