package proxy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/hints"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// The tests of scale plans run real redis-servers behind the nodes and
// tell the two sides of a move apart by what each side's datastore holds:
// a value put straight into one owner's Redis, behind the cluster's back,
// shows which owner answered a read.

// Tokens of the moving tests: the first node of a rack owns the whole ring
// alone (maxTok); a node with halfTok takes over the lower half.
const (
	halfTok = "2147483647"
	maxTok  = "4294967295"
)

// movingCluster is hintedCluster with room for extra nodes added later
// (Cluster.Add), each with a hint directory of its own.
func movingCluster(t *testing.T, extra int, specs ...string) *proxytest.Cluster {
	t.Helper()
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	t.Cleanup(SetHintPoll(20 * time.Millisecond))
	dirs := make([]string, len(specs)+extra)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	return proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Placements(t, specs...), Datastore: proxytest.RealDatastore,
		Options: func(i int, o *Options) { o.HintsDir = dirs[i]; o.HintsFsync = hints.FsyncNever }})
}

// installPlan installs p on every running node of c, as the orchestrator
// does phase by phase.
func installPlan(t *testing.T, c *proxytest.Cluster, p ScalePlan) {
	t.Helper()
	for i, n := range c.Nodes {
		if n.Node == nil || !n.Running() {
			continue
		}
		require.NoError(t, n.Server.SetScalePlan(&p), "node %d, phase %s", i, p.Phase)
		got := n.Server.ScalePlan()
		require.NotNil(t, got)
		require.Equal(t, p.Phase, got.Phase)
	}
}

// lowerHalfKey returns a key whose token is at most halfTok: the range a
// node with halfTok takes over from (or hands back to) the node with maxTok.
func lowerHalfKey(t *testing.T, topo *ring.Topology, prefix string) string {
	t.Helper()
	for i := range 100000 {
		k := fmt.Sprintf("%s%d", prefix, i)
		if tok, ok := topo.KeyToken([]byte(k)); ok && tok <= 2147483647 {
			return k
		}
	}
	t.Fatalf("no key %s<n> below the half of the ring", prefix)
	return ""
}

func bulkOf(v string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(v), v) }

// waitHolds waits until node i's datastore holds key = v.
func waitHolds(t *testing.T, c *proxytest.Cluster, i int, key, v string) {
	t.Helper()
	proxytest.Eventually(t, 10*time.Second, func() bool { return c.Direct(i, "GET", key) == bulkOf(v) },
		"node %d's datastore never got %s=%s (it has %q)", i, key, v, c.Direct(i, "GET", key))
}

// stateOf is the ring state node i gives the node called name, or "absent".
func stateOf(c *proxytest.Cluster, i int, name string) string {
	n := c.Nodes[i].Server.Topology().NodeByName(name)
	if n == nil {
		return "absent"
	}
	return n.State.String()
}

// writesReachAll SETs key through every node of c, at DC_QUORUM, and waits
// until the datastores of holders have each value.
func writesReachAll(t *testing.T, c *proxytest.Cluster, key, tag string, holders ...int) {
	t.Helper()
	for i := range c.Nodes {
		v := fmt.Sprintf("%s-via-%d", tag, i)
		require.Equal(t, "+OK\r\n", c.Client(i, "DC_QUORUM").Do("SET", key, v), "via node %d", i)
		for _, holder := range holders {
			waitHolds(t, c, holder, key, v)
		}
	}
}

// writesLeaveOut SETs key through each node of vias, at DC_QUORUM, waits
// until the datastores of holders have each value, and checks that node
// out's datastore never gets one: it keeps a value put there first.
func writesLeaveOut(t *testing.T, c *proxytest.Cluster, key, tag string, out int, vias, holders []int) {
	t.Helper()
	require.Equal(t, "+OK\r\n", c.Direct(out, "SET", key, "left-out"))
	for _, via := range vias {
		v := fmt.Sprintf("%s-via-%d", tag, via)
		require.Equal(t, "+OK\r\n", c.Client(via, "DC_QUORUM").Do("SET", key, v), "via node %d", via)
		for _, holder := range holders {
			waitHolds(t, c, holder, key, v)
		}
		require.Equal(t, bulkOf("left-out"), c.Direct(out, "GET", key), "via node %d: node %d got a copy", via, out)
	}
}

