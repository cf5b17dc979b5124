package node_test

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
)

func peerDown(srv *proxy.Server, dyn string) (down, found bool) {
	for _, p := range srv.Peers() {
		if p.Name == dyn {
			return p.AdminDown, true
		}
	}
	return false, false
}

func TestGossipMarksADeadPeerDownAndBackUp(t *testing.T) {
	nodes := nodetest.GossipNodes(t, 3)
	log, logs := testLog(t, slog.LevelInfo)
	ns := make([]*node.Node, 3)
	kills := make([]func(), 3)
	for i := range nodes {
		ns[i], kills[i] = runNode(t, nodetest.GossipConf(nodes, i), log.With("node", i+1))
	}
	require.Eventually(t, func() bool {
		return strings.Count(logs.String(), "gossip member alive") >= 6
	}, 15*time.Second, 50*time.Millisecond, "every node sees the two others alive")

	kills[2]()
	require.Eventually(t, func() bool {
		for _, n := range ns[:2] {
			if down, found := peerDown(n.Server(), nodes[2].Dyn); !down || !found {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "the others mark the dead node down")
	require.Contains(t, logs.String(), "peer is dead, marked down")
	for i := range 5 {
		require.Equal(t, "+OK\r\n", redisDo(t, nodes[0].Listen, "SET", "k"+strconv.Itoa(i), "v"), "DC_QUORUM writes keep succeeding")
	}

	ns[2], kills[2] = runNode(t, nodetest.GossipConf(nodes, 2), log.With("node", 3))
	require.Eventually(t, func() bool {
		down, found := peerDown(ns[0].Server(), nodes[2].Dyn)
		return found && !down
	}, 20*time.Second, 50*time.Millisecond, "the restarted node is marked up again")
	require.Contains(t, logs.String(), "peer is alive, receiving requests again")
}

func TestGossipMembershipWithoutDynSeeds(t *testing.T) {
	// Without dyn_seeds, gossip supplies the ring: a write through node 1 at
	// DC_QUORUM reaches node 2's Redis once they found each other.
	nodes := nodetest.GossipNodes(t, 2)
	log, _ := testLog(t, slog.LevelInfo)
	for i, n := range nodes {
		yml := fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '0'\n  servers:\n  - %s:1\n  enable_gossip: true\n  gos_interval: 1000\n  gossip_listen: %s\n  gossip_seeds: %s\n",
			i+1, n.Listen, n.Dyn, n.Stats, n.Redis, n.Gossip, nodes[1-i].Gossip)
		runNode(t, yml, log.With("node", i+1))
	}
	require.Eventually(t, func() bool {
		return strings.HasPrefix(redisDo(t, nodes[0].Listen, "SET", "found", "yes"), "+OK") &&
			strings.Contains(redisDo(t, nodes[1].Redis, "GET", "found"), "yes")
	}, 15*time.Second, 100*time.Millisecond, "gossip never brought the nodes into one ring")
}
