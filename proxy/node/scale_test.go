package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/node"
	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// scaleCluster is up to six nodes, one datacenter, racks 1 to 3: nodes 0
// to 2 own token 0 of their rack, nodes 3 to 5 token 2^31. The seed
// provider is a florida server whose answer the test changes, as an
// operator changes the seed provider.
type scaleCluster struct {
	t     *testing.T
	addrs []nodetest.GossipNode
	log   *slog.Logger
	stats map[string]string // dyn_listen -> stats_listen

	// extra is added to every node's configuration
	extra string

	mu    sync.Mutex
	seeds []int // the nodes florida lists
}

const scaleToken = "2147483648"

func newScaleCluster(t *testing.T) *scaleCluster {
	log, _ := testLog(t, slog.LevelInfo)
	c := &scaleCluster{t: t, addrs: nodetest.GossipNodes(t, 6), log: log, stats: map[string]string{}}
	for _, a := range c.addrs {
		c.stats[a.Dyn] = a.Stats
	}
	florida := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		var parts []string
		for _, i := range c.seeds {
			parts = append(parts, fmt.Sprintf("%s:rack%d:dc1:%s", c.addrs[i].Dyn, i%3+1, c.token(i)))
		}
		_, _ = w.Write([]byte(strings.Join(parts, "|")))
	}))
	t.Cleanup(florida.Close)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(florida.URL, "http://"))
	t.Setenv("DYNOMITE_FLORIDA_IP", host)
	t.Setenv("DYNOMITE_FLORIDA_PORT", port)
	return c
}

func (c *scaleCluster) token(i int) string {
	if i >= 3 {
		return scaleToken
	}
	return "0"
}

func (c *scaleCluster) setSeeds(nodes ...int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seeds = nodes
}

func (c *scaleCluster) start(i int) *node.Node {
	t := c.t
	a := c.addrs[i]
	yml := fmt.Sprintf("dyn_o_mite:\n  datacenter: dc1\n  rack: rack%d\n  listen: %s\n  dyn_listen: %s\n  stats_listen: %s\n  tokens: '%s'\n"+
		"  servers:\n  - %s:1\n  timeout: 5000\n  server_failure_limit: 1000000\n  dyn_seed_provider: florida_provider\n  gos_interval: 100\n%s",
		i%3+1, a.Listen, a.Dyn, a.Stats, c.token(i), a.Redis, c.extra)
	n, _ := runNode(t, yml, c.log.With("node", i), node.WithPeerStatsAddr(func(peer string) string { return c.stats[peer] }))
	return n
}

// startReady starts nodes 0 to 2 into ns and waits until they are ready.
func (c *scaleCluster) startReady(ns []*node.Node) {
	for i := range 3 {
		ns[i] = c.start(i)
	}
	for i := range 3 {
		proxytest.Eventually(c.t, 30*time.Second, func() bool {
			code, _ := get(c.t, "http://"+c.addrs[i].Stats+"/ready")
			return code == http.StatusOK
		}, "node %d never ready", i)
	}
}