// readsFrom puts a different value for key in the datastores of the two
// sides of a move in one rack (nodes x and y), behind the cluster's back,
// and checks that a DC_ONE GET through either node is answered by owner's.
func readsFrom(t *testing.T, c *proxytest.Cluster, key string, owner, x, y int) {
	t.Helper()
	for _, i := range []int{x, y} {
		require.Equal(t, "+OK\r\n", c.Direct(i, "SET", key, fmt.Sprintf("side-%d", i)))
	}
	for _, via := range []int{x, y} {
		require.Equal(t, bulkOf(fmt.Sprintf("side-%d", owner)), c.Client(via, "").Do("GET", key), "GET via node %d", via)
	}
}

func TestScaleOutMovesWritesAndThenReads(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// 0: A dc1/r1, 1: B dc1/r2, 2: C dc2/r1 — each alone in its rack; the
	// joining 3: J1 dc1/r1 and 4: J2 dc2/r1 take over the lower half
	c := movingCluster(t, 2, "dc1/r1/"+maxTok, "dc1/r2/0", "dc2/r1/"+maxTok)
	const a, b, cc, j1, j2 = 0, 1, 2, 3, 4
	c.Add(proxytest.Placement{DC: "dc1", Rack: "r1", Token: 2147483647})
	c.Add(proxytest.Placement{DC: "dc2", Rack: "r1", Token: 2147483647})
	plan := ScalePlan{ID: "out-1", Join: []string{c.Nodes[j1].DynAddr, c.Nodes[j2].DynAddr}, Phase: ScaleDual}

	// the plan reaches the running nodes before the seed provider lists the
	// new nodes: nothing moves yet
	installPlan(t, c, plan)
	for i := range 3 {
		require.False(t, c.Nodes[i].Server.Topology().Moving(), "node %d", i)
		require.Equal(t, "absent", stateOf(c, i, c.Nodes[j1].DynAddr))
	}
	poolB := c.Nodes[a].Server.PeerPool(c.Nodes[b].DynAddr)
	require.NotNil(t, poolB)

	// the new nodes start, get the plan, and the membership lists them
	c.Start(j1)
	c.Start(j2)
	installPlan(t, c, plan)
	for i := range 3 {
		require.NoError(t, c.Nodes[i].Server.UpdatePeers(c.PeersOf(i)))
	}
	c.WaitAllUp()
	for i := range c.Nodes {
		require.Equal(t, "joining", stateOf(c, i, c.Nodes[j1].DynAddr), "node %d", i)
		require.Equal(t, "joining", stateOf(c, i, c.Nodes[j2].DynAddr), "node %d", i)
		require.Equal(t, "normal", stateOf(c, i, c.Nodes[a].DynAddr), "node %d", i)
	}
	require.Same(t, poolB, c.Nodes[a].Server.PeerPool(c.Nodes[b].DynAddr), "an unchanged peer keeps its pool")
	poolJ1 := c.Nodes[a].Server.PeerPool(c.Nodes[j1].DynAddr)
	require.NotNil(t, poolJ1)

	key := lowerHalfKey(t, c.Nodes[a].Server.Topology(), "move")
	other := "upper"
	for i := 0; ; i++ { // a key that stays with A
		other = fmt.Sprintf("upper%d", i)
		if tok, _ := c.Nodes[a].Server.Topology().KeyToken([]byte(other)); tok > 2147483647 {
			break
		}
	}

	t.Run("dual: writes reach both owners, reads the old one", func(t *testing.T) {
		writesReachAll(t, c, key, "dual", a, b, cc, j1, j2)
		readsFrom(t, c, key, a, a, j1)
		// a key that does not move has no extra copy
		require.Equal(t, "+OK\r\n", c.Client(b, "DC_QUORUM").Do("SET", other, "stays"))
		waitHolds(t, c, a, other, "stays")
		waitHolds(t, c, cc, other, "stays")
		require.Equal(t, "$-1\r\n", c.Direct(j1, "GET", other))
		require.Equal(t, "$-1\r\n", c.Direct(j2, "GET", other))
	})

	t.Run("dual: MSET and DEL split per owner reach the joining node", func(t *testing.T) {
		cl := c.Client(b, "DC_QUORUM")
		// both keys have the same owners before the move; the one that
		// does not move comes first, so a fragment routed by its first key
		// would miss the joining owners of the other
		require.Equal(t, "+OK\r\n", cl.Do("MSET", other, "m2", key, "m1"))
		for _, holder := range []int{a, j1, j2} {
			waitHolds(t, c, holder, key, "m1")
		}
		waitHolds(t, c, a, other, "m2")
		require.Equal(t, "$-1\r\n", c.Direct(j1, "GET", other))
		require.Equal(t, ":2\r\n", cl.Do("DEL", key, other))
		for _, holder := range []int{a, b, j1, j2} {
			proxytest.Eventually(t, 10*time.Second, func() bool { return c.Direct(holder, "GET", key) == "$-1\r\n" },
				"node %d kept %s after DEL", holder, key)
		}
	})

	t.Run("dual: an extra owner down neither fails DC_QUORUM nor loses the write", func(t *testing.T) {
		require.True(t, c.Nodes[a].Server.SetPeerDown(c.Nodes[j1].DynAddr, true))
		for i := range 5 {
			v := fmt.Sprintf("while-down-%d", i)
			require.Equal(t, "+OK\r\n", c.Client(a, "DC_QUORUM").Do("SET", key, v))
			require.Equal(t, "+OK\r\n", c.Client(a, "DC_SAFE_QUORUM").Do("SET", key, v))
		}
		waitPending(t, c, a, j1, 10)
		require.NotEqual(t, bulkOf("while-down-4"), c.Direct(j1, "GET", key), "the peer marked down got a copy")
		require.True(t, c.Nodes[a].Server.SetPeerDown(c.Nodes[j1].DynAddr, false))
		waitHolds(t, c, j1, key, "while-down-4") // the hints replayed

		c.Stop(j1)
		require.Equal(t, "+OK\r\n", c.Client(b, "DC_QUORUM").Do("SET", key, "j1-stopped"))
		waitHolds(t, c, a, key, "j1-stopped")
		c.Start(j1)
		installPlan(t, c, plan) // the orchestrator pushes it again to a restarted node
		c.WaitAllUp()
		waitHolds(t, c, j1, key, "j1-stopped") // B's hint
	})

	t.Run("switched: reads from the new owner, writes still reach both", func(t *testing.T) {
		plan.Phase = ScaleSwitched
		installPlan(t, c, plan)
		require.Same(t, poolB, c.Nodes[a].Server.PeerPool(c.Nodes[b].DynAddr))
		require.Same(t, poolJ1, c.Nodes[a].Server.PeerPool(c.Nodes[j1].DynAddr))
		readsFrom(t, c, key, j1, a, j1)
		writesReachAll(t, c, key, "switched", a, b, cc, j1, j2)
	})

	t.Run("done: the new owner alone", func(t *testing.T) {
		plan.Phase = ScaleDone
		installPlan(t, c, plan)
		for i := range c.Nodes {
			require.False(t, c.Nodes[i].Server.Topology().Moving(), "node %d", i)
			require.Equal(t, "normal", stateOf(c, i, c.Nodes[j1].DynAddr), "node %d", i)
		}
		writesLeaveOut(t, c, key, "done", a, []int{a, b, cc, j1, j2}, []int{b, j1, j2})
		require.Same(t, poolB, c.Nodes[a].Server.PeerPool(c.Nodes[b].DynAddr))
	})

	c.Close()
}

