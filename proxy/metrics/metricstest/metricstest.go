// Package metricstest runs real in-process clusters for the tests of the
// metrics package and of the dashboards (grafana/): one redis-server per
// node, each built from a configuration by proxy/node as the dynomite
// command builds it (metrics.New as the observer, the stats listener with
// /metrics, /info and /historeset). Everything listens on 127.0.0.1. The
// datastore processes and the raw client come from proxytest.
package metricstest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// NeedBinary returns the path of an external program, skipping the test
// without it (failing under CI=true); see proxytest.NeedBinary.
func NeedBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	return proxytest.NeedBinary(t, name, pkg)
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	return proxytest.FreePort(t)
}

// Redis is a redis-server process of one test (Addr, Start, Stop).
type Redis = proxytest.Process

// StartRedis starts a redis-server on a free loopback port; it stops with
// the test.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return proxytest.StartRedis(t)
}

// Node is one in-process node with its metrics and stats listener.
type Node struct {
	DC, Rack string
	Token    ring.Token
	DynAddr  string
	Redis    *Redis

	Server    *proxy.Server
	Metrics   *metrics.Metrics
	Registry  *prometheus.Registry
	Addr      string // client listener
	StatsAddr string // stats listener: /metrics, /info, ...

	cancel context.CancelFunc
	done   chan error
}

// Cluster is a set of nodes that know each other.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
	mod   func(*proxy.Options)
}

// StartCluster starts one redis-server and one node per spec
// "dc/rack/token" and waits until every node sees every peer up. mod, when
// set, adjusts each node's options.
func StartCluster(t testing.TB, specs []string, mod func(*proxy.Options)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, mod: mod}
	for _, sp := range specs {
		f := strings.Split(sp, "/")
		if len(f) != 3 {
			t.Fatalf("bad node spec %q (dc/rack/token)", sp)
		}
		tok, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			t.Fatalf("bad token in %q: %v", sp, err)
		}
		c.Nodes = append(c.Nodes, &Node{DC: f[0], Rack: f[1], Token: ring.Token(tok),
			DynAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)), Redis: StartRedis(t)})
	}
	for i := range c.Nodes {
		c.StartNode(i)
	}
	c.WaitAllUp()
	return c
}

// WaitAllUp waits until every running node sees every peer up.
func (c *Cluster) WaitAllUp() {
	c.t.Helper()
	c.Eventually(15*time.Second, "cluster never fully connected", func() bool {
		for _, n := range c.Nodes {
			if n.Server == nil {
				continue
			}
			for _, p := range n.Server.Peers() {
				if !p.Up {
					return false
				}
			}
		}
		return true
	})
}

// Eventually polls cond until it holds or d passes (proxytest.Eventually).
func (c *Cluster) Eventually(d time.Duration, msg string, cond func() bool) {
	c.t.Helper()
	proxytest.Eventually(c.t, d, cond, "%s", msg)
}

// StartNode starts (or restarts, after StopNode) node i, built by
// proxy/node from a configuration file as the dynomite command builds it.
func (c *Cluster) StartNode(i int) {
	t := c.t
	t.Helper()
	me := c.Nodes[i]
	var seeds strings.Builder
	for j, o := range c.Nodes {
		if j != i {
			if seeds.Len() == 0 {
				seeds.WriteString("  dyn_seeds:\n")
			}
			fmt.Fprintf(&seeds, "  - %s:%s:%s:%d\n", o.DynAddr, o.Rack, o.DC, o.Token)
		}
	}
	yml := fmt.Sprintf("dyn_o_mite:\n  listen: 127.0.0.1:1\n  dyn_listen: %s\n"+
		"  servers:\n  - %s:1\n  datacenter: %s\n  rack: %s\n  tokens: '%d'\n  datastore_connections: 2\n"+
		"  timeout: 1000\n  server_retry_timeout: 300\n  preconnect: true\n  auto_eject_hosts: false\n"+
		"  server_failure_limit: 3\n  client_read_timeout: 0\n%s",
		me.DynAddr, me.Redis.Addr, me.DC, me.Rack, me.Token, seeds.String())
	cfg, err := config.Parse([]byte(yml), "metricstest.yml")
	if err != nil {
		t.Fatal(err)
	}
	// ports the kernel picks (a file must name one in 1..65535)
	cfg.Listen, cfg.StatsListen = config.Endpoint{Host: "127.0.0.1"}, config.Endpoint{Host: "127.0.0.1"}
	opts := []node.Option{node.WithVersion("test")}
	if c.mod != nil {
		opts = append(opts, node.WithProxyOptions(c.mod))
	}
	n, err := node.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	me.Server, me.Metrics, me.Registry = n.Server(), n.Metrics(), n.Registry()
	me.Addr, me.StatsAddr = n.Addr().String(), n.StatsAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	me.cancel, me.done = cancel, make(chan error, 1)
	go func() { me.done <- n.Run(ctx) }()
	t.Cleanup(func() { c.StopNode(i) })
	c.Eventually(10*time.Second, "node never connected every datastore connection", me.Server.Backend().AllUp)
}

// StopNode stops node i (its listeners close; peers see it down).
func (c *Cluster) StopNode(i int) {
	n := c.Nodes[i]
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			c.t.Errorf("node %d stopped with %v", i, err)
		}
	case <-time.After(30 * time.Second):
		c.t.Errorf("node %d did not stop within 30s", i)
		return
	}
	n.Server = nil
}

// Client is a RESP connection to a node: proxytest.Conn with Send taking
// the raw request as a string.
type Client struct{ *proxytest.Conn }

// Dial connects to addr; the connection closes with the test.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	return &Client{proxytest.Dial(t, addr)}
}

// TryDial is Dial returning the error, for load generators.
func TryDial(t testing.TB, addr string) (*Client, error) {
	c, err := proxytest.TryDial(t, addr)
	if err != nil {
		return nil, err
	}
	return &Client{c}, nil
}

// Send writes raw bytes as they are (a partial or malformed request); an
// I/O error fails the test.
func (cl *Client) Send(raw string) {
	cl.Conn.Send([]byte(raw))
}

// Get fetches http://addr/path and returns the body; a status other than
// 200 fails the test.
func Get(t testing.TB, addr, path string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s%s: %s: %s", addr, path, res.Status, b)
	}
	return string(b)
}

// Sum adds the values of the series of metric name whose labels include
// match (counters and gauges: the value; histograms: the sample count). ok
// is false when no series matched.
func Sum(t testing.TB, g prometheus.Gatherer, name string, match map[string]string) (sum float64, ok bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range match {
				if have[k] != v {
					continue series
				}
			}
			ok = true
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, ok
}

// Key returns a key whose token owner in (dc, rack) is node want of the
// cluster, so tests can aim requests; it fails when none is found.
func (c *Cluster) Key(from, want int, prefix string) string {
	c.t.Helper()
	n := c.Nodes[from]
	topo := n.Server.Topology()
	target := c.Nodes[want]
	dc := topo.DCIndex(target.DC)
	rk := topo.RackIndex(dc, target.Rack)
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if o := topo.Lookup([]byte(k), dc, rk); o != nil && o.Addr == target.DynAddr {
			return k
		}
	}
	c.t.Fatalf("no key owned by node %d", want)
	return ""
}
