package ring

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func node(name, dc, rack string, tokens ...Token) Node {
	return Node{Name: name, Addr: name + ":8101", DC: dc, Rack: rack, Tokens: tokens}
}

func mustTopology(tb testing.TB, local string, nodes []Node, opts Options) *Topology {
	tb.Helper()
	topo, err := NewTopology(local, nodes, opts)
	require.NoError(tb, err)
	return topo
}

func TestNewTopologyRejects(t *testing.T) {
	tests := map[string]struct {
		local   string
		nodes   []Node
		opts    Options
		wantIs  error
		wantErr string
	}{
		"no nodes at all": {
			local: "a", wantIs: ErrEmptyRing, wantErr: "no nodes",
		},
		"a local node that is not in the list": {
			local: "z", nodes: []Node{node("a", "dc1", "r1", 1)},
			wantIs: ErrUnknownLocal, wantErr: `"z"`,
		},
		"a node without tokens": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1), node("b", "dc1", "r1")},
			wantIs: ErrNoTokens, wantErr: `node "b" (dc "dc1", rack "r1")`,
		},
		"a local node without tokens": {
			local: "a", nodes: []Node{node("a", "dc1", "r1")},
			wantIs: ErrNoTokens, wantErr: `node "a"`,
		},
		"two nodes with the same token in one rack": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 100), node("b", "dc1", "r1", 200, 100)},
			wantIs:  ErrDuplicateToken,
			wantErr: `token 100 is claimed by node "a" and node "b" in dc "dc1", rack "r1"`,
		},
		"one node listing a token twice": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 7, 7)},
			wantIs: ErrDuplicateToken, wantErr: `node "a" lists token 7 twice`,
		},
		"a node without a name": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1), node("", "dc1", "r1", 2)},
			wantIs: ErrInvalidNode, wantErr: "node 1 has no name",
		},
		"a node without a datacenter": {
			local: "a", nodes: []Node{node("a", "", "r1", 1)},
			wantIs: ErrInvalidNode, wantErr: `node "a" has no datacenter`,
		},
		"a node without a rack": {
			local: "a", nodes: []Node{node("a", "dc1", "", 1)},
			wantIs: ErrInvalidNode, wantErr: `node "a" has no rack`,
		},
		"a name used twice": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1), node("a", "dc1", "r2", 2)},
			wantIs: ErrInvalidNode, wantErr: `node name "a" is used twice`,
		},
		"another node marked local": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1), {Name: "b", DC: "dc1", Rack: "r1", Tokens: []Token{2}, Local: true}},
			wantIs: ErrInvalidNode, wantErr: `node "b" is marked local but the local node is "a"`,
		},
		"an unknown hash": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1)}, opts: Options{Hash: "Murmur"},
			wantIs: ErrUnknownHash, wantErr: `"Murmur"`,
		},
		"a one-byte hash tag": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1)}, opts: Options{HashTag: "{"},
			wantIs: ErrInvalidHashTag, wantErr: `"{": want two bytes`,
		},
		"a three-byte hash tag": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1)}, opts: Options{HashTag: "{}}"},
			wantIs: ErrInvalidHashTag,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			topo, err := NewTopology(tc.local, tc.nodes, tc.opts)
			require.ErrorIs(t, err, tc.wantIs)
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, topo)
		})
	}
}

func TestNewTopologyAccepts(t *testing.T) {
	tests := map[string]struct {
		local string
		nodes []Node
		opts  Options
	}{
		"the same token in two racks": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 100), node("b", "dc1", "r2", 100)},
		},
		"the same token in two datacenters": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 100), node("b", "dc2", "r1", 100)},
		},
		"the local node already marked local": {
			local: "a", nodes: []Node{{Name: "a", DC: "d", Rack: "r", Tokens: []Token{1}, Local: true}},
		},
		"every upstream hash name": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1)}, opts: Options{Hash: "one_at_a_time"},
		},
		"a hash tag of two equal bytes": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 1)}, opts: Options{HashTag: "::"},
		},
		"tokens at both ends of the range": {
			local: "a", nodes: []Node{node("a", "dc1", "r1", 0), node("b", "dc1", "r1", MaxToken)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewTopology(tc.local, tc.nodes, tc.opts)
			require.NoError(t, err)
		})
	}
}