func TestScaleOutAbortedExcludesTheJoiningNode(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, _ := hintedCluster(t, "dc1/r1/"+maxTok, "dc1/r2/0", "dc1/r1/"+halfTok)
	const a, b, j = 0, 1, 2
	plan := ScalePlan{ID: "out-2", Join: []string{c.Nodes[j].DynAddr}, Phase: ScaleDual}
	installPlan(t, c, plan)
	key := lowerHalfKey(t, c.Nodes[a].Server.Topology(), "ab")
	require.Equal(t, "+OK\r\n", c.Client(b, "DC_QUORUM").Do("SET", key, "dual"))
	waitHolds(t, c, j, key, "dual")
	waitHolds(t, c, a, key, "dual")
	// a watched transaction commits on its owner (A) and is replicated to
	// the other racks and to the joining owner
	tx := c.Client(a, "")
	for _, cmd := range [][]string{{"WATCH", key}, {"MULTI"}} {
		require.Equal(t, "+OK\r\n", tx.Do(cmd...))
	}
	require.Equal(t, "+QUEUED\r\n", tx.Do("SET", key, "tx"))
	require.Equal(t, "*1\r\n+OK\r\n", tx.Do("EXEC"))
	waitHolds(t, c, b, key, "tx")
	waitHolds(t, c, j, key, "tx")
	require.Equal(t, "+OK\r\n", c.Client(b, "DC_QUORUM").Do("SET", key, "dual"))
	waitHolds(t, c, j, key, "dual")
	poolB := c.Nodes[a].Server.PeerPool(c.Nodes[b].DynAddr)

	plan.Phase = ScaleAborted
	installPlan(t, c, plan)
	for i := range 2 {
		require.Equal(t, "absent", stateOf(c, i, c.Nodes[j].DynAddr), "node %d", i)
		require.Nil(t, c.Nodes[i].Server.PeerPool(c.Nodes[j].DynAddr), "node %d kept a pool to the aborted node", i)
		require.False(t, c.Nodes[i].Server.Topology().Moving())
	}
	require.Same(t, poolB, c.Nodes[a].Server.PeerPool(c.Nodes[b].DynAddr))
	// the aborted node keeps itself, on the side reads do not use
	require.Equal(t, "joining", stateOf(c, j, c.Nodes[j].DynAddr))

	// the membership still lists it: it stays out
	for i := range 2 {
		require.NoError(t, c.Nodes[i].Server.UpdatePeers(c.PeersOf(i)))
		require.Equal(t, "absent", stateOf(c, i, c.Nodes[j].DynAddr), "node %d", i)
	}
	writesLeaveOut(t, c, key, "aborted", j, []int{a, b}, []int{a, b})
	// reads through the aborted node itself come from the old owner
	require.Equal(t, "+OK\r\n", c.Direct(j, "SET", key, "stale"))
	require.Equal(t, bulkOf("aborted-via-1"), c.Client(j, "").Do("GET", key))

	// removing the plan puts the listed node back as a normal owner
	for i := range c.Nodes {
		require.NoError(t, c.Nodes[i].Server.SetScalePlan(nil))
		require.Nil(t, c.Nodes[i].Server.ScalePlan())
		require.Equal(t, "normal", stateOf(c, i, c.Nodes[j].DynAddr), "node %d", i)
	}
	c.Close()
}

