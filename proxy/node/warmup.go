package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// Warm-up: a node whose datastore starts empty (a replaced node) fills it
// with its token ranges from a replica before it serves reads.
//
// It starts with `warm_up: true` (at start, before the node serves
// anything) or POST /warmup (`dynomite warmup`) on a running node. From
// then until the copy is complete the node is "warming": it accepts writes,
// which reach its datastore as usual, and routes the reads it coordinates
// as if its datastore were down (proxy.Server.SetWarming; proxy/warming.go):
// a DC_ONE read fails over to the other racks, a quorum read counts this
// node's copy as failed. /ready answers "warming up", /info has
// warming_up 1, and GET /streams shows the job (kind warmup).
//
// The source is a rack, chosen in this order: the other racks of the
// node's datacenter, then the racks of the other datacenters (in the ring's
// remote order); the first whose every node is connected and not marked
// down. From each node of that rack the stream (proxy/stream) copies the
// keys of this node's own ranges (stream.NodeRanges), which together are
// every key this node owns. The copy uses RESTORE without REPLACE (and
// memcached's add), so a write that reached this node during the warm-up
// is newer and kept.
//
// The source's datastore address comes from the source node itself: GET
// /datastore on its stats listener, which every node serves, answers its
// datastore address as others reach it (a loopback or unspecified host is
// replaced by the node's advertised host, as /ring does for listeners).
// The stats listener is at the peer's dyn_listen host and peer_stats_port
// (default: this node's own stats_listen port, which a cluster usually
// shares: 22222). The datastore is then read directly, not through the
// peer's proxy: SCAN and DUMP are not commands a peer link carries, and the
// source's proxy gains no load. datastore_password is used for both
// datastores.
//
// An attempt that fails (no healthy rack within warmupSourceWait, a
// datastore that drops the connection) is counted (the job's
// failed_attempts, dynomite_stream_attempts_failed_total, which the
// DynomiteWarmUpFailing alert watches), and the warm-up starts over from
// the beginning after a backoff that doubles from warmupBackoffMin to
// warmupBackoffMax: keys already copied are found present and skipped. The
// node turns normal only after an attempt copied every range from every
// node of its source rack; it never turns normal with holes, however long
// that takes.
//
// Reads other nodes coordinate are refused by this node while it warms
// (proxy/warming.go): their DC_ONE reads fail over to the next rack and
// their quorum reads count this copy as failed. Multi-key reads
// coordinated here are refused while warming (see proxy/warming.go); rack-wide commands (SCAN, KEYS, DBSIZE, RANDOMKEY) and
// keys with nothing to hash (an empty hash tag) still use this node's
// datastore, as they always use the receiving node's rack or node. A key deleted while its copy is in flight (between
// DUMP on the source and RESTORE here) comes back on this node only, until
// read repair or anti-entropy settles it.

// Warm-up timing; variables so that tests can shorten them.
var (
	warmupBackoffMin = time.Second
	warmupBackoffMax = time.Minute
	// warmupSourceWait is how long an attempt waits for a healthy rack to
	// copy from (peers being dialled at start) before it counts as failed.
	warmupSourceWait = 30 * time.Second
	// warmupProgressEvery is how often the job's progress is refreshed.
	warmupProgressEvery = 250 * time.Millisecond
)

// WithPeerStatsAddr replaces how the stats listener of a peer (named by
// its dyn_listen host:port) is found: by default its dyn_listen host and
// peer_stats_port. Tests whose nodes share a host use it.
func WithPeerStatsAddr(f func(peer string) string) Option {
	return func(s *settings) { s.peerStats = f }
}

// warmer runs the node's warm-ups, one at a time.
type warmer struct {
	n        *Node
	log      *slog.Logger
	reg      *jobs.Registry
	throttle *stream.Throttle
	proto    stream.Protocol
	// peerStats finds a peer's stats listener; nil: the default
	peerStats func(peer string) string
	http      *http.Client

	mu       sync.Mutex
	password string // datastore_password
	port     int    // peer_stats_port
	job      *jobs.Job
	running  bool // Run started: starts are taken
	atStart  bool // warm_up: start when Run starts
	startc   chan *jobs.Job
}

func newWarmer(n *Node, cfg *config.Config, peerStats func(string) string) *warmer {
	w := &warmer{n: n, log: n.log.With("component", "warmup"), reg: n.metrics.Jobs(),
		throttle:  stream.NewThrottle(int64(cfg.StreamKeysPerSec), int64(cfg.StreamBytesPerSec), nil),
		peerStats: peerStats, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		password: cfg.DatastorePassword, port: cfg.PeerStatsPort, atStart: cfg.WarmUp, startc: make(chan *jobs.Job, 1)}
	if cfg.DataStore == msg.Memcache {
		w.proto = stream.Memcached
	}
	if w.atStart {
		// before the node serves anything: no read may reach the empty
		// datastore
		n.srv.SetWarming(true)
	}
	return w
}

