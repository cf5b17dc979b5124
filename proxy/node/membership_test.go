package node_test

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// srvZone is a DNS server on 127.0.0.1 answering one SRV name with
// targets n<i>.srv.test. (A 127.0.0.1, no TXT record); set replaces the
// targets' ports.
type srvZone struct {
	name string
	mu   sync.Mutex
	port []int
}

func startSRVZone(t testing.TB, name string) (*srvZone, string) {
	t.Helper()
	z := &srvZone{name: dns.Fqdn(name)}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: z}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return z, pc.LocalAddr().String()
}

func (z *srvZone) set(ports ...int) {
	z.mu.Lock()
	z.port = ports
	z.mu.Unlock()
}

func (z *srvZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	z.mu.Lock()
	ports := append([]int(nil), z.port...)
	z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	known := strings.EqualFold(q.Name, z.name)
	for i, p := range ports {
		target := fmt.Sprintf("n%d.srv.test.", i+1)
		switch {
		case strings.EqualFold(q.Name, z.name) && q.Qtype == dns.TypeSRV:
			m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: z.name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 1},
				Target: target, Port: uint16(p)})
		case strings.EqualFold(q.Name, target):
			known = true
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: target, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
					A: net.IPv4(127, 0, 0, 1)})
			}
		}
	}
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// peerPorts returns a free peer port whose gossip port (+2) is free for
// TCP and UDP, the default offset the nodes assume for each other.
func peerPorts(t *testing.T) (dyn, gossip string) {
	t.Helper()
	for range 100 {
		a := proxytest.FreeAddr(t)
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		if n+2 > 65535 {
			continue
		}
		g := net.JoinHostPort("127.0.0.1", strconv.Itoa(n+2))
		ln, err := net.Listen("tcp", g)
		if err != nil {
			continue
		}
		ln.Close()
		u, err := net.ListenPacket("udp", g)
		if err != nil {
			continue
		}
		u.Close()
		return a, g
	}
	t.Fatal("no peer port with a free gossip port")
	return "", ""
}

// ringOf lists a node's other peers as "addr dc/rack tokens".
func ringOf(srv *proxy.Server) []string {
	var out []string
	for _, p := range srv.Peers() {
		if !p.Local {
			out = append(out, fmt.Sprintf("%s %s/%s %v", p.Addr, p.DC, p.Rack, p.Tokens))
		}
	}
	slices.Sort(out)
	return out
}

// SRV records without TXT records: with gossip on, the nodes join each
// other's gossip at the SRV addresses and take datacenter, rack and tokens
// from it; a target removed from the records leaves the ring.
func TestSRVTargetsWithoutTXTAreCompletedByGossip(t *testing.T) {
	zone, resolver := startSRVZone(t, "_dynomite._tcp.srv.test")
	log, logs := testLog(t, slog.LevelInfo)
	type addrs struct{ listen, dyn, stats, redis string }
	nodes := make([]addrs, 3)
	ports := make([]int, 3)
	for i := range nodes {
		dyn, _ := peerPorts(t)
		nodes[i] = addrs{proxytest.FreeAddr(t), dyn, proxytest.FreeAddr(t), proxytest.StartRedis(t).Addr}
		_, p, _ := net.SplitHostPort(dyn)
		ports[i], _ = strconv.Atoi(p)
	}
	zone.set(ports...)
	srvs := make([]*proxy.Server, 3)
	kills := make([]func(), 3)
	for i, n := range nodes {
		yml := fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '%d'\n  servers:\n  - %s:1\n"+
			"  read_consistency: DC_QUORUM\n  write_consistency: DC_QUORUM\n  timeout: 1000\n  enable_gossip: true\n  gos_interval: 500\n"+
			"  dyn_seed_provider: dns_srv_provider\n  dns_srv_name: _dynomite._tcp.srv.test\n  dns_srv_resolver: %s\n",
			i+1, n.listen, n.dyn, n.stats, 100*(i+1), n.redis, resolver)
		var n *node.Node
		n, kills[i] = runNode(t, yml, log.With("node", i+1))
		srvs[i] = n.Server()
	}
	want := func(i int) string { return fmt.Sprintf("%s dc1/rack%d [%d]", nodes[i].dyn, i+1, 100*(i+1)) }
	for i, s := range srvs {
		var others []string
		for j := range nodes {
			if j != i {
				others = append(others, want(j))
			}
		}
		slices.Sort(others)
		require.Eventually(t, func() bool { return fmt.Sprint(ringOf(s)) == fmt.Sprint(others) }, 20*time.Second, 50*time.Millisecond,
			"node %d's ring: %v, want %v", i+1, ringOf(s), others)
	}
	require.Contains(t, logs.String(), "completed_by_gossip=2")

	// a DC_QUORUM write through node 1 reaches every rack. It is sent once
	// node 1 is ready: a peer just added to the ring may still be dialling,
	// and without hints_dir a copy it refuses meanwhile is not kept.
	require.Eventually(t, func() bool {
		code, _ := get(t, "http://"+nodes[0].stats+"/ready")
		return code == 200
	}, 10*time.Second, 20*time.Millisecond, "node 1 never ready")
	require.Eventually(t, func() bool {
		return redisDo(t, nodes[0].listen, "SET", "srv-gossip", "v") == "+OK\r\n"
	}, 10*time.Second, 100*time.Millisecond)
	for i, n := range nodes {
		require.Eventually(t, func() bool { return redisDo(t, n.redis, "GET", "srv-gossip") == "$1\r\nv\r\n" }, 5*time.Second, 20*time.Millisecond,
			"rack %d's Redis has the write", i+1)
	}

	// node 3 leaves the records: the others drop it although gossip still
	// knows it (the provider owns the membership)
	zone.set(ports[:2]...)
	for i := range 2 {
		require.Eventually(t, func() bool { return fmt.Sprint(ringOf(srvs[i])) == fmt.Sprint([]string{want(1 - i)}) }, 10*time.Second, 50*time.Millisecond,
			"node %d drops node 3: %v", i+1, ringOf(srvs[i]))
	}
	kills[2]()
	require.Equal(t, "+OK\r\n", redisDo(t, nodes[0].listen, "SET", "after", "v"), "DC_QUORUM over the two racks left")
}