func TestScaleInMovesTheLeavingNodesRanges(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// 0: A dc1/r1 stays, 1: B dc1/r2, 2: L dc1/r1 leaves (the lower half)
	c, _ := hintedCluster(t, "dc1/r1/"+maxTok, "dc1/r2/0", "dc1/r1/"+halfTok)
	const a, b, l = 0, 1, 2
	key := lowerHalfKey(t, c.Nodes[a].Server.Topology(), "in")
	plan := ScalePlan{ID: "in-1", Leave: []string{c.Nodes[l].DynAddr}, Phase: ScaleDual}
	installPlan(t, c, plan)
	for i := range c.Nodes {
		require.Equal(t, "leaving", stateOf(c, i, c.Nodes[l].DynAddr), "node %d", i)
	}
	t.Run("dual", func(t *testing.T) {
		writesReachAll(t, c, key, "dual", a, b, l)
		readsFrom(t, c, key, l, a, l)
	})
	t.Run("switched", func(t *testing.T) {
		plan.Phase = ScaleSwitched
		installPlan(t, c, plan)
		readsFrom(t, c, key, a, a, l)
		writesReachAll(t, c, key, "switched", a, b, l)
	})
	t.Run("done", func(t *testing.T) {
		plan.Phase = ScaleDone
		installPlan(t, c, plan)
		for i := range 2 {
			require.Equal(t, "absent", stateOf(c, i, c.Nodes[l].DynAddr), "node %d", i)
		}
		writesLeaveOut(t, c, key, "done", l, []int{a, b}, []int{a, b})
		// the node that left still serves its clients from the new owner
		require.Equal(t, bulkOf("done-via-1"), c.Client(l, "").Do("GET", key))
	})
	c.Close()
}

