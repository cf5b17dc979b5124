package proxy_test

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/hints"
	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/stretchr/testify/require"
)

// hintedCluster starts one node per spec in front of a redis-server each,
// every node keeping hints in a directory of its own (dirs[i], kept across
// restarts of node i).
func hintedCluster(t *testing.T, specs ...string) (*proxytest.Cluster, []string) {
	t.Helper()
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	t.Cleanup(SetHintPoll(20 * time.Millisecond))
	dirs := make([]string, len(specs))
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	c := proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Placements(t, specs...), Datastore: proxytest.RealDatastore,
		Options: func(i int, o *Options) { o.HintsDir = dirs[i]; o.HintsFsync = hints.FsyncNever }})
	return c, dirs
}

// pending is the number of hints node i holds for node j.
func pending(c *proxytest.Cluster, i, j int) int64 { return hintStat(c, i, j).PendingRecords }

// waitPending waits until node i holds n hints for node j (a write's reply
// may come before its last copy failed).
func waitPending(t *testing.T, c *proxytest.Cluster, i, j int, n int64) {
	t.Helper()
	proxytest.Eventually(t, 10*time.Second, func() bool { return pending(c, i, j) == n }, "node %d never held %d hints for node %d", i, n, j)
}

// writeKeys SETs prefix0..prefix<n-1> to value<i> through cl.
func writeKeys(t *testing.T, cl *proxytest.Conn, prefix, value string, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s%d", value, i)
		require.Equal(t, "+OK\r\n", cl.Do("SET", k, v))
		want[k] = v
	}
	return want
}

func hintStat(c *proxytest.Cluster, i, j int) hints.TargetStats {
	for _, st := range c.Nodes[i].Server.HintStats() {
		if st.Target == c.Nodes[j].DynAddr {
			return st
		}
	}
	return hints.TargetStats{}
}

// waitValues waits until node i's datastore holds want[k] for every key k.
func waitValues(t *testing.T, c *proxytest.Cluster, i int, want map[string]string) {
	t.Helper()
	proxytest.Eventually(t, 20*time.Second, func() bool {
		for k, v := range want {
			if c.Direct(i, "GET", k) != fmt.Sprintf("$%d\r\n%s\r\n", len(v), v) {
				return false
			}
		}
		return true
	}, "node %d's datastore never got every hinted write", i)
}

func TestHintedWritesReachAPeerMarkedDownOnceItIsBack(t *testing.T) {
	c, _ := hintedCluster(t, "dc1/r1/0", "dc1/r2/0", "dc1/r3/0")
	require.True(t, c.Nodes[0].Server.SetPeerDown(c.Nodes[2].DynAddr, true))
	want := writeKeys(t, c.Client(0, ""), "hk", "v", 40)
	waitPending(t, c, 0, 2, 40)
	require.Equal(t, "$-1\r\n", c.Direct(2, "GET", "hk0"), "the peer marked down got no copy")
	waitValues(t, c, 1, want) // the other replica got them live
	require.Zero(t, pending(c, 0, 1))

	require.True(t, c.Nodes[0].Server.SetPeerDown(c.Nodes[2].DynAddr, false))
	waitValues(t, c, 2, want)
	proxytest.Eventually(t, 10*time.Second, func() bool { return pending(c, 0, 2) == 0 }, "hints left after the replay")
	st := hintStat(c, 0, 2)
	require.EqualValues(t, 40, st.Written)
	require.EqualValues(t, 40, st.Replayed)
	require.Empty(t, st.Dropped)
}

func TestHintsOfAKilledCoordinatorReplayAfterItRestarts(t *testing.T) {
	c, _ := hintedCluster(t, "dc1/r1/0", "dc1/r2/0", "dc1/r3/0")
	c.Stop(2) // the link is cut: copies to node 2 fail
	proxytest.Eventually(t, 10*time.Second, func() bool {
		for _, p := range c.Nodes[0].Server.Peers() {
			if p.Name == c.Nodes[2].DynAddr {
				return !p.Up
			}
		}
		return false
	}, "node 0 never saw node 2 down")
	want := writeKeys(t, c.Client(0, ""), "rk", "w", 30)
	waitPending(t, c, 0, 2, 30)
	// the coordinator goes away with its hints on disk, the target comes
	// back, then the coordinator (same hints_dir)
	c.Stop(0)
	c.Start(2)
	c.Start(0)
	require.EqualValues(t, 30, hintStat(c, 0, 2).PendingRecords+int64(hintStat(c, 0, 2).Replayed), "the hints survived the restart")
	waitValues(t, c, 2, want)
}