func TestOwnerMatchesVnodeDispatch(t *testing.T) {
	three := []Node{node("a", "dc", "r", 100), node("b", "dc", "r", 200), node("c", "dc", "r", 300)}
	ends := []Node{node("lo", "dc", "r", 0), node("mid", "dc", "r", 1<<31), node("hi", "dc", "r", MaxToken)}
	single := []Node{node("only", "dc", "r", 5000)}
	tests := map[string]struct {
		nodes []Node
		key   Token
		want  string
	}{
		"a key equal to a node token belongs to that node":      {three, 200, "b"},
		"a key equal to the smallest token belongs to it":       {three, 100, "a"},
		"a key equal to the largest token belongs to it":        {three, 300, "c"},
		"a key between two tokens belongs to the next one":      {three, 150, "b"},
		"a key just above a token belongs to the next one":      {three, 201, "c"},
		"a key just below a token belongs to it":                {three, 299, "c"},
		"key 0 belongs to the smallest token":                   {three, 0, "a"},
		"a key below the smallest token belongs to it":          {three, 99, "a"},
		"a key just above the largest token wraps to the first": {three, 301, "a"},
		"key max uint32 wraps to the smallest token":            {three, MaxToken, "a"},
		"key 0 equal to token 0 belongs to it":                  {ends, 0, "lo"},
		"key 1 goes past token 0 to the next":                   {ends, 1, "mid"},
		"key max uint32 equal to token max belongs to it":       {ends, MaxToken, "hi"},
		"a key just below max belongs to the max token":         {ends, MaxToken - 1, "hi"},
		"a single node owns key 0":                              {single, 0, "only"},
		"a single node owns a key equal to its token":           {single, 5000, "only"},
		"a single node owns a key between":                      {single, 4999, "only"},
		"a single node owns a key above its token":              {single, 5001, "only"},
		"a single node owns key max uint32":                     {single, MaxToken, "only"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			topo := mustTopology(t, tc.nodes[0].Name, tc.nodes, Options{})
			got := topo.Owner(0, 0, tc.key)
			require.NotNil(t, got)
			require.Equal(t, tc.want, got.Name)
			require.Equal(t, tc.want, vnodeDispatchReference(topo.dcs[0].racks[0], tc.key).Name)
		})
	}
}

func TestOwnerWithSeveralTokensPerNode(t *testing.T) {
	nodes := []Node{
		node("a", "dc", "r", 300, 100), // tokens given out of order on purpose
		node("b", "dc", "r", 200, 400),
		node("c", "dc", "r", 250),
	}
	topo := mustTopology(t, "a", nodes, Options{})
	tests := map[string]struct {
		key  Token
		want string
	}{
		"below everything goes to the node with the smallest token": {50, "a"},
		"the first token of a":                   {100, "a"},
		"between a's first and b's first":        {150, "b"},
		"between b's first and c":                {220, "c"},
		"between c and a's second token":         {260, "a"},
		"equal to a's second token":              {300, "a"},
		"between a's second and b's second":      {350, "b"},
		"above b's second token wraps around":    {401, "a"},
		"key max uint32 wraps to smallest owner": {MaxToken, "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, topo.Owner(0, 0, tc.key).Name)
		})
	}
	require.Equal(t, []Token{100, 300}, topo.NodeByName("a").Tokens, "the topology keeps sorted tokens")
	require.Equal(t, []Token{300, 100}, nodes[0].Tokens, "the caller's slice is not touched")
}