// post sends a JSON body to node i's stats listener and decodes the
// answer into out (when not nil); it returns the status code.
func (c *scaleCluster) post(i int, path string, in, out any) int {
	c.t.Helper()
	b, err := json.Marshal(in)
	require.NoError(c.t, err)
	res, err := http.Post("http://"+c.addrs[i].Stats+path, "application/json", bytes.NewReader(b))
	require.NoError(c.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	if out != nil {
		require.NoError(c.t, json.Unmarshal(body, out), "%s answered %d %s", path, res.StatusCode, body)
	}
	return res.StatusCode
}

func (c *scaleCluster) scaleStatus(i int) admin.ScaleStatus {
	c.t.Helper()
	code, body := get(c.t, "http://"+c.addrs[i].Stats+"/scale")
	require.Equal(c.t, http.StatusOK, code, body)
	var st admin.ScaleStatus
	require.NoError(c.t, json.Unmarshal([]byte(body), &st))
	return st
}

// waitMove waits for the move node i orchestrates to end and returns its
// status.
func (c *scaleCluster) waitMove(i int) admin.ScaleStatus {
	c.t.Helper()
	var st admin.ScaleStatus
	proxytest.Eventually(c.t, 3*time.Minute, func() bool {
		st = c.scaleStatus(i)
		return st.State != admin.ScaleRunning
	}, "the move never ended: %+v", &st)
	return st
}

// holds reports whether node i's Redis holds key.
func (c *scaleCluster) holds(conns []*proxytest.Conn, i int, key string) bool {
	return conns[i].Do("EXISTS", key) == ":1\r\n"
}

// Three racks of one node each, 2,000 keys written, a writer running
// throughout: one node joins each rack with token 2^31 (POST /scale join,
// then the seed provider lists them). When the move is done every key is
// on its new owner's Redis and nowhere else in its rack (the old owners
// were cleaned), and every key reads through every node. Then the three
// leave again (POST /scale leave): every key is back on the one node of
// its rack and reads through the remaining nodes.
func TestScaleOutAndInMovesEveryKey(t *testing.T) {
	node.SetScaleTiming(t.Cleanup, time.Minute, 100*time.Millisecond)
	c := newScaleCluster(t)
	c.setSeeds(0, 1, 2)
	ns := make([]*node.Node, 6)
	c.startReady(ns)
	redis := make([]*proxytest.Conn, 6)
	for i, a := range c.addrs {
		redis[i] = proxytest.Dial(t, a.Redis)
	}

	const n = 2000
	var keys []string
	w := proxytest.Dial(t, c.addrs[0].Listen)
	for i := range n {
		k := "k:" + strconv.Itoa(i)
		require.Equal(t, "+OK\r\n", w.Do("SET", k, "v"+strconv.Itoa(i)))
		keys = append(keys, k)
	}
	for i := range 3 {
		proxytest.Eventually(t, 30*time.Second, func() bool { return redis[i].Do("DBSIZE") == fmt.Sprintf(":%d\r\n", n) },
			"rack %d never got every write", i+1)
	}

	// a writer through node 1 for the whole move: what it writes while
	// the ranges move must end on the new owners too
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		live    []string
		failure atomic.Value
	)
	wg.Go(func() {
		cl := proxytest.Dial(t, c.addrs[1].Listen)
		for j := 0; !stop.Load(); j++ {
			k := "live:" + strconv.Itoa(j)
			if r, err := cl.TryDo("SET", k, "x"); err != nil || r != "+OK\r\n" {
				failure.Store(fmt.Sprintf("SET %s: %q %v", k, r, err))
				return
			}
			mu.Lock()
			live = append(live, k)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})

	// the new nodes run, the seed provider does not list them yet
	for i := 3; i < 6; i++ {
		ns[i] = c.start(i)
	}
	var st admin.ScaleStatus
	join := []string{c.addrs[3].Dyn, c.addrs[4].Dyn, c.addrs[5].Dyn}
	require.Equal(t, http.StatusAccepted, c.post(0, "/scale", admin.ScaleRequest{Join: join}, &st))
	require.Equal(t, admin.ScaleRunning, st.State)
	require.Equal(t, join, st.Join)
	proxytest.Eventually(t, time.Minute, func() bool { return c.scaleStatus(0).Phase == "dual" }, "phase dual never installed everywhere")
	for i := range 6 {
		require.Equal(t, "dual", string(ns[i].Server().ScalePlan().Phase))
	}
	// a second move is refused while this one runs, on any node
	require.Equal(t, http.StatusConflict, c.post(0, "/scale", admin.ScaleRequest{Join: join}, nil))
	var refusal struct{ Error string }
	require.Equal(t, http.StatusConflict, c.post(1, "/scale", admin.ScaleRequest{Join: join}, &refusal))
	require.Contains(t, refusal.Error, "phase dual")
	c.setSeeds(0, 1, 2, 3, 4, 5)

	st = c.waitMove(0)
	require.Equal(t, admin.ScaleDone, st.State, "%+v", st)
	require.Equal(t, "done", st.Phase)
	require.Len(t, st.Transfers, 3)
	var copied int64
	for r, tr := range st.Transfers {
		require.Equal(t, admin.ScaleTransferJSON{DC: "dc1", Rack: fmt.Sprintf("rack%d", r+1), From: c.addrs[r].Dyn, To: c.addrs[r+3].Dyn,
			Ranges: "(0, " + scaleToken + "]", Keys: tr.Keys, Skipped: tr.Skipped, Bytes: tr.Bytes, Done: true}, tr)
		copied += tr.Keys
	}
	require.Positive(t, copied)
	require.Len(t, st.Cleanups, 3)
	for r, cl := range st.Cleanups {
		require.Equal(t, c.addrs[r].Dyn, cl.Node)
		require.Equal(t, admin.ScaleDone, cl.State, cl.Error)
		require.Positive(t, cl.Deleted)
	}
	ranges := 0
	for _, tr := range st.Transfers {
		ranges += strings.Count(tr.Ranges, "(")
	}
	for _, s := range ns[0].Jobs().List() {
		if s.Kind == jobs.Scale {
			require.Equal(t, jobs.Done, s.State)
			// the job counts the ranges of every transfer, not the last one's
			require.Equal(t, ranges, s.RangesTotal)
			require.Equal(t, ranges, s.RangesDone)
		}
	}
	stop.Store(true)
	wg.Wait()
	require.Nil(t, failure.Load())
	// the keys written during the move are checked on their owners only:
	// a copy in flight from a coordinator that had not taken phase done
	// yet may reach an old owner after its cleanup passed the key
	mu.Lock()
	before := len(keys)
	keys = append(keys, live...)
	mu.Unlock()
	t.Logf("move done: %d keys copied, %d written during the move", copied, len(live))

	topo := ns[0].Server().Topology()
	half := ring.Token(2147483648)
	// rack r's owner of key: the new node for tokens in (0, 2^31]
	owner := func(key string, r int) (own, other int) {
		tok, _ := topo.KeyToken([]byte(key))
		if tok > 0 && tok <= half {
			return r + 3, r
		}
		return r, r + 3
	}
	checkPlacement := func(nodes int) {
		for ki, k := range keys {
			for r := range 3 {
				own, other := owner(k, r)
				if nodes == 3 {
					own, other = r, -1
				}
				proxytest.Eventually(t, 30*time.Second, func() bool { return c.holds(redis, own, k) },
					"key %s is not on its owner in rack %d (node %d)", k, r+1, own)
				if other >= 0 && ki < before {
					require.False(t, c.holds(redis, other, k), "key %s is still on node %d, which does not own it", k, other)
				}
			}
		}
	}
	checkReads := func(nodes []int) {
		for _, i := range nodes {
			cl := proxytest.Dial(t, c.addrs[i].Listen)
			for _, k := range keys {
				r := cl.Do("GET", k)
				require.True(t, strings.HasPrefix(r, "$"), "GET %s through node %d: %q", k, i, r)
				require.NotEqual(t, "$-1\r\n", r, "GET %s through node %d: missing", k, i)
			}
		}
	}
	checkPlacement(6)
	checkReads([]int{0, 1, 2, 3, 4, 5})

	// scale in: the three leave again
	require.Equal(t, http.StatusAccepted, c.post(2, "/scale", admin.ScaleRequest{Leave: join}, &st))
	st = c.waitMove(2)
	require.Equal(t, admin.ScaleDone, st.State, "%+v", st)
	require.Len(t, st.Transfers, 3)
	for r, tr := range st.Transfers {
		require.Equal(t, c.addrs[r+3].Dyn, tr.From)
		require.Equal(t, c.addrs[r].Dyn, tr.To)
		require.True(t, tr.Done)
	}
	require.Empty(t, st.Cleanups, "the leaving nodes are not cleaned: they are stopped")
	c.setSeeds(0, 1, 2)
	checkPlacement(3)
	checkReads([]int{0, 1, 2})
	for i := range 3 {
		require.Equal(t, fmt.Sprintf(":%d\r\n", len(keys)), redis[i].Do("DBSIZE"))
	}
}

// A move whose joining node never answers waits for it, and POST
// /scale/abort ends it: phase aborted on every node that answers, the
// ring as before, and a second abort is refused.
func TestScaleAbortBeforeTheSwitch(t *testing.T) {
	node.SetScaleTiming(t.Cleanup, 15*time.Second, 100*time.Millisecond)
	c := newScaleCluster(t)
	c.setSeeds(0, 1, 2)
	ns := make([]*node.Node, 3)
	for i := range 3 {
		ns[i] = c.start(i)
	}
	ghost := c.addrs[3].Dyn // never started
	var st admin.ScaleStatus
	code := c.post(0, "/scale", admin.ScaleRequest{Join: []string{ghost}}, &st)
	require.Equal(t, http.StatusAccepted, code)
	proxytest.Eventually(t, 30*time.Second, func() bool {
		st = c.scaleStatus(0)
		for _, nd := range st.Nodes {
			if nd.Name == ghost && nd.Error != "" {
				return true
			}
		}
		return false
	}, "the unreachable node was never reported: %+v", &st)
	for i := range 3 {
		proxytest.Eventually(t, 10*time.Second, func() bool {
			p := ns[i].Server().ScalePlan()
			return p != nil && p.Phase == "dual"
		}, "node %d never got phase dual", i)
	}
	require.Equal(t, http.StatusOK, c.post(0, "/scale/abort", nil, &st))
	st = c.waitMove(0)
	require.Equal(t, admin.ScaleAborted, st.State)
	require.Contains(t, st.Error, "aborted by POST /scale/abort")
	require.Contains(t, st.Error, ghost, "the node that never took phase aborted is named")
	for i := range 3 {
		require.Equal(t, "aborted", string(ns[i].Server().ScalePlan().Phase))
		require.Len(t, ns[i].Server().Topology().Nodes(), 3)
	}
	var refusal struct{ Error string }
	require.Equal(t, http.StatusConflict, c.post(0, "/scale/abort", nil, &refusal))
	require.Contains(t, refusal.Error, "no move is running")

	// bad requests name the bad value
	res, err := http.Post("http://"+c.addrs[0].Stats+"/scale", "application/json", strings.NewReader(`{"leave":["nosuch:1"]}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Contains(t, string(body), `"nosuch:1"`)
	require.Equal(t, http.StatusBadRequest, c.post(0, "/scale/plan", admin.ScalePlanJSON{ID: "x", Phase: "sideways"}, nil))
}

// The joining node's Redis is down when the copy starts: the copy fails
// and is retried, the move stays in phase dual (it never switches with an
// incomplete copy) and a cleanup is refused meanwhile; once the Redis is
// back the move completes and the new owner holds its keys.
func TestScaleCopyRetriesAndNeverSwitchesEarly(t *testing.T) {
	node.SetScaleTiming(t.Cleanup, time.Minute, 200*time.Millisecond)
	c := newScaleCluster(t)
	target := proxytest.StartRedis(t)
	c.addrs[3].Redis = target.Addr
	c.setSeeds(0, 1, 2)
	ns := make([]*node.Node, 4)
	c.startReady(ns)
	const n = 500
	w := proxytest.Dial(t, c.addrs[0].Listen)
	for i := range n {
		require.Equal(t, "+OK\r\n", w.Do("SET", "k:"+strconv.Itoa(i), "v"))
	}
	old := proxytest.Dial(t, c.addrs[0].Redis)
	proxytest.Eventually(t, 30*time.Second, func() bool { return old.Do("DBSIZE") == fmt.Sprintf(":%d\r\n", n) }, "rack 1 never got every write")

	ns[3] = c.start(3)
	target.Stop()
	var st admin.ScaleStatus
	require.Equal(t, http.StatusAccepted, c.post(1, "/scale", admin.ScaleRequest{Join: []string{c.addrs[3].Dyn}}, &st))
	c.setSeeds(0, 1, 2, 3)
	proxytest.Eventually(t, time.Minute, func() bool {
		st = c.scaleStatus(1)
		return strings.Contains(st.Error, target.Addr) && strings.HasPrefix(st.Step, "copying") && !strings.Contains(st.Step, "(attempt 1)")
	}, "the failed copy was never reported and retried: %+v", &st)
	require.Equal(t, admin.ScaleRunning, st.State)
	require.Equal(t, "dual", st.Phase)
	for i := range 4 {
		require.Equal(t, "dual", string(ns[i].Server().ScalePlan().Phase), "node %d", i)
	}
	var refusal struct{ Error string }
	require.Equal(t, http.StatusConflict, c.post(0, "/cleanup", nil, &refusal))
	require.Contains(t, refusal.Error, "phase dual")

	target.Start()
	st = c.waitMove(1)
	require.Equal(t, admin.ScaleDone, st.State, "%+v", st)
	require.Len(t, st.Transfers, 1)
	require.Equal(t, c.addrs[0].Dyn, st.Transfers[0].From)
	require.Equal(t, c.addrs[3].Dyn, st.Transfers[0].To)
	require.Len(t, st.Cleanups, 1)
	require.Equal(t, admin.ScaleDone, st.Cleanups[0].State)

	var scaleJobs []jobs.Snapshot
	for _, s := range ns[1].Jobs().List() {
		if s.Kind == jobs.Scale {
			scaleJobs = append(scaleJobs, s)
		}
	}
	require.Len(t, scaleJobs, 1)
	require.Equal(t, jobs.Done, scaleJobs[0].State)
	require.GreaterOrEqual(t, scaleJobs[0].FailedAttempts, 1)

	topo := ns[0].Server().Topology()
	nt := proxytest.Dial(t, target.Addr)
	moved := 0
	for i := range n {
		k := "k:" + strconv.Itoa(i)
		tok, _ := topo.KeyToken([]byte(k))
		if tok > 0 && tok <= 2147483648 {
			moved++
			require.Equal(t, ":1\r\n", nt.Do("EXISTS", k), "key %s on its new owner", k)
			require.Equal(t, ":0\r\n", old.Do("EXISTS", k), "key %s left on its old owner", k)
		} else {
			require.Equal(t, ":1\r\n", old.Do("EXISTS", k), "key %s on its owner", k)
		}
	}
	require.Positive(t, moved)
	require.Equal(t, int64(moved), st.Transfers[0].Keys)
	require.Equal(t, int64(n-moved), mustInt(t, old.Do("DBSIZE")))
	_, info := get(t, "http://"+c.addrs[0].Stats+"/info")
	require.Contains(t, info, `"scale_phase":"done"`)
	require.Contains(t, info, fmt.Sprintf(`"cleanup_keys_deleted":%d`, moved))
}

func mustInt(t *testing.T, reply string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(reply, ":"), "\r\n"), 10, 64)
	require.NoError(t, err, reply)
	return v
}

// The same move on memcached: node 3 joins rack 1, its range is copied
// with metadump and add, the old owner is cleaned with delete, and every
// key reads through every node.
func TestScaleOutMemcached(t *testing.T) {
	node.SetScaleTiming(t.Cleanup, time.Minute, 200*time.Millisecond)
	c := newScaleCluster(t)
	c.extra = "  data_store: 1\n"
	mc := make([]*proxytest.Process, 4)
	for i := range mc {
		mc[i] = proxytest.StartMemcached(t)
		c.addrs[i].Redis = mc[i].Addr
	}
	c.setSeeds(0, 1, 2)
	ns := make([]*node.Node, 4)
	c.startReady(ns)
	const n = 400
	w := proxytest.Dial(t, c.addrs[0].Listen)
	for i := range n {
		require.Equal(t, "STORED\r\n", mcDo(t, w, "set k:"+strconv.Itoa(i)+" 0 0 1\r\nv\r\n"))
	}
	ns[3] = c.start(3)
	var st admin.ScaleStatus
	require.Equal(t, http.StatusAccepted, c.post(2, "/scale", admin.ScaleRequest{Join: []string{c.addrs[3].Dyn}}, &st))
	c.setSeeds(0, 1, 2, 3)
	st = c.waitMove(2)
	require.Equal(t, admin.ScaleDone, st.State, "%+v", st)
	require.Len(t, st.Transfers, 1)
	require.Len(t, st.Cleanups, 1)
	require.Equal(t, admin.ScaleDone, st.Cleanups[0].State, st.Cleanups[0].Error)

	topo := ns[0].Server().Topology()
	oldDS, newDS := proxytest.Dial(t, mc[0].Addr), proxytest.Dial(t, mc[3].Addr)
	moved := 0
	for i := range n {
		k := "k:" + strconv.Itoa(i)
		tok, _ := topo.KeyToken([]byte(k))
		own, other := oldDS, newDS
		if tok > 0 && tok <= 2147483648 {
			own, other = newDS, oldDS
			moved++
		}
		proxytest.Eventually(t, 30*time.Second, func() bool { return mcDo(t, own, "get "+k+"\r\n") != "END\r\n" }, "key %s not on its owner", k)
		require.Equal(t, "END\r\n", mcDo(t, other, "get "+k+"\r\n"), "key %s on the node of rack 1 that does not own it", k)
	}
	require.Positive(t, moved)
	require.Equal(t, int64(moved), st.Cleanups[0].Deleted)
	for i := range 4 {
		cl := proxytest.Dial(t, c.addrs[i].Listen)
		for j := range n {
			k := "k:" + strconv.Itoa(j)
			require.NotEqual(t, "END\r\n", mcDo(t, cl, "get "+k+"\r\n"), "get %s through node %d", k, i)
		}
	}
}

// mcDo sends one memcached request and returns its reply (a retrieval's
// whole reply, up to END).
func mcDo(t *testing.T, c *proxytest.Conn, req string) string {
	t.Helper()
	c.Send([]byte(req))
	frame := proxytest.MemcacheLine
	if strings.HasPrefix(req, "get ") {
		frame = proxytest.MemcacheRetrieval
	}
	b, err := c.Read(frame)
	require.NoError(t, err, "%q", req)
	return string(b)
}

// While nodes join or leave, a node's ranges and replicas come from one
// side of the move: a warm-up or an anti-entropy repair started then is
// refused (409, saying why) and allowed again once the move is over.
func TestWarmUpAndRepairAreRefusedDuringAMove(t *testing.T) {
	c := newScaleCluster(t)
	c.setSeeds(0, 1, 2)
	ns := make([]*node.Node, 6)
	c.startReady(ns)
	// node 3 runs nowhere: the seed provider listing it and a plan naming
	// it joining are enough to move
	c.setSeeds(0, 1, 2, 3)
	proxytest.Eventually(t, 30*time.Second, func() bool {
		_, body := get(t, "http://"+c.addrs[0].Stats+"/ring")
		return strings.Contains(body, c.addrs[3].Dyn)
	}, "node 0 never listed node 3")
	var plan admin.ScalePlanJSON
	require.Equal(t, http.StatusOK, c.post(0, "/scale/plan", admin.ScalePlanJSON{ID: "m", Join: []string{c.addrs[3].Dyn}, Phase: "dual"}, &plan))
	var refusal struct{ Error string }
	require.Equal(t, http.StatusConflict, c.post(0, "/repair", nil, &refusal))
	require.Contains(t, refusal.Error, "nodes are joining or leaving the ring")
	refusal.Error = ""
	require.Equal(t, http.StatusConflict, c.post(0, "/warmup", nil, &refusal))
	require.Contains(t, refusal.Error, "nodes are joining or leaving the ring")
	// the move aborted: the ring no longer moves
	require.Equal(t, http.StatusOK, c.post(0, "/scale/plan", admin.ScalePlanJSON{ID: "m", Join: []string{c.addrs[3].Dyn}, Phase: "aborted"}, &plan))
	var st admin.RepairStatus
	require.Equal(t, http.StatusAccepted, c.post(0, "/repair", map[string]any{"dry_run": true}, &st))
}