// apply takes the live keys of a reloaded configuration.
func (w *warmer) apply(cfg *config.Config) {
	w.throttle.Set(int64(cfg.StreamKeysPerSec), int64(cfg.StreamBytesPerSec))
	w.mu.Lock()
	w.password, w.port = cfg.DatastorePassword, cfg.PeerStatsPort
	w.mu.Unlock()
}

// start begins a warm-up and returns its job's ID.
func (w *warmer) start() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.job != nil:
		return 0, fmt.Errorf("a warm-up is already running (stream %d)", w.job.Snapshot().ID)
	case !w.running:
		return 0, errors.New("the node is not serving yet")
	case w.n.srv.Topology().NumRacks(w.n.srv.Topology().LocalDC()) < 2 && w.n.srv.Topology().NumDCs() < 2:
		return 0, errors.New("no other rack holds a replica of this node's ranges")
	case w.n.srv.Topology().Moving():
		// its ranges and sources would be one side's of a move
		return 0, errors.New("nodes are joining or leaving the ring (dynomite scale status): warm up after the move")
	}
	w.n.srv.SetWarming(true)
	w.job = w.reg.Start(jobs.Warmup, "looking for a replica")
	w.startc <- w.job // buffered: the loop takes it
	return w.job.Snapshot().ID, nil
}

// run serves warm-ups until ctx ends (a component of Node.Run).
func (w *warmer) run(ctx context.Context) error {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	if w.atStart {
		if _, err := w.start(); err != nil {
			w.log.Error("warm_up is set but no warm-up can run; the node stays warming (reads go to other racks)", "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case job := <-w.startc:
			w.warmUp(ctx, job)
		}
	}
}

// warmUp runs attempts until one completes or ctx ends.
func (w *warmer) warmUp(ctx context.Context, job *jobs.Job) {
	backoff := warmupBackoffMin
	for {
		err := w.attempt(ctx, job)
		if err == nil {
			w.mu.Lock()
			w.n.srv.SetWarming(false)
			job.Finish(nil)
			w.job = nil
			w.mu.Unlock()
			s := job.Snapshot()
			w.log.Info("warm-up complete: the node serves reads", "keys_copied", s.KeysCopied, "keys_skipped", s.KeysSkipped,
				"bytes", s.Bytes, "attempts", s.Attempts, "took", time.Since(s.Started).Round(time.Millisecond))
			return
		}
		if ctx.Err() != nil {
			job.Finish(ctx.Err())
			return // the node stops, still warming
		}
		w.log.Error("warm-up attempt failed; the node keeps its reads elsewhere and tries again", "err", err, "retry_in", backoff)
		job.Retry(err)
		if err := sleepCtx(ctx, backoff); err != nil {
			job.Finish(err)
			return
		}
		backoff = min(2*backoff, warmupBackoffMax)
	}
}

// attempt copies this node's ranges from every node of one healthy rack.
func (w *warmer) attempt(ctx context.Context, job *jobs.Job) error {
	srcs, rack, err := w.pickRack(ctx)
	if err != nil {
		return err
	}
	topo := w.n.srv.Topology()
	local := topo.Local()
	ranges, err := stream.NodeRanges(topo, local.Name)
	if err != nil {
		return err
	}
	job.Rename("ranges " + ranges.String() + " from " + rack)
	w.mu.Lock()
	password := w.password
	w.mu.Unlock()
	dst := stream.Endpoint{Addr: w.n.srv.Backend().Target().Addr, Protocol: w.proto, Password: password}
	var before jobs.Progress // of the source nodes already copied
	for _, peer := range srcs {
		src, err := w.datastoreOf(ctx, peer)
		if err != nil {
			return err
		}
		src.Password = password
		s, err := stream.New(src, dst, ranges, stream.Options{Topology: topo, Throttle: w.throttle})
		if err != nil {
			return err
		}
		w.log.Info("warm-up: copying", "ranges", ranges.String(), "from", src.Addr, "peer", peer.Name, "to", dst.Addr)
		if err := w.runStream(ctx, job, s, before); err != nil {
			return fmt.Errorf("copying from %s (datastore of %s): %w", src.Addr, peer.Name, err)
		}
		before = sum(before, jobs.FromStream(s.Progress()))
	}
	job.Update(before)
	return nil
}

// runStream runs s, refreshing the job's progress meanwhile.
func (w *warmer) runStream(ctx context.Context, job *jobs.Job, s *stream.Stream, before jobs.Progress) error {
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t := time.NewTicker(warmupProgressEvery)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			job.Update(sum(before, jobs.FromStream(s.Progress())))
			return err
		case <-t.C:
			job.Update(sum(before, jobs.FromStream(s.Progress())))
		}
	}
}

