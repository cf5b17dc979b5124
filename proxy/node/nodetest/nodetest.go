// Package nodetest is what the tests of proxy/node and of the dynomite
// command share to run clusters of nodes: the addresses and configuration
// files of a gossip cluster, and a log buffer that several nodes may write
// at once. Free ports, redis-servers and clients come from proxytest.
package nodetest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// picks hands out free loopback addresses from proxytest.FreeAddr, no two
// the same: the picks are not bound until the nodes start, so nothing else
// would keep two random picks of one cluster apart.
type picks struct {
	t    testing.TB
	seen map[string]bool
}

func (p *picks) tcp() string {
	p.t.Helper()
	for range 50 {
		if a := proxytest.FreeAddr(p.t); !p.seen[a] {
			p.seen[a] = true
			return a
		}
	}
	p.t.Fatal("no free port distinct from the cluster's others")
	return ""
}

// tcpUDP is an address free for TCP and UDP (memberlist needs both).
func (p *picks) tcpUDP() string {
	p.t.Helper()
	for range 50 {
		a := p.tcp()
		if u, err := net.ListenPacket("udp", a); err == nil {
			u.Close()
			return a
		}
	}
	p.t.Fatal("no port free for TCP and UDP")
	return ""
}

// GossipNode is the addresses of one node of a gossip cluster and of its
// redis-server.
type GossipNode struct{ Listen, Dyn, Stats, Gossip, Redis string }

// GossipNodes starts the redis-servers of n nodes (they stop with the
// test) and picks the nodes' addresses, all distinct.
func GossipNodes(t testing.TB, n int) []GossipNode {
	t.Helper()
	nodes := make([]GossipNode, n)
	for i := range nodes { // first: a listening port is never picked, so no node gets a datastore's
		nodes[i].Redis = proxytest.StartRedis(t).Addr
	}
	p := &picks{t: t, seen: map[string]bool{}}
	for i := range nodes {
		nodes[i].Listen, nodes[i].Dyn, nodes[i].Stats, nodes[i].Gossip = p.tcp(), p.tcp(), p.tcp(), p.tcpUDP()
	}
	return nodes
}

// GossipConf is the configuration file of node i of a one-datacenter,
// one-rack-per-node cluster whose membership comes from dyn_seeds and
// liveness from gossip, with DC_QUORUM reads and writes.
func GossipConf(nodes []GossipNode, i int) string {
	n := nodes[i]
	var seeds, gseeds []string
	for j, o := range nodes {
		if j != i {
			seeds = append(seeds, fmt.Sprintf("  - %s:rack%d:dc1:0", o.Dyn, j+1))
			gseeds = append(gseeds, o.Gossip)
		}
	}
	return fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '0'\n  servers:\n  - %s:1\n"+
		"  read_consistency: DC_QUORUM\n  write_consistency: DC_QUORUM\n  timeout: 1000\n  enable_gossip: true\n  gos_interval: 1000\n  gossip_listen: %s\n  gossip_seeds: %s\n  dyn_seeds:\n%s\n",
		i+1, n.Listen, n.Dyn, n.Stats, n.Redis, n.Gossip, strings.Join(gseeds, ","), strings.Join(seeds, "\n"))
}

// Logs collects what several goroutines or processes write.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