// vnodeDispatchReference follows upstream's vnode_dispatch step by step: a
// key above the last token or at or below the first goes to the first;
// otherwise a binary search that returns early on equality and otherwise
// narrows to the first token >= key.
func vnodeDispatchReference(r rack, key Token) *Node {
	left, right := 0, len(r.tokens)-1
	if r.tokens[right] < key || r.tokens[left] >= key {
		return r.owners[left]
	}
	for left < right {
		mid := left + (right-left)/2
		switch {
		case r.tokens[mid] == key:
			return r.owners[mid]
		case r.tokens[mid] < key:
			left = mid + 1
		default:
			right = mid
		}
	}
	return r.owners[right]
}

// linearOwner is the brute-force definition: the smallest token >= key, or,
// if there is none, the smallest token of all.
func linearOwner(nodes []Node, key Token) string {
	best, bestTok, found := "", Token(0), false
	first, firstTok := "", MaxToken
	for _, n := range nodes {
		for _, tok := range n.Tokens {
			if tok >= key && (!found || tok < bestTok) {
				best, bestTok, found = n.Name, tok, true
			}
			if first == "" || tok < firstTok {
				first, firstTok = n.Name, tok
			}
		}
	}
	if !found {
		return first
	}
	return best
}

func TestOwnerAgreesWithLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for ring := range 400 {
		// Small rings with small token ranges force collisions with keys;
		// larger ones cover the full range.
		span := uint32(1) << (4 + rng.IntN(28))
		used := map[Token]bool{}
		var nodes []Node
		for i := range 1 + rng.IntN(20) {
			n := node(fmt.Sprintf("n%d", i), "dc", "r")
			for range 1 + rng.IntN(4) {
				tok := Token(rng.Uint32N(span))
				if rng.IntN(10) == 0 {
					tok = MaxToken - Token(rng.Uint32N(3))
				}
				if !used[tok] {
					used[tok] = true
					n.Tokens = append(n.Tokens, tok)
				}
			}
			if len(n.Tokens) > 0 {
				nodes = append(nodes, n)
			}
		}
		topo := mustTopology(t, nodes[0].Name, nodes, Options{})
		keys := []Token{0, 1, MaxToken, MaxToken - 1}
		for tok := range used {
			keys = append(keys, tok, tok-1, tok+1) // wraps at the ends on purpose
		}
		for range 100 {
			keys = append(keys, Token(rng.Uint32N(span+span/4+1)), Token(rng.Uint32()))
		}
		for _, key := range keys {
			want := linearOwner(nodes, key)
			require.Equal(t, want, topo.Owner(0, 0, key).Name, "ring %d key %d tokens %v", ring, key, nodes)
			require.Equal(t, want, vnodeDispatchReference(topo.dcs[0].racks[0], key).Name, "ring %d key %d", ring, key)
		}
	}
}

// threeDCs is a 3-DC cluster with uneven racks. The local node is "a3-1",
// in rack "r3" of "dc-a", the third of dc-a's racks by name.
func threeDCs() []Node {
	return []Node{
		node("c-p", "dc-c", "p", 10), node("c-q", "dc-c", "q", 10), node("c-r", "dc-c", "r", 10), node("c-s", "dc-c", "s", 10),
		node("a3-1", "dc-a", "r3", 100), node("a3-2", "dc-a", "r3", 200),
		node("a1-1", "dc-a", "r1", 150), node("a1-2", "dc-a", "r1", 250),
		node("a2-1", "dc-a", "r2", 100),
		node("b-x", "dc-b", "x", 1000), node("b-y", "dc-b", "y", 1000),
		node("d-only", "dc-d", "only", 7),
	}
}