func TestAReplayedHintNeverOverwritesANewerWriteOfItsKey(t *testing.T) {
	// two datacenters that cannot reach each other; both sides write the
	// same keys, dc1 first
	c, _ := hintedCluster(t, "dc1/r1/0", "dc2/r1/0")
	a, b := c.Nodes[0], c.Nodes[1]
	require.True(t, a.Server.SetPeerDown(b.DynAddr, true))
	require.True(t, b.Server.SetPeerDown(a.DynAddr, true))
	ca, cb := c.Client(0, ""), c.Client(1, "")
	older, newer := map[string]string{}, map[string]string{}
	for i := range 20 {
		k := fmt.Sprintf("both%d", i)
		older[k], newer[k] = "from-dc1", "from-dc2"
		require.Equal(t, "+OK\r\n", ca.Do("SET", k, older[k]))
	}
	// dc2 writes in a later millisecond than dc1 (each side's clock has
	// seen only its own writes)
	for t0 := time.Now().UnixMilli(); time.Now().UnixMilli() <= t0+1; {
		runtime.Gosched()
	}
	for k := range newer {
		require.Equal(t, "+OK\r\n", cb.Do("SET", k, newer[k]))
	}
	// keys only one side wrote
	for i := range 5 {
		k := fmt.Sprintf("only1-%d", i)
		require.Equal(t, "+OK\r\n", ca.Do("SET", k, "a"))
		older[k], newer[k] = "a", "a"
	}
	waitPending(t, c, 0, 1, 25)
	waitPending(t, c, 1, 0, 20)

	// heal dc1 first: its older hints reach dc2, which holds newer writes
	require.True(t, a.Server.SetPeerDown(b.DynAddr, false))
	proxytest.Eventually(t, 10*time.Second, func() bool { return pending(c, 0, 1) == 0 }, "dc1's hints never replayed")
	waitValues(t, c, 1, newer)
	require.True(t, b.Server.SetPeerDown(a.DynAddr, false))
	proxytest.Eventually(t, 10*time.Second, func() bool { return pending(c, 1, 0) == 0 }, "dc2's hints never replayed")
	waitValues(t, c, 0, newer)
	waitValues(t, c, 1, newer)
	ts, node, ok := a.Server.LWWVersion("both0")
	require.True(t, ok)
	require.Equal(t, b.Server.NodeOrder()&(1<<32-1), node, "dc1 now holds dc2's write (the table keeps the node order's low 32 bits)")
	require.NotZero(t, ts)
}

func TestAPeerWhoseDatastoreFailedGetsTheWriteOnceItIsBack(t *testing.T) {
	c, _ := hintedCluster(t, "dc1/r1/0", "dc1/r2/0", "dc1/r3/0")
	// node 2 is up, its Redis is not: it answers the copies with an error
	c.Nodes[2].Process.Stop()
	proxytest.Eventually(t, 10*time.Second, func() bool { return !c.Nodes[2].Server.Backend().Up() }, "node 2 never saw its Redis down")
	want := writeKeys(t, c.Client(0, ""), "dk", "x", 20)
	// DC_ONE answers once the local rack did: the last copies may still be
	// on their way
	proxytest.Eventually(t, 10*time.Second, func() bool { return hintStat(c, 0, 2).Written == 20 },
		"copies answered with the datastore's failure are hinted")
	c.Nodes[2].Process.Start()
	waitValues(t, c, 2, want)
	proxytest.Eventually(t, 10*time.Second, func() bool { return pending(c, 0, 2) == 0 }, "hints left after the replay")
}

func TestTheCoordinatorsOwnDatastoreGetsTheWriteOnceItIsBack(t *testing.T) {
	c, _ := hintedCluster(t, "dc1/r1/0", "dc1/r2/0", "dc1/r3/0")
	c.Nodes[0].Process.Stop()
	proxytest.Eventually(t, 10*time.Second, func() bool { return !c.Nodes[0].Server.Backend().Up() }, "node 0 never saw its Redis down")
	cl := c.Client(0, "DC_QUORUM") // two racks of three answer
	want := writeKeys(t, cl, "lk", "y", 10)
	waitPending(t, c, 0, 0, 10)
	c.Nodes[0].Process.Start()
	waitValues(t, c, 0, want)
	proxytest.Eventually(t, 10*time.Second, func() bool { return pending(c, 0, 0) == 0 }, "hints left after the replay")
}

// A copy from another datacenter's coordinator is applied as it comes when
// it arrives on time; one that arrives late (a cut link held it back) loses
// to the newer write the receiver applied meanwhile.
func TestALateCopyFromAnotherDatacenterDoesNotUndoANewerWrite(t *testing.T) {
	c, _ := hintedCluster(t, "dc1/r1/0", "dc2/r1/0")
	b := c.Nodes[1]
	require.Equal(t, "+OK\r\n", c.Client(1, "").Do("SET", "k", "newer"))
	conn, err := net.Dial("tcp", b.DynAddr)
	require.NoError(t, err)
	defer conn.Close()
	br := bufio.NewReader(conn)
	send := func(id uint64, stamped time.Time, value string) {
		t.Helper()
		frame := dnode.AppendHeader(nil, dnode.Header{ID: id, Type: dnode.TypeReqForward, Version: 1,
			Stamp: dnode.Stamp{TS: uint64(hlc.Make(stamped.UnixMilli(), 0)), Node: 7, CrossDC: true}})
		frame = resp.AppendCommand(frame, [][]byte{[]byte("SET"), []byte("k"), []byte(value)})
		require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
		_, err := conn.Write(frame)
		require.NoError(t, err)
		line, err := br.ReadString('\n') // the response frame's header
		require.NoError(t, err)
		require.Contains(t, line, "$2014$ "+strconv.FormatUint(id, 10)+" 5 ")
		_, err = br.ReadString('\n') // its payload, one line
		require.NoError(t, err)
	}
	before := b.Server.Stats().HintsSuperseded
	send(1, time.Now().Add(-10*time.Second), "late")
	require.Equal(t, "$5\r\nnewer\r\n", c.Direct(1, "GET", "k"), "the late copy undid the newer write")
	require.Equal(t, before+1, b.Server.Stats().HintsSuperseded)
	send(2, time.Now(), "ontime")
	require.Equal(t, "$6\r\nontime\r\n", c.Direct(1, "GET", "k"))
}
