package proxy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/stretchr/testify/require"
)

// A read a peer coordinates does not reach a warming node's datastore: the
// warming node refuses it, and the coordinator's DC_ONE read fails over to
// the next rack, its DC_QUORUM read makes its quorum without the copy.
func TestPeersReadAroundAWarmingNode(t *testing.T) {
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	// rack r1 has two nodes (0 and 1 split the ring), r2 and r3 one each
	c := proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Placements(t,
		"dc1/r1/2147483647", "dc1/r1/4294967295", "dc1/r2/4294967295", "dc1/r3/4294967295"), Datastore: proxytest.RealDatastore})
	w := c.Client(0, "DC_QUORUM")
	want := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprintf("wk%d", i), fmt.Sprintf("v%d", i)
		require.Equal(t, "+OK\r\n", w.Do("SET", k, v))
		want[k] = v
	}
	// every rack holds every key (DC_QUORUM answered once two had it)
	for _, i := range []int{2, 3} {
		proxytest.Eventually(t, 10*time.Second, func() bool { return c.Direct(i, "DBSIZE") == ":200\r\n" }, "rack of node %d never got every key", i)
	}
	// node 1 is replaced: empty, warming
	require.Equal(t, "+OK\r\n", c.Direct(1, "FLUSHALL"))
	c.Nodes[1].Server.SetWarming(true)

	before := c.Nodes[0].Server.Stats().ReadFailovers
	one, quorum := c.Client(0, "DC_ONE"), c.Client(0, "DC_QUORUM")
	owned := 0 // keys node 1 owns in rack r1: node 0 asks it first
	for k, v := range want {
		exp := fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
		require.Equal(t, exp, one.Do("GET", k), "DC_ONE GET %s through the warming node's rack neighbour", k)
		require.Equal(t, exp, quorum.Do("GET", k), "DC_QUORUM GET %s", k)
		if c.Direct(0, "EXISTS", k) == ":0\r\n" {
			owned++
		}
	}
	require.Greater(t, owned, 50, "node 1 owns a share of the keys")
	require.GreaterOrEqual(t, c.Nodes[0].Server.Stats().ReadFailovers-before, uint64(owned), "each of node 1's keys failed over")
	require.Equal(t, ":0\r\n", c.Direct(1, "DBSIZE"), "no read wrote anything to the warming node")
}