func TestSetScalePlanRefusesBadPlans(t *testing.T) {
	c := fakeCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r2/100"}, nil)
	s := c.Nodes[0].Server
	good := ScalePlan{ID: "ok", Join: []string{c.Nodes[2].DynAddr}, Phase: ScaleDual}
	require.NoError(t, s.SetScalePlan(&good))
	for name, tc := range map[string]struct {
		plan ScalePlan
		want string
	}{
		"an unknown phase": {ScalePlan{ID: "p", Phase: "halfway"},
			`scale plan "p": unknown phase "halfway"`},
		"a node both joining and leaving": {ScalePlan{ID: "p", Join: []string{"x"}, Leave: []string{"x"}, Phase: ScaleDual},
			`scale plan "p": node "x" is both joining and leaving`},
		"an empty name": {ScalePlan{ID: "p", Leave: []string{""}, Phase: ScaleDual},
			`scale plan "p": an empty node name in leave`},
		"a rack left without owners": {ScalePlan{ID: "p", Leave: []string{c.Nodes[1].DynAddr, c.Nodes[2].DynAddr}, Phase: ScaleDual},
			`every node of dc "dc1", rack "r2" is leaving`},
		"the local rack left without owners once done": {ScalePlan{ID: "p", Leave: []string{c.Nodes[0].DynAddr}, Phase: ScaleDone},
			`scale plan "p" (phase done) refused`},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.SetScalePlan(&tc.plan)
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, &good, s.ScalePlan(), "the installed plan stays")
			require.Equal(t, "joining", stateOf(c, 0, c.Nodes[2].DynAddr))
		})
	}
	// ScalePlan is a copy
	got := s.ScalePlan()
	got.Join[0] = "changed"
	require.Equal(t, c.Nodes[2].DynAddr, s.ScalePlan().Join[0])
	require.True(t, strings.HasPrefix(s.ScalePlan().ID, "ok"))
}

func TestReadRepairReachesTheJoiningOwner(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	// 0: A dc1/r1, 1: B dc1/r2, 2: C dc1/r3, 3: J dc1/r1 joining (the lower half)
	c := proxytest.StartCluster(t, proxytest.Config{
		Nodes:     proxytest.Placements(t, "dc1/r1/"+maxTok, "dc1/r2/0", "dc1/r3/0", "dc1/r1/"+halfTok),
		Datastore: proxytest.RealDatastore, ReadLevel: consistency.DCSafeQuorum, WriteLevel: consistency.DCSafeQuorum,
		Options: func(_ int, o *Options) { o.ReadRepairs = true },
	})
	const a, b, j = 0, 1, 3
	installPlan(t, c, ScalePlan{ID: "rr", Join: []string{c.Nodes[j].DynAddr}, Phase: ScaleDual})
	key := lowerHalfKey(t, c.Nodes[a].Server.Topology(), "rr")
	require.Equal(t, "+OK\r\n", c.Client(b, "").Do("SET", key, "new"))
	for i := range c.Nodes {
		eventually(t, c, i, bulkOf("new"), "GET", key)
	}
	// both sides of rack r1 missed it
	missed(t, c, a, "._add-set", key, "SET", key, "old")
	missed(t, c, j, "._add-set", key, "SET", key, "old")
	require.Equal(t, bulkOf("new"), c.Client(b, "").Do("GET", key))
	eventually(t, c, a, bulkOf("new"), "GET", key)
	eventually(t, c, j, bulkOf("new"), "GET", key)
	c.Close()
}

