package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// warmCluster is three racks of one node each (DC_ONE), without gossip.
type warmCluster struct {
	t     testing.TB
	addrs []nodetest.GossipNode
	log   *slog.Logger
}

func (c *warmCluster) conf(i int, extra string) string {
	var seeds []string
	for j, o := range c.addrs {
		if j != i {
			seeds = append(seeds, fmt.Sprintf("  - %s:rack%d:dc1:0", o.Dyn, j+1))
		}
	}
	a := c.addrs[i]
	return fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '0'\n"+
		"  servers:\n  - %s:1\n  timeout: 5000\n  server_failure_limit: 1000000\n%s  dyn_seeds:\n%s\n",
		i+1, a.Listen, a.Dyn, a.Stats, a.Redis, extra, strings.Join(seeds, "\n"))
}

// start runs node i; the peers' stats listeners are found through the
// test's addresses (every node listens on 127.0.0.1 with its own port).
func (c *warmCluster) start(i int, extra string) (*node.Node, func()) {
	t := c.t
	cfg, err := config.Parse([]byte(c.conf(i, extra)), "node.yml")
	require.NoError(t, err)
	stats := map[string]string{}
	for _, a := range c.addrs {
		stats[a.Dyn] = a.Stats
	}
	n, err := node.New(context.Background(), cfg, node.WithLogger(c.log.With("node", i+1)),
		node.WithPeerStatsAddr(func(peer string) string { return stats[peer] }))
	require.NoError(t, err)
	require.NoError(t, n.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// A rack's Redis is wiped and its node restarted with warm_up while
// clients write and read through every node: every key is on the node's
// Redis when it turns normal, and no read through any node returned a key
// as missing meanwhile.
func TestWarmUpFillsAWipedRackBeforeItServesReads(t *testing.T) {
	log, _ := testLog(t, slog.LevelInfo)
	c := &warmCluster{t: t, addrs: nodetest.GossipNodes(t, 3), log: log}
	ns := make([]*node.Node, 3)
	stops := make([]func(), 3)
	for i := range 3 {
		ns[i], stops[i] = c.start(i, "")
	}
	waitReady := func(i int) {
		proxytest.Eventually(t, 30*time.Second, func() bool {
			code, _ := get(t, "http://"+c.addrs[i].Stats+"/ready")
			return code == http.StatusOK
		}, "node %d never ready", i+1)
	}
	for i := range 3 {
		waitReady(i)
	}

	const old = 4000
	w := proxytest.Dial(t, c.addrs[0].Listen)
	for i := range old {
		require.Equal(t, "+OK\r\n", w.Do("SET", "old:"+strconv.Itoa(i), "v"+strconv.Itoa(i)))
	}
	for _, r := range c.addrs[1:] {
		ds := proxytest.Dial(t, r.Redis)
		proxytest.Eventually(t, 30*time.Second, func() bool { return ds.Do("DBSIZE") == ":"+strconv.Itoa(old)+"\r\n" },
			"%s never got every write", r.Redis)
	}
	rack3 := proxytest.Dial(t, c.addrs[2].Redis)

	// replace rack 3: its Redis is wiped, its node restarts warming up,
	// slowly enough (2000 keys/s) that the clients below overlap it
	stops[2]()
	require.Equal(t, "+OK\r\n", rack3.Do("FLUSHALL"))
	ns[2], stops[2] = c.start(2, "  warm_up: true\n  stream_keys_per_sec: 2000\n")
	require.True(t, ns[2].Server().Warming(), "warming from the start, before it serves anything")
	// the clients start once the links are up: a copy of a write that
	// finds a link down is not kept (no hints_dir), which is not what
	// this test is about
	proxytest.Eventually(t, 30*time.Second, func() bool {
		up := ns[2].Server().Backend().Up()
		for _, n := range ns {
			for _, p := range n.Server().Peers() {
				up = up && (p.Local || p.Up)
			}
		}
		return up
	}, "the restarted node and its peers never connected")

	var (
		stop              atomic.Bool
		wg                sync.WaitGroup
		written           sync.Map // new keys acknowledged
		nwritten          atomic.Int64
		reads, warmReads  atomic.Int64
		missing, failures atomic.Int64
		problems          = make(chan string, 10)
	)
	report := func(s string) {
		select {
		case problems <- s:
		default:
		}
	}
	// client runs body(conn, j) for j = 0, 1, ... on a connection to node
	// i until the test stops the clients
	client := func(i int, body func(cl *proxytest.Conn, j int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := proxytest.TryDial(t, c.addrs[i].Listen)
			if err != nil {
				report(err.Error())
				return
			}
			for j := 0; !stop.Load(); j++ {
				body(cl, j)
			}
		}()
	}
	for i := range 3 { // a writer through each node
		client(i, func(cl *proxytest.Conn, j int) {
			k := fmt.Sprintf("new:%d:%d", i, j)
			if r, err := cl.TryDo("SET", k, "x"); err != nil || r != "+OK\r\n" {
				failures.Add(1)
				report(fmt.Sprintf("SET %s through node %d: %q %v", k, i+1, r, err))
				return
			}
			written.Store(k, true)
			nwritten.Add(1)
		})
	}
	// a reader through each node, of the keys every rack had before the
	// wipe (the keys written since reach the other racks asynchronously at
	// DC_ONE, so a read elsewhere may miss them whether or not a node warms
	// up; they are checked on rack 3's Redis at the end)
	for i := range 3 {
		client(i, func(cl *proxytest.Conn, j int) {
			k := "old:" + strconv.Itoa((j*7919+i)%old)
			warming := ns[2].Server().Warming()
			r, err := cl.TryDo("GET", k)
			reads.Add(1)
			if i == 2 && warming {
				warmReads.Add(1)
			}
			switch {
			case err != nil || strings.HasPrefix(r, "-"):
				failures.Add(1)
				report(fmt.Sprintf("GET %s through node %d: %q %v", k, i+1, r, err))
			case r == "$-1\r\n":
				missing.Add(1)
				report(fmt.Sprintf("GET %s through node %d: missing", k, i+1))
			}
		})
	}

	code, body := get(t, "http://"+c.addrs[2].Stats+"/ready")
	if ns[2].Server().Warming() {
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Contains(t, body, "not ready: warming up")
	}
	proxytest.Eventually(t, 90*time.Second, func() bool { return !ns[2].Server().Warming() }, "the warm-up never completed")
	// the copy is complete before the node turned normal: every key
	// written before the wipe is on rack 3's Redis
	for i := range old {
		k := "old:" + strconv.Itoa(i)
		require.Equal(t, "$"+strconv.Itoa(len("v"+strconv.Itoa(i)))+"\r\nv"+strconv.Itoa(i)+"\r\n", rack3.Do("GET", k), "%s on rack3's Redis", k)
	}
	// let the clients run a little against the normal node, then stop them
	after := reads.Load()
	proxytest.Eventually(t, 30*time.Second, func() bool { return reads.Load() > after+300 }, "the readers stalled")
	stop.Store(true)
	wg.Wait()
	close(problems)
	var ps []string
	for p := range problems {
		ps = append(ps, p)
	}
	require.Zero(t, missing.Load(), "reads that returned a written key as missing: %v", ps)
	require.Zero(t, failures.Load(), "failed requests: %v", ps)
	require.Positive(t, warmReads.Load(), "no read went through the warming node while it warmed")
	t.Logf("%d reads (%d through node 3 while warming), %d new keys written", reads.Load(), warmReads.Load(), nwritten.Load())

	// every acknowledged write reaches rack 3's Redis (the copies of the
	// writes through the other nodes arrive asynchronously)
	written.Range(func(key, _ any) bool {
		proxytest.Eventually(t, 10*time.Second, func() bool { return rack3.Do("GET", key.(string)) == "$1\r\nx\r\n" },
			"%s is not on rack3's Redis", key)
		return true
	})

	_, body = get(t, "http://"+c.addrs[2].Stats+"/streams")
	var list []jobs.Snapshot
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list, 1)
	s := list[0]
	require.Equal(t, jobs.Warmup, s.Kind)
	require.Equal(t, jobs.Done, s.State)
	require.Equal(t, 1, s.RangesTotal)
	require.Equal(t, 1, s.RangesDone)
	require.GreaterOrEqual(t, s.KeysCopied+s.KeysSkipped, int64(old))
	require.Contains(t, s.Name, "from dc1/rack1")
	code, _ = get(t, "http://"+c.addrs[2].Stats+"/ready")
	require.Equal(t, http.StatusOK, code)
}

// post sends POST url and returns the status and body.
func post(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "", nil)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// streamsOf is GET /streams of the node whose stats listener is at addr.
func streamsOf(t *testing.T, addr string) []jobs.Snapshot {
	t.Helper()
	code, body := get(t, "http://"+addr+"/streams")
	require.Equal(t, http.StatusOK, code)
	var list []jobs.Snapshot
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	return list
}

// A warm-up started on a running node (POST /warmup) whose source cannot
// be reached retries, is reported, and keeps the node warming; once the
// source answers it completes.
func TestWarmUpRetriesUntilItCompletes(t *testing.T) {
	node.SetWarmupTiming(t.Cleanup, 50*time.Millisecond, 500*time.Millisecond)
	log, _ := testLog(t, slog.LevelInfo)
	addrs := nodetest.GossipNodes(t, 2)
	var broken atomic.Bool
	stats := map[string]string{addrs[0].Dyn: addrs[0].Stats, addrs[1].Dyn: addrs[1].Stats}
	lookup := func(peer string) string {
		if broken.Load() {
			return "127.0.0.1:1" // nothing listens there
		}
		return stats[peer]
	}
	c := &warmCluster{t: t, addrs: addrs, log: log}
	var ns [2]*node.Node
	for i := range 2 {
		cfg, err := config.Parse([]byte(c.conf(i, "")), "node.yml")
		require.NoError(t, err)
		ns[i], err = node.New(context.Background(), cfg, node.WithLogger(log.With("node", i+1)), node.WithPeerStatsAddr(lookup))
		require.NoError(t, err)
		require.NoError(t, ns[i].Listen())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ns[i].Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	for i := range 2 {
		proxytest.Eventually(t, 30*time.Second, func() bool {
			code, _ := get(t, "http://"+addrs[i].Stats+"/ready")
			return code == http.StatusOK
		}, "node %d never ready", i+1)
	}
	code, body := get(t, "http://"+addrs[0].Stats+"/datastore")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"addr":"`+addrs[0].Redis+`","protocol":"redis","reachable":true}`, body)

	w := proxytest.Dial(t, addrs[0].Listen)
	for i := range 500 {
		require.Equal(t, "+OK\r\n", w.Do("SET", "k"+strconv.Itoa(i), "v"))
	}
	r2 := proxytest.Dial(t, addrs[1].Redis)
	proxytest.Eventually(t, 30*time.Second, func() bool { return r2.Do("DBSIZE") == ":500\r\n" }, "rack2 never got every write")
	require.Equal(t, "+OK\r\n", r2.Do("FLUSHALL"))

	broken.Store(true)
	code, body = post(t, "http://"+addrs[1].Stats+"/warmup")
	require.Equal(t, http.StatusAccepted, code, body)
	require.JSONEq(t, `{"started":true,"id":1}`, body)
	require.True(t, ns[1].Server().Warming())
	code, body = post(t, "http://"+addrs[1].Stats+"/warmup")
	require.Equal(t, http.StatusConflict, code)
	require.JSONEq(t, `{"started":false,"error":"a warm-up is already running (stream 1)"}`, body)

	proxytest.Eventually(t, 30*time.Second, func() bool {
		l := streamsOf(t, addrs[1].Stats)
		return len(l) == 1 && l[0].FailedAttempts >= 2
	}, "the failing warm-up was never retried")
	s := streamsOf(t, addrs[1].Stats)[0]
	require.Equal(t, jobs.Running, s.State)
	require.Contains(t, s.LastError, "asking its stats listener for its datastore")
	require.True(t, ns[1].Server().Warming(), "a failed warm-up never turns the node normal")
	_, body = get(t, "http://"+addrs[1].Stats+"/ready")
	require.Contains(t, body, "not ready: warming up")
	r1 := proxytest.Dial(t, addrs[1].Listen)
	require.Equal(t, "$1\r\nv\r\n", r1.Do("GET", "k7"), "reads through the warming node go to rack 1")
	var info map[string]any
	_, body = get(t, "http://"+addrs[1].Stats+"/info")
	require.NoError(t, json.Unmarshal([]byte(body), &info))
	require.Equal(t, 1.0, info["warming_up"])
	require.GreaterOrEqual(t, info["streams_failed_attempts"], 2.0)

	broken.Store(false)
	proxytest.Eventually(t, 30*time.Second, func() bool { return !ns[1].Server().Warming() }, "the warm-up never completed")
	s = streamsOf(t, addrs[1].Stats)[0]
	require.Equal(t, jobs.Done, s.State)
	require.Equal(t, int64(500), s.KeysCopied)
	require.Equal(t, ":500\r\n", r2.Do("DBSIZE"))
	code, _ = get(t, "http://"+addrs[1].Stats+"/ready")
	require.Equal(t, http.StatusOK, code)
}
