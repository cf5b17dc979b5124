package proxy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// testNode is one node of an in-process cluster with its own redis-server.
type testNode struct {
	dc, rack string
	token    uint32
	dynAddr  string
	redis    *datastore
	n        *node
}

type testCluster struct {
	t     *testing.T
	nodes []*testNode
}

// startCluster starts one redis-server and one node per spec entry
// "dc/rack/token", all on loopback.
func startCluster(t *testing.T, specs []string, mod func(*Options)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t}
	for _, sp := range specs {
		f := strings.Split(sp, "/")
		tok, err := strconv.ParseUint(f[2], 10, 32)
		require.NoError(t, err)
		tc.nodes = append(tc.nodes, &testNode{dc: f[0], rack: f[1], token: uint32(tok),
			dynAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), redis: startRedis(t)})
	}
	for i := range tc.nodes {
		tc.startNode(i, mod)
	}
	tc.waitConnected()
	return tc
}

// waitConnected waits until every node is connected to every peer.
func (tc *testCluster) waitConnected() {
	require.Eventually(tc.t, func() bool {
		for _, tn := range tc.nodes {
			if tn.n == nil {
				continue
			}
			for _, p := range tn.n.s.Peers() {
				if !p.Up {
					return false
				}
			}
		}
		return true
	}, 15*time.Second, 20*time.Millisecond, "cluster never fully connected")
}

func (tc *testCluster) startNode(i int, mod func(*Options)) {
	me := tc.nodes[i]
	var peers []Peer
	for j, o := range tc.nodes {
		if j != i {
			peers = append(peers, Peer{Name: o.dynAddr, Addr: o.dynAddr, DC: o.dc, Rack: o.rack, Tokens: []uint32{o.token}})
		}
	}
	me.n = startNode(tc.t, msg.Redis, me.redis.addr, func(o *Options) {
		o.DynListen, o.DC, o.Rack, o.Tokens, o.Peers = me.dynAddr, me.dc, me.rack, []uint32{me.token}, peers
		o.LocalPeerConns, o.RemotePeerConns = 1, 1
		o.Timeout = time.Second
		if mod != nil {
			mod(o)
		}
	})
}

// stopNode stops a node (its peer listener goes away).
func (tc *testCluster) stopNode(i int) { tc.nodes[i].n.stop(tc.t) }

// client returns a raw connection to node i at the given level.
func (tc *testCluster) client(i int, level string) *rawConn {
	rc := dial(tc.t, tc.nodes[i].n.addr)
	if level != "" {
		require.Equal(tc.t, "+OK\r\n", rc.do(cmd("DYNO_CONFIG:CONN_CONSISTENCY", level)))
	}
	return rc
}

func (rc *rawConn) do(req []byte) string {
	rc.t.Helper()
	rc.send(req)
	b, err := rc.read(redisReply)
	require.NoError(rc.t, err)
	return string(b)
}

// direct reads key from node i's own redis-server.
func (tc *testCluster) direct(i int, args ...string) string {
	rc := dial(tc.t, tc.nodes[i].redis.addr)
	defer rc.c.Close()
	return rc.do(cmd(args...))
}

