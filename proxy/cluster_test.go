package proxy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

func TestClusterTwoDatacentersThreeRacks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	specs := []string{
		"dc1/r1/0", "dc1/r2/0", "dc1/r3/0",
		"dc2/r1/0", "dc2/r2/0", "dc2/r3/0",
	}
	tc := fakeCluster(t, specs, nil)

	t.Run("a write through any node reaches every rack of every datacenter", func(t *testing.T) {
		for i := range tc.Nodes {
			key := "k" + strconv.Itoa(i)
			require.Equal(t, "+OK\r\n", tc.Client(i, "").Do("SET", key, "v"+strconv.Itoa(i)))
			for j := range tc.Nodes {
				require.Eventually(t, func() bool { return tc.Direct(j, "GET", key) == "$2\r\nv"+strconv.Itoa(i)+"\r\n" },
					5*time.Second, 10*time.Millisecond, "key %s missing on node %d", key, j)
			}
		}
	})

	t.Run("reads at every level see the value", func(t *testing.T) {
		for _, lvl := range []string{"DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM", "DC_EACH_SAFE_QUORUM"} {
			require.Equal(t, "$2\r\nv0\r\n", tc.Client(1, lvl).Do("GET", "k0"), lvl)
		}
	})

	t.Run("multi-key commands are split, sent and reassembled", func(t *testing.T) {
		c := tc.Client(0, "DC_QUORUM")
		require.Equal(t, "+OK\r\n", c.Do("MSET", "m1", "a", "m2", "b", "m3", "c"))
		require.Equal(t, "*4\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n$1\r\nc\r\n", c.Do("MGET", "m1", "nokey", "m2", "m3"))
		require.Equal(t, ":2\r\n", c.Do("EXISTS", "m1", "m3", "nokey"))
		require.Equal(t, ":2\r\n", c.Do("DEL", "m1", "m2", "nokey"))
	})

	t.Run("with a local datastore down, DC_ONE reads fail over to another rack", func(t *testing.T) {
		tc.Nodes[0].Fake.Stop()
		defer func() {
			tc.Nodes[0].Fake.Start()
			require.Eventually(t, tc.Nodes[0].Server.Backend().AllUp, 10*time.Second, 20*time.Millisecond)
		}()
		c := tc.Client(0, "DC_ONE")
		require.Equal(t, "$2\r\nv3\r\n", c.Do("GET", "k3"))
		// a DC_ONE write is acknowledged because other local racks stored it
		require.Equal(t, "+OK\r\n", c.Do("SET", "during", "outage"))
		require.Eventually(t, func() bool { return tc.Direct(1, "GET", "during") == "$6\r\noutage\r\n" },
			5*time.Second, 10*time.Millisecond, "the other racks store the write")
	})

	t.Run("with one rack's node stopped, quorum reads and writes succeed", func(t *testing.T) {
		tc.Stop(2) // dc1/r3
		c := tc.Client(0, "DC_QUORUM")
		require.Equal(t, "+OK\r\n", c.Do("SET", "q", "1"))
		require.Equal(t, "$1\r\n1\r\n", c.Do("GET", "q"))
		s := tc.Client(1, "DC_SAFE_QUORUM")
		require.Equal(t, "$1\r\n1\r\n", s.Do("GET", "q"))

		// one of the two remaining replicas changed behind the cluster's back
		require.Equal(t, "+OK\r\n", tc.Direct(1, "SET", "q", "2"))
		got := s.Do("GET", "q")
		require.True(t, strings.HasPrefix(got, "-ERR Dynomite: Failed to achieve Quorum"), "got %q", got)
		// DC_QUORUM without agreement returns the first reply, as upstream
		got = c.Do("GET", "q")
		require.True(t, got == "$1\r\n1\r\n" || got == "$1\r\n2\r\n", "got %q", got)
	})

	t.Run("a remote datacenter unreachable", func(t *testing.T) {
		for i := 3; i < 6; i++ {
			tc.Stop(i)
		}
		for _, lvl := range []string{"DC_ONE", "DC_QUORUM", "DC_SAFE_QUORUM"} {
			require.Equal(t, "+OK\r\n", tc.Client(0, lvl).Do("SET", "r", lvl), lvl)
		}
		start := time.Now()
		got := tc.Client(0, "DC_EACH_SAFE_QUORUM").Do("SET", "r", "each")
		require.True(t, strings.HasPrefix(got, "-ERR "), "DC_EACH_SAFE_QUORUM must fail, got %q", got)
		require.Contains(t, got, "dc2")
		require.Less(t, time.Since(start), 3*time.Second, "must fail cleanly, not hang")
	})

	tc.Close()
}