// A node whose dyn_listen host is 0.0.0.0 names itself "0.0.0.0:port" in
// its own ring, while a plan names it as its peers do: its address. It
// must still take its own part in the move.
func TestAPlanNamesAnUnspecifiedListenerByItsAddress(t *testing.T) {
	s, err := New(Options{Proto: msg.Redis, Datastore: "127.0.0.1:1", DynListen: "0.0.0.0:8101", DC: "dc1", Rack: "r1",
		Tokens: []ring.Token{100}, Peers: []Peer{
			{Name: "10.9.9.1:8101", Addr: "10.9.9.1:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{0}},
			{Name: "10.9.9.2:8101", Addr: "10.9.9.2:8101", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}},
		}})
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:8101", s.Topology().Local().Name)
	for _, tc := range []struct {
		name string
		self bool
	}{
		{"127.0.0.1:8101", true},  // an interface address, the peer port
		{"127.0.0.1:8102", false}, // another port
		{"10.9.9.1:8101", false},  // a peer
		{"0.0.0.0:8101", true},    // its own name
	} {
		require.NoError(t, s.SetScalePlan(&ScalePlan{ID: "p", Join: []string{tc.name}, Phase: ScaleDual}), tc.name)
		want := ring.StateNormal
		if tc.self {
			want = ring.StateJoining
		}
		require.Equal(t, want, s.Topology().Local().State, "plan joining %s", tc.name)
	}
}

// A node with a hints_dir keeps its plan across a restart, so that a node
// restarted during a move takes its part again before it serves; removing
// the plan removes the file, and a damaged file is reported and skipped.
func TestAPlanSurvivesARestartInHintsDir(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Proto: msg.Redis, Datastore: "127.0.0.1:1", DynListen: "127.0.0.1:8101", DC: "dc1", Rack: "r1",
		Tokens: []ring.Token{100}, HintsDir: dir, HintsFsync: hints.FsyncNever, Peers: []Peer{
			{Name: "127.0.0.2:8101", Addr: "127.0.0.2:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{0}},
			{Name: "127.0.0.3:8101", Addr: "127.0.0.3:8101", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}},
		}}
	start := func() *Server {
		s, err := New(opts)
		require.NoError(t, err)
		return s
	}
	stateOf := func(s *Server, name string) ring.NodeState { return s.Topology().NodeByName(name).State }

	s := start()
	plan := &ScalePlan{ID: "m1", Join: []string{"127.0.0.2:8101"}, Phase: ScaleSwitched}
	require.NoError(t, s.SetScalePlan(plan))
	// restarted: the plan is in force before anything is served
	s = start()
	require.Equal(t, plan, s.ScalePlan())
	require.Equal(t, ring.StateJoining, stateOf(s, "127.0.0.2:8101"))
	require.True(t, s.Topology().Switched())

	// a refused plan leaves the saved one alone
	require.Error(t, s.SetScalePlan(&ScalePlan{ID: "m2", Leave: []string{"127.0.0.3:8101"}, Phase: ScaleDual}))
	require.Equal(t, plan, start().ScalePlan())

	require.NoError(t, s.SetScalePlan(nil))
	s = start()
	require.Nil(t, s.ScalePlan())
	require.Equal(t, ring.StateNormal, stateOf(s, "127.0.0.2:8101"))

	// damaged: the node starts without a plan
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scale-plan.json"), []byte(`{"id":"m3","phase":"sideways"}`), 0o600))
	s = start()
	require.Nil(t, s.ScalePlan())
	require.Equal(t, ring.StateNormal, stateOf(s, "127.0.0.2:8101"))
}