func TestClusterTwoDatacentersThreeRacks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	specs := []string{
		"dc1/r1/0", "dc1/r2/0", "dc1/r3/0",
		"dc2/r1/0", "dc2/r2/0", "dc2/r3/0",
	}
	tc := startCluster(t, specs, nil)

	t.Run("a write through any node reaches every rack of every datacenter", func(t *testing.T) {
		for i := range tc.nodes {
			key := "k" + strconv.Itoa(i)
			require.Equal(t, "+OK\r\n", tc.client(i, "").do(cmd("SET", key, "v"+strconv.Itoa(i))))
			for j := range tc.nodes {
				require.Eventually(t, func() bool { return tc.direct(j, "GET", key) == "$2\r\nv"+strconv.Itoa(i)+"\r\n" },
					5*time.Second, 10*time.Millisecond, "key %s missing on node %d", key, j)
			}
		}
	})

	t.Run("reads at every level see the value", func(t *testing.T) {
		for _, lvl := range []string{"DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM", "DC_EACH_SAFE_QUORUM"} {
			require.Equal(t, "$2\r\nv0\r\n", tc.client(1, lvl).do(cmd("GET", "k0")), lvl)
		}
	})

	t.Run("multi-key commands are split, sent and reassembled", func(t *testing.T) {
		c := tc.client(0, "DC_QUORUM")
		require.Equal(t, "+OK\r\n", c.do(cmd("MSET", "m1", "a", "m2", "b", "m3", "c")))
		require.Equal(t, "*4\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n$1\r\nc\r\n", c.do(cmd("MGET", "m1", "nokey", "m2", "m3")))
		require.Equal(t, ":2\r\n", c.do(cmd("EXISTS", "m1", "m3", "nokey")))
		require.Equal(t, ":2\r\n", c.do(cmd("DEL", "m1", "m2", "nokey")))
	})

	t.Run("with a local datastore down, DC_ONE reads fail over to another rack", func(t *testing.T) {
		tc.nodes[0].redis.stop()
		defer func() {
			tc.nodes[0].redis.start()
			require.Eventually(t, tc.nodes[0].n.s.Backend().Up, 10*time.Second, 20*time.Millisecond)
		}()
		c := tc.client(0, "DC_ONE")
		require.Equal(t, "$2\r\nv3\r\n", c.do(cmd("GET", "k3")))
		// a DC_ONE write is acknowledged because other local racks stored it
		require.Equal(t, "+OK\r\n", c.do(cmd("SET", "during", "outage")))
		require.Eventually(t, func() bool { return tc.direct(1, "GET", "during") == "$6\r\noutage\r\n" },
			5*time.Second, 10*time.Millisecond, "the other racks store the write")
	})

	t.Run("with one rack's node stopped, quorum reads and writes succeed", func(t *testing.T) {
		tc.stopNode(2) // dc1/r3
		c := tc.client(0, "DC_QUORUM")
		require.Equal(t, "+OK\r\n", c.do(cmd("SET", "q", "1")))
		require.Equal(t, "$1\r\n1\r\n", c.do(cmd("GET", "q")))
		s := tc.client(1, "DC_SAFE_QUORUM")
		require.Equal(t, "$1\r\n1\r\n", s.do(cmd("GET", "q")))

		// one of the two remaining replicas changed behind the cluster's back
		require.Equal(t, "+OK\r\n", tc.direct(1, "SET", "q", "2"))
		got := s.do(cmd("GET", "q"))
		require.True(t, strings.HasPrefix(got, "-ERR Dynomite: Failed to achieve Quorum"), "got %q", got)
		// DC_QUORUM without agreement returns the first reply, as upstream
		got = c.do(cmd("GET", "q"))
		require.True(t, got == "$1\r\n1\r\n" || got == "$1\r\n2\r\n", "got %q", got)
	})

	t.Run("a remote datacenter unreachable", func(t *testing.T) {
		for i := 3; i < 6; i++ {
			tc.stopNode(i)
		}
		for _, lvl := range []string{"DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM"} {
			require.Equal(t, "+OK\r\n", tc.client(0, lvl).do(cmd("SET", "r", lvl)), lvl)
		}
		start := time.Now()
		got := tc.client(0, "DC_EACH_SAFE_QUORUM").do(cmd("SET", "r", "each"))
		require.True(t, strings.HasPrefix(got, "-ERR "), "DC_EACH_SAFE_QUORUM must fail, got %q", got)
		require.Contains(t, got, "dc2")
		require.Less(t, time.Since(start), 3*time.Second, "must fail cleanly, not hang")
	})

	for i := range tc.nodes {
		if tc.nodes[i].n.cancel != nil {
			tc.stopNode(i)
		}
	}
}