func TestTopologyAccessors(t *testing.T) {
	topo := mustTopology(t, "a3-1", threeDCs(), Options{})

	require.Equal(t, 4, topo.NumDCs())
	var dcs []string
	for d := range topo.NumDCs() {
		dcs = append(dcs, topo.DCName(d))
	}
	require.Equal(t, []string{"dc-a", "dc-b", "dc-c", "dc-d"}, dcs, "datacenters are sorted by name")

	a := topo.DCIndex("dc-a")
	require.Equal(t, 0, a)
	require.Equal(t, 3, topo.NumRacks(a))
	require.Equal(t, []string{"r1", "r2", "r3"}, []string{topo.RackName(a, 0), topo.RackName(a, 1), topo.RackName(a, 2)})
	require.Equal(t, 4, topo.NumRacks(topo.DCIndex("dc-c")))

	local := topo.Local()
	require.Equal(t, "a3-1", local.Name)
	require.True(t, local.Local)
	require.Equal(t, 4, local.Index)
	require.Equal(t, a, topo.LocalDC())
	require.Equal(t, 2, topo.LocalRack())
	require.Equal(t, local.DCIndex, topo.LocalDC())
	require.Equal(t, local.RackIndex, topo.LocalRack())

	for i, n := range topo.Nodes() {
		require.Equal(t, i, n.Index)
		require.Equal(t, n.Name == "a3-1", n.Local)
		require.Equal(t, n.DC, topo.DCName(n.DCIndex))
		require.Equal(t, n.Rack, topo.RackName(n.DCIndex, n.RackIndex))
		require.Same(t, topo.Node(i), topo.NodeByName(n.Name))
	}

	var r1 []string
	for _, n := range topo.RackNodes(a, topo.RackIndex(a, "r1")) {
		r1 = append(r1, n.Name)
	}
	require.Equal(t, []string{"a1-1", "a1-2"}, r1)

	require.Equal(t, "murmur", topo.HashName())
	_, hasTag := topo.HashTag()
	require.False(t, hasTag)
}

func TestTopologyIndicesOutOfRange(t *testing.T) {
	topo := mustTopology(t, "a3-1", threeDCs(), Options{})
	require.Nil(t, topo.Node(-1))
	require.Nil(t, topo.Node(len(topo.Nodes())))
	require.Nil(t, topo.NodeByName("nope"))
	require.Equal(t, -1, topo.DCIndex("nope"))
	require.Equal(t, "", topo.DCName(9))
	require.Equal(t, 0, topo.NumRacks(-1))
	require.Equal(t, "", topo.RackName(0, 9))
	require.Equal(t, -1, topo.RackIndex(0, "nope"))
	require.Equal(t, -1, topo.RackIndex(9, "r1"))
	require.Nil(t, topo.RackNodes(0, 9))
	require.Nil(t, topo.Owner(9, 0, 1))
	require.Nil(t, topo.Owner(0, -1, 1))
	require.Nil(t, topo.Lookup([]byte("k"), 0, 9))
	require.Equal(t, -1, topo.PreselectedRack(9))
	require.Nil(t, topo.RemoteRackOrder(-1))
	require.Empty(t, topo.RackOwners(9, 1, nil))
	require.Empty(t, topo.RemoteOwners(9, 1, nil))
}

