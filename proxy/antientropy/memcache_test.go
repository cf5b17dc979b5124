package antientropy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// mc is a text-protocol connection for the test to load and inspect a
// memcached.
type mc struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialMC(t *testing.T, addr string) *mc {
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &mc{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// do sends one command line (and data) and returns the first reply line.
func (m *mc) do(cmd string, data ...string) string {
	m.t.Helper()
	b := cmd + "\r\n"
	for _, d := range data {
		b += d + "\r\n"
	}
	_, err := m.nc.Write([]byte(b))
	require.NoError(m.t, err)
	l, err := m.r.ReadString('\n')
	require.NoError(m.t, err)
	return strings.TrimSpace(l)
}

// get returns "flags value" or "" for a miss, and the TTL left.
func (m *mc) get(key string) (string, string) {
	m.t.Helper()
	l := m.do("mg " + key + " v f t")
	if l == "EN" {
		return "", ""
	}
	f := strings.Fields(l)
	v, err := m.r.ReadString('\n')
	require.NoError(m.t, err)
	return f[2] + " " + strings.TrimSpace(v), f[3]
}

func (m *mc) set(key, val string, flags, ttl int) {
	m.t.Helper()
	require.Equal(m.t, "STORED", m.do(fmt.Sprintf("set %s %d %d %d", key, flags, ttl, len(val)), val))
}

// TestRepairMemcachedReplicas: three real memcached with the same items;
// on single replicas an item is deleted, given another value, other client
// flags or a TTL, or added. One repair finds exactly those inside the
// ranges and fixes them by majority; a second finds nothing.
func TestRepairMemcachedReplicas(t *testing.T) {
	var nodes []ring.Node
	var reps []Replica
	var conns []*mc
	for i, p := range [][2]string{{"dc1", "r1"}, {"dc1", "r2"}, {"dc2", "r1"}} {
		addr := proxytest.StartMemcached(t).Addr
		name := fmt.Sprintf("n%d", i)
		nodes = append(nodes, ring.Node{Name: name, DC: p[0], Rack: p[1], Tokens: []ring.Token{1 << 31}})
		reps = append(reps, Replica{Name: name, DC: p[0], Rack: p[1], Datastores: []Datastore{{Addr: addr}}})
		conns = append(conns, dialMC(t, addr))
	}
	topo, err := ring.NewTopology("n0", nodes, ring.Options{})
	require.NoError(t, err)
	c := &cluster{topo: topo, ranges: stream.Ranges{{Start: 0, End: 3 << 30}}}
	all := func(key, val string, flags, ttl int) {
		for _, m := range conns {
			m.set(key, val, flags, ttl)
		}
	}
	for i := range 300 {
		all(fmt.Sprint("item:", i), fmt.Sprint("value ", i), i%3, 0)
	}
	injected := 0
	for i := range 30 {
		for _, in := range []bool{true, false} {
			k, m := c.key("mc", i, in), conns[i%3]
			all(k, "good", 7, 0)
			switch i % 5 {
			case 0:
				require.Equal(t, "HD", m.do("md "+k))
			case 1:
				m.set(k, "stale", 7, 0)
			case 2:
				m.set(k, "good", 8, 0)
			case 3:
				m.set(k, "good", 7, 7200)
			case 4:
				k += ":extra"
				in = c.in(k)
				m.set(k, "x", 0, 0)
			}
			if in {
				injected++
			}
		}
	}
	require.Greater(t, injected, 20)
	run := func() Result {
		r, err := New(Options{Topology: topo, Ranges: c.ranges, Replicas: reps, Protocol: stream.Memcached, ScanCount: 40})
		require.NoError(t, err)
		res, err := r.Run(context.Background())
		require.NoError(t, err)
		require.Zero(t, res.Errors, res.LastError)
		return res
	}
	res := run()
	require.Equal(t, int64(injected), res.Found, "%+v", res.Keys)
	require.Equal(t, int64(injected), res.Fixed)
	require.Equal(t, int64(injected), res.ByMajority)
	for i := range 30 {
		k := c.key("mc", i, true)
		if i%5 == 4 {
			if !c.in(k + ":extra") {
				continue
			}
			for _, m := range conns {
				v, _ := m.get(k + ":extra")
				require.Empty(t, v, "%s:extra is on a minority: deleted", k)
			}
			continue
		}
		for r, m := range conns {
			v, ttl := m.get(k)
			require.Equal(t, "f7 good", v, "%s on %d", k, r)
			require.Equal(t, "t-1", ttl, "%s on %d", k, r)
		}
	}
	out := c.key("mc", 1, false)
	v, _ := conns[1].get(out)
	require.Equal(t, "f7 stale", v, "outside the ranges: left alone")
	again := run()
	require.Zero(t, again.Found, "%+v", again.Keys)
	require.Positive(t, again.Scanned)
}