func TestClusterPlacesKeysOnTheirTokenOwners(t *testing.T) {
	// two racks of two nodes: tokens split the ring in halves
	half := uint32(1 << 31)
	specs := []string{
		"dc1/r1/" + strconv.Itoa(int(half)), "dc1/r1/4294967295",
		"dc1/r2/" + strconv.Itoa(int(half)), "dc1/r2/4294967295",
	}
	tc := startCluster(t, specs, nil)
	topoNodes := []ring.Node{
		{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{ring.Token(half)}},
		{Name: "b", DC: "dc1", Rack: "r1", Tokens: []ring.Token{4294967295}},
	}
	topo, err := ring.NewTopology("a", topoNodes, ring.Options{})
	require.NoError(t, err)

	c := tc.client(0, "DC_QUORUM")
	for i := 0; i < 40; i++ {
		key := "key:" + strconv.Itoa(i)
		require.Equal(t, "+OK\r\n", c.do(cmd("SET", key, "x")))
		owner := topo.Lookup([]byte(key), 0, 0).Name // "a" → first node of each rack
		for j := range tc.nodes {
			ownsIt := (owner == "a") == (j%2 == 0)
			want := "$-1\r\n"
			if ownsIt {
				want = "$1\r\nx\r\n"
			}
			require.Equal(t, want, tc.direct(j, "GET", key), "key %s on node %d", key, j)
		}
	}
	// MGET across both owners comes back in key order
	require.Equal(t, "*3\r\n$1\r\nx\r\n$1\r\nx\r\n$1\r\nx\r\n", c.do(cmd("MGET", "key:1", "key:2", "key:3")))
}

func TestClusterMembershipChangesWhileServing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := startCluster(t, []string{"dc1/r1/0", "dc1/r2/0"}, nil)
	// a third rack appears: start its node knowing the others
	third := &testNode{dc: "dc1", rack: "r3", token: 0, dynAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), redis: startRedis(t)}
	tc.nodes = append(tc.nodes, third)
	tc.startNode(2, nil)

	peersOf := func(i int) []Peer {
		var ps []Peer
		for j, o := range tc.nodes {
			if j != i {
				ps = append(ps, Peer{Name: o.dynAddr, Addr: o.dynAddr, DC: o.dc, Rack: o.rack, Tokens: []uint32{o.token}})
			}
		}
		return ps
	}
	c := tc.client(0, "DC_ONE")
	require.Equal(t, "+OK\r\n", c.do(cmd("SET", "before", "1")))
	require.Equal(t, "$-1\r\n", tc.direct(2, "GET", "before"), "the new rack is not known yet")

	for i := 0; i < 2; i++ {
		require.NoError(t, tc.nodes[i].n.s.UpdatePeers(peersOf(i)))
	}
	require.Eventually(t, func() bool {
		for _, p := range tc.nodes[0].n.s.Peers() {
			if !p.Up {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "+OK\r\n", c.do(cmd("SET", "after", "2")), "the client connection survives the change")
	require.Eventually(t, func() bool { return tc.direct(2, "GET", "after") == "$1\r\n2\r\n" }, 5*time.Second, 10*time.Millisecond)

	// a bad membership (two nodes with one token in one rack) is refused
	bad := append(peersOf(0), Peer{Name: "x:1", Addr: "127.0.0.1:1", DC: "dc1", Rack: "r2", Tokens: []uint32{0}})
	require.ErrorContains(t, tc.nodes[0].n.s.UpdatePeers(bad), "refused")

	// the third rack leaves again
	require.NoError(t, tc.nodes[0].n.s.UpdatePeers(peersOf(0)[:1]))
	require.Len(t, tc.nodes[0].n.s.Peers(), 2)
	require.Equal(t, "+OK\r\n", c.do(cmd("SET", "gone", "3")))
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, "$-1\r\n", tc.direct(2, "GET", "gone"))
	for i := range tc.nodes {
		tc.stopNode(i)
	}
}