func TestRemoteRackPreselection(t *testing.T) {
	tests := map[string]struct {
		local     string
		dc        string
		wantPre   string
		wantOrder []string
	}{
		"the local datacenter has no preselected rack": {
			local: "a3-1", dc: "dc-a", wantPre: "",
		},
		"local rack index 2 of 3 picks rack 2 mod 2 = 0 in a 2-rack DC": {
			local: "a3-1", dc: "dc-b", wantPre: "x", wantOrder: []string{"x", "y"},
		},
		"local rack index 2 picks rack 2 in a 4-rack DC, failover in name order": {
			local: "a3-1", dc: "dc-c", wantPre: "r", wantOrder: []string{"r", "p", "q", "s"},
		},
		"a 1-rack DC always gets its only rack": {
			local: "a3-1", dc: "dc-d", wantPre: "only", wantOrder: []string{"only"},
		},
		"local rack index 0 picks the first rack": {
			local: "a1-1", dc: "dc-c", wantPre: "p", wantOrder: []string{"p", "q", "r", "s"},
		},
		"local rack index 1 picks rack 1 in a 2-rack DC": {
			local: "a2-1", dc: "dc-b", wantPre: "y", wantOrder: []string{"y", "x"},
		},
		"a node in a 1-rack DC has index 0 everywhere": {
			local: "d-only", dc: "dc-c", wantPre: "p", wantOrder: []string{"p", "q", "r", "s"},
		},
		"a node in rack index 3 of dc-c picks 3 mod 3 = 0 in dc-a": {
			local: "c-s", dc: "dc-a", wantPre: "r1", wantOrder: []string{"r1", "r2", "r3"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			topo := mustTopology(t, tc.local, threeDCs(), Options{})
			d := topo.DCIndex(tc.dc)
			pre := topo.PreselectedRack(d)
			if tc.wantPre == "" {
				require.Equal(t, -1, pre)
				require.Nil(t, topo.RemoteRackOrder(d))
				require.Empty(t, topo.RemoteOwners(d, 1, nil))
				return
			}
			require.Equal(t, tc.wantPre, topo.RackName(d, pre))
			var order []string
			for _, r := range topo.RemoteRackOrder(d) {
				order = append(order, topo.RackName(d, r))
			}
			require.Equal(t, tc.wantOrder, order)

			var owners []string
			for _, n := range topo.RemoteOwners(d, 1, nil) {
				owners = append(owners, n.Rack)
			}
			require.Equal(t, tc.wantOrder, owners, "RemoteOwners follows RemoteRackOrder")
		})
	}
}

func TestRacksSortByteWise(t *testing.T) {
	// Upstream sorts racks with a comparator that calls every pair of
	// different-length names "greater", so its order for such names is up to
	// qsort; plain byte order is the only stable reading, and it agrees with
	// upstream whenever rack names in a DC have equal lengths.
	nodes := []Node{
		node("n10", "dc", "rack10", 1), node("n2", "dc", "rack2", 1), node("n1", "dc", "rack1", 1),
		node("nB", "dc", "Rack", 1),
	}
	topo := mustTopology(t, "n1", nodes, Options{})
	var racks []string
	for r := range topo.NumRacks(0) {
		racks = append(racks, topo.RackName(0, r))
	}
	require.Equal(t, []string{"Rack", "rack1", "rack10", "rack2"}, racks)
}

func TestReplicasForToken(t *testing.T) {
	topo := mustTopology(t, "a3-1", threeDCs(), Options{})
	require.Equal(t, 3+3, topo.NumReplicas())

	dst := make([]*Node, 0, topo.NumReplicas())
	got := topo.ReplicasForToken(120, dst)
	var names []string
	for _, n := range got {
		names = append(names, n.Name)
	}
	// dc-a: in r1 the first token >= 120 is a1-1's 150; r2 only has 100, so
	// 120 wraps to a2-1; in r3 it is a3-2's 200. Then the preselected racks
	// (local rack index 2): dc-b's x (2 mod 2), dc-c's r (2 mod 4), dc-d's
	// only rack.
	require.Equal(t, []string{"a1-1", "a2-1", "a3-2", "b-x", "c-r", "d-only"}, names)
	require.Same(t, firstSlot(dst), firstSlot(got), "the caller's buffer is reused")

	local := topo.LocalReplicas(120, nil)
	require.Len(t, local, 3)
	require.Equal(t, "a3-2", local[topo.LocalRack()].Name, "element LocalRack is the local rack's owner")

	all := topo.RackOwners(topo.DCIndex("dc-c"), 5, nil)
	require.Len(t, all, 4)

	require.Zero(t, testing.AllocsPerRun(100, func() { dst = topo.ReplicasForToken(120, dst) }))
	remote := make([]*Node, 0, 4)
	require.Zero(t, testing.AllocsPerRun(100, func() { remote = topo.RemoteOwners(2, 120, remote) }))
}

func firstSlot(s []*Node) **Node { return &s[:1][0] }