// sum adds the counters of b, the source node being copied, to a, those
// copied before; b's rates, ETA and addresses are the current ones. The
// ranges total is the larger: a warm-up copies the same ranges from each
// source node, a move (scale.go) gives a the total of all its transfers.
func sum(a, b jobs.Progress) jobs.Progress {
	b.RangesTotal = max(a.RangesTotal, b.RangesTotal)
	b.RangesDone = min(a.RangesDone+b.RangesDone, b.RangesTotal)
	b.KeysTotal += a.KeysTotal
	b.Scanned += a.Scanned
	b.Copied += a.Copied
	b.Skipped += a.Skipped
	b.Bytes += a.Bytes
	b.Errors += a.Errors
	if b.LastError == "" {
		b.LastError = a.LastError
	}
	return b
}

// pickRack waits up to warmupSourceWait for a rack other than this node's
// whose every node is connected and not marked down, and returns its
// nodes and its name.
func (w *warmer) pickRack(ctx context.Context) ([]ring.Node, string, error) {
	deadline := time.Now().Add(warmupSourceWait)
	for {
		nodes, name, why := w.healthyRack()
		if nodes != nil {
			return nodes, name, nil
		}
		if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("no replica to copy from: %s", why)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return nil, "", err
		}
	}
}

// healthyRack is the first rack in the source order whose nodes are all
// up, or why there is none.
func (w *warmer) healthyRack() ([]ring.Node, string, string) {
	topo := w.n.srv.Topology()
	up := map[string]bool{}
	for _, p := range w.n.srv.Peers() {
		up[p.Name] = p.Up && !p.AdminDown
	}
	var order [][2]int
	for rk := range topo.NumRacks(topo.LocalDC()) {
		if rk != topo.LocalRack() {
			order = append(order, [2]int{topo.LocalDC(), rk})
		}
	}
	for dc := range topo.NumDCs() {
		if dc != topo.LocalDC() {
			for _, rk := range topo.RemoteRackOrder(dc) {
				order = append(order, [2]int{dc, rk})
			}
		}
	}
	if len(order) == 0 {
		return nil, "", "the ring has no other rack"
	}
	var down []string
	for _, o := range order {
		var nodes []ring.Node
		ok := true
		for _, n := range topo.RackNodes(o[0], o[1]) {
			if !up[n.Name] {
				ok = false
				down = append(down, n.DC+"/"+n.Rack+" "+n.Name)
			}
			nodes = append(nodes, *n)
		}
		if ok && len(nodes) > 0 {
			return nodes, topo.DCName(o[0]) + "/" + topo.RackName(o[0], o[1]), ""
		}
	}
	return nil, "", "every other rack has a node not connected or marked down: " + fmt.Sprint(down)
}

// datastoreOf asks peer's stats listener for its datastore (GET /datastore).
func (w *warmer) datastoreOf(ctx context.Context, peer ring.Node) (stream.Endpoint, error) {
	addr := w.statsAddrOf(peer.Name)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/datastore", nil)
	if err != nil {
		return stream.Endpoint{}, fmt.Errorf("peer %s: stats listener %q: %w", peer.Name, addr, err)
	}
	res, err := w.http.Do(req)
	if err != nil {
		return stream.Endpoint{}, fmt.Errorf("peer %s: asking its stats listener for its datastore (set peer_stats_port if it is not this node's): %w", peer.Name, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	var ds admin.DatastoreJSON
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &ds) != nil {
		return stream.Endpoint{}, fmt.Errorf("peer %s: GET http://%s/datastore answered %d %q (an older version?)", peer.Name, addr, res.StatusCode, body)
	}
	switch {
	case !ds.Reachable:
		return stream.Endpoint{}, fmt.Errorf("peer %s: its datastore %s cannot be reached from another host", peer.Name, ds.Addr)
	case ds.Protocol != w.proto.String():
		return stream.Endpoint{}, fmt.Errorf("peer %s: its datastore %s speaks %s, this node's %s", peer.Name, ds.Addr, ds.Protocol, w.proto)
	}
	return stream.Endpoint{Addr: ds.Addr, Protocol: w.proto}, nil
}

// statsAddrOf is the stats listener of the peer named name (its dyn_listen
// host:port).
func (w *warmer) statsAddrOf(name string) string {
	if w.peerStats != nil {
		return w.peerStats(name)
	}
	host, _, err := net.SplitHostPort(name)
	if err != nil {
		host = name
	}
	w.mu.Lock()
	port := w.port
	w.mu.Unlock()
	if port == 0 {
		_, p, _ := net.SplitHostPort(w.n.StatsAddr().String())
		port, _ = strconv.Atoi(p)
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// datastore answers GET /datastore: this node's datastore as peers reach
// it.
func (n *Node) datastore() admin.DatastoreJSON {
	t := n.srv.Backend().Target()
	out := admin.DatastoreJSON{Addr: t.Addr, Protocol: stream.Redis.String(), Reachable: t.Network != "unix"}
	if n.srv.Proto() == msg.Memcache {
		out.Protocol = stream.Memcached.String()
	}
	if host, port, err := net.SplitHostPort(t.Addr); err == nil && out.Reachable {
		ip := net.ParseIP(host)
		if adv := n.advertisedHost(); adv != "" && (host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) {
			out.Addr = net.JoinHostPort(adv, port)
		}
	}
	return out
}