func TestClusterPlacesKeysOnTheirTokenOwners(t *testing.T) {
	// two racks of two nodes: tokens split the ring in halves
	half := uint32(1 << 31)
	specs := []string{
		"dc1/r1/" + strconv.Itoa(int(half)), "dc1/r1/4294967295",
		"dc1/r2/" + strconv.Itoa(int(half)), "dc1/r2/4294967295",
	}
	tc := fakeCluster(t, specs, nil)
	topoNodes := []ring.Node{
		{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{ring.Token(half)}},
		{Name: "b", DC: "dc1", Rack: "r1", Tokens: []ring.Token{4294967295}},
	}
	topo, err := ring.NewTopology("a", topoNodes, ring.Options{})
	require.NoError(t, err)

	c := tc.Client(0, "DC_QUORUM")
	for i := 0; i < 40; i++ {
		key := "key:" + strconv.Itoa(i)
		require.Equal(t, "+OK\r\n", c.Do("SET", key, "x"))
		owner := topo.Lookup([]byte(key), 0, 0).Name // "a" → first node of each rack
		for j := range tc.Nodes {
			ownsIt := (owner == "a") == (j%2 == 0)
			want := "$-1\r\n"
			if ownsIt {
				want = "$1\r\nx\r\n"
			}
			require.Equal(t, want, tc.Direct(j, "GET", key), "key %s on node %d", key, j)
		}
	}
	// MGET across both owners comes back in key order
	require.Equal(t, "*3\r\n$1\r\nx\r\n$1\r\nx\r\n$1\r\nx\r\n", c.Do("MGET", "key:1", "key:2", "key:3"))
}

func TestClusterMembershipChangesWhileServing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := fakeCluster(t, []string{"dc1/r1/0", "dc1/r2/0"}, nil)
	// a third rack appears: start its node knowing the others
	tc.Start(tc.Add(proxytest.Placement{DC: "dc1", Rack: "r3"}))
	peersOf := tc.PeersOf
	c := tc.Client(0, "DC_ONE")
	require.Equal(t, "+OK\r\n", c.Do("SET", "before", "1"))
	require.Equal(t, "$-1\r\n", tc.Direct(2, "GET", "before"), "the new rack is not known yet")

	for i := 0; i < 2; i++ {
		require.NoError(t, tc.Nodes[i].Server.UpdatePeers(peersOf(i)))
	}
	require.Eventually(t, func() bool { return tc.AllPeersUp(0) }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "+OK\r\n", c.Do("SET", "after", "2"), "the client connection survives the change")
	require.Eventually(t, func() bool { return tc.Direct(2, "GET", "after") == "$1\r\n2\r\n" }, 5*time.Second, 10*time.Millisecond)

	// a bad membership (two nodes with one token in one rack) is refused
	bad := append(peersOf(0), Peer{Name: "x:1", Addr: "127.0.0.1:1", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}})
	require.ErrorContains(t, tc.Nodes[0].Server.UpdatePeers(bad), "refused")

	// the third rack leaves again
	require.NoError(t, tc.Nodes[0].Server.UpdatePeers(peersOf(0)[:1]))
	require.Len(t, tc.Nodes[0].Server.Peers(), 2)
	require.Equal(t, "+OK\r\n", c.Do("SET", "gone", "3"))
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, "$-1\r\n", tc.Direct(2, "GET", "gone"))
	tc.Close()
}