func TestLookup(t *testing.T) {
	nodes := []Node{
		node("a1", "dc", "r1", 1<<30), node("a2", "dc", "r1", 2<<30), node("a3", "dc", "r1", 3<<30),
		node("b1", "dc", "r2", 1<<29), node("b2", "dc", "r2", 3<<29),
	}
	tagged := mustTopology(t, "a2", nodes, Options{HashTag: "{}"})
	plain := mustTopology(t, "a2", nodes, Options{})
	crc := mustTopology(t, "a2", nodes, Options{Hash: "crc32a"})
	r2 := tagged.RackIndex(0, "r2")

	tests := map[string]struct {
		topo   *Topology
		key    string
		nilKey bool
		want   Token // the token the owner is looked up with
		// wantLocal: the key is key-less and must go to the local node.
		wantLocal bool
	}{
		"a nil key goes to the local node":                         {topo: tagged, nilKey: true, wantLocal: true},
		"an empty key goes to the local node":                      {topo: tagged, key: "", wantLocal: true},
		"an empty hash tag goes to the local node":                 {topo: tagged, key: "{}foo", wantLocal: true},
		"a key hashes its tag part":                                {topo: tagged, key: "user:{1000}:profile", want: Token(murmur([]byte("1000")))},
		"a key without a tag hashes whole":                         {topo: tagged, key: "user:1000", want: Token(murmur([]byte("user:1000")))},
		"without a configured tag braces are ordinary bytes":       {topo: plain, key: "{}foo", want: Token(murmur([]byte("{}foo")))},
		"without a configured tag the whole key is hashed":         {topo: plain, key: "user:{1000}:profile", want: Token(murmur([]byte("user:{1000}:profile")))},
		"the configured hash is used":                              {topo: crc, key: "user:1000", want: Token(crc32a([]byte("user:1000")))},
		"an unclosed tag hashes the whole key with the tag option": {topo: tagged, key: "{user", want: Token(murmur([]byte("{user")))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var key []byte
			if !tc.nilKey {
				key = []byte(tc.key)
			}
			tok, ok := tc.topo.KeyToken(key)
			require.Equal(t, !tc.wantLocal, ok)
			for rack := range tc.topo.NumRacks(0) {
				got := tc.topo.Lookup(key, 0, rack)
				if tc.wantLocal {
					require.Same(t, tc.topo.Local(), got, "rack %d", rack)
					continue
				}
				require.Equal(t, tc.want, tok)
				require.Same(t, tc.topo.Owner(0, rack, tc.want), got, "rack %d", rack)
			}
		})
	}
	// The same tag content lands on the same node whatever surrounds it.
	require.Same(t, tagged.Lookup([]byte("{42}a"), 0, r2), tagged.Lookup([]byte("b{42}c"), 0, r2))
}

func TestLookupDoesNotAllocate(t *testing.T) {
	topo := benchTopology(t)
	key := []byte("user:{1000}:profile")
	require.Zero(t, testing.AllocsPerRun(1000, func() { _ = topo.Lookup(key, 1, 2) }))
	require.Zero(t, testing.AllocsPerRun(1000, func() { _ = topo.Lookup(nil, 1, 2) }))
}

func TestTopologyIsSafeToSwapUnderConcurrentLookups(t *testing.T) {
	var cur atomic.Pointer[Topology]
	first := benchTopology(t)
	cur.Store(first)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []byte(fmt.Sprintf("key:%d", g))
			buf := make([]*Node, 0, 8)
			for {
				select {
				case <-stop:
					return
				default:
				}
				topo := cur.Load()
				if topo.Lookup(key, topo.LocalDC(), topo.LocalRack()) == nil {
					t.Error("nil owner")
					return
				}
				tok, _ := topo.KeyToken(key)
				buf = topo.ReplicasForToken(tok, buf)
			}
		}()
	}
	for i := range 50 {
		nodes := slices.Clone(first.Nodes())
		nodes[i%len(nodes)].Tokens = []Token{Token(i) * 7}
		next, err := NewTopology(first.Local().Name, nodes, Options{HashTag: "{}"})
		if err != nil {
			continue // a token collision in this rack; try the next one
		}
		cur.Store(next)
	}
	close(stop)
	wg.Wait()
}
