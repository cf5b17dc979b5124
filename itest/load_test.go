package itest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ---- clients ---------------------------------------------------------

// quietRedis drops go-redis's own log lines (dial retries of the pool):
// the suites count every failure themselves.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }

// Timeouts of the test clients: a request may legitimately take the node's
// timeout plus a cross-datacenter peer's (2 s + 5 s) before it is failed
// over; anything longer is a hang and shows as an i/o timeout error.
const (
	clientDialTimeout = 2 * time.Second
	clientReadTimeout = 10 * time.Second
)

// nodeClient is a go-redis client of one node that dials the node's current
// published address (it changes when the node restarts), with no retries of
// its own (neither of requests nor of dials), and sets the connection's consistency with
// DYNO_CONFIG:CONN_CONSISTENCY when level is not empty.
func nodeClient(n *Node, level string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: n.Role, // only a name: Dialer picks the address
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: clientDialTimeout}
			return d.DialContext(ctx, network, n.Addr())
		},
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialerRetries:   1,
		DialTimeout:     clientDialTimeout,
		ReadTimeout:     clientReadTimeout,
		WriteTimeout:    clientDialTimeout,
		// A worker sends one request at a time, so one connection is used.
		// The size only keeps go-redis's dial circuit breaker shut: after
		// PoolSize failed dials in a row it returns the last dial error
		// without dialing, probing once a second, which would count a
		// node that is back as still refusing connections.
		PoolSize:    10000,
		PoolTimeout: clientReadTimeout,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			if level == "" {
				return nil
			}
			return cn.Do(ctx, "DYNO_CONFIG:CONN_CONSISTENCY", level).Err()
		},
	})
}

// storeClient is a go-redis client of a Redis container, straight to its
// published port.
func storeClient(c *Ctr) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: c.Role,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			a, err := c.HostAddr("6379/tcp")
			if err != nil {
				return nil, err
			}
			d := net.Dialer{Timeout: clientDialTimeout}
			return d.DialContext(ctx, network, a)
		},
		Protocol: 2, DisableIdentity: true, MaxRetries: 2,
		DialTimeout: clientDialTimeout, ReadTimeout: 5 * time.Second, PoolSize: 2,
	})
}

// missingIn returns which of the writes the Redis does not hold with their
// value (missing) or holds with another value (wrong).
func missingIn(ctx context.Context, rc *redis.Client, ws []Write) (missing, wrong []Write, err error) {
	for i := 0; i < len(ws); i += 500 {
		batch := ws[i:min(i+500, len(ws))]
		keys := make([]string, len(batch))
		for j, w := range batch {
			keys[j] = w.Key
		}
		vals, err := rc.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, nil, err
		}
		for j, v := range vals {
			switch s, _ := v.(string); {
			case v == nil:
				missing = append(missing, batch[j])
			case s != batch[j].Val:
				wrong = append(wrong, batch[j])
			}
		}
	}
	return missing, wrong, nil
}

// ---- error texts -------------------------------------------------------

var (
	hostPortRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	ipPortRE   = regexp.MustCompile(`(\d+\.\d+\.\d+\.\d+):(\d{5})\b`)
)

// errText is an error's text with the varying parts (ephemeral ports)
// masked, so that equal failures count together.
func errText(err error) string {
	var ne net.Error
	s := err.Error()
	if errors.As(err, &ne) && ne.Timeout() {
		s = "client timeout: " + s
	}
	s = hostPortRE.ReplaceAllString(s, "127.0.0.1:P")
	s = ipPortRE.ReplaceAllString(s, "$1:P")
	return s
}

// Counts are successes and failures by text, and the slowest request,
// safe for concurrent use.
type Counts struct {
	mu   sync.Mutex
	OK   int
	Errs map[string]int
	Max  time.Duration
}

func (c *Counts) ok() { c.okIn(0) }

func (c *Counts) okIn(d time.Duration) {
	c.mu.Lock()
	c.OK++
	c.Max = max(c.Max, d)
	c.mu.Unlock()
}

func (c *Counts) fail(text string) { c.failIn(text, 0) }

func (c *Counts) failIn(text string, d time.Duration) {
	c.mu.Lock()
	if c.Errs == nil {
		c.Errs = map[string]int{}
	}
	c.Errs[text]++
	c.Max = max(c.Max, d)
	c.mu.Unlock()
}

func (c *Counts) Failed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.Errs {
		n += v
	}
	return n
}

func (c *Counts) Total() int { return c.OK + c.Failed() }

// String is "ok/total" and the errors by text, most frequent first.
func (c *Counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.OK
	for _, v := range c.Errs {
		n += v
	}
	s := fmt.Sprintf("%d/%d ok", c.OK, n)
	if c.Max > 0 {
		s += fmt.Sprintf(" (slowest %s)", c.Max.Round(time.Millisecond))
	}
	if len(c.Errs) > 0 {
		s += " " + fmtErrs(c.Errs)
	}
	return s
}

func fmtErrs(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || (l[i].v == l[j].v && l[i].k < l[j].k) })
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = fmt.Sprintf("%d× %q", e.v, e.k)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ---- load --------------------------------------------------------------

// Write is an acknowledged write.
type Write struct {
	Key, Val string
	Worker   string
	Phase    string
	Seq      int
}

// Worker writes fresh keys (SET) through one node at one consistency level
// and reads back the key it wrote last (GET), until stopped. With Fallback,
// a failed request is retried once through the next node of the list (a
// client that knows the cluster, like Dyno).
type Worker struct {
	Name     string
	Level    string
	Node     *Node
	Fallback []*Node
	Prefix   string
	Pause    time.Duration

	load    *Load
	clients []*redis.Client // Node, then Fallback

	mu    sync.Mutex
	acked []Write
	seq   int
}

// Load runs workers and counts what they see per phase and operation.
type Load struct {
	t       *testing.T
	phase   atomic.Pointer[string]
	mu      sync.Mutex
	counts  map[string]*Counts // "phase|worker|op"
	phases  []string
	workers []*Worker
	stop    chan struct{}
	wg      sync.WaitGroup
	ops     atomic.Int64
	retried atomic.Int64
	retries map[string]int
}

func newLoad(t *testing.T, phase string) *Load {
	l := &Load{t: t, counts: map[string]*Counts{}, stop: make(chan struct{}), retries: map[string]int{}}
	l.SetPhase(phase)
	return l
}

// SetPhase starts a new phase: operations are counted under its name.
func (l *Load) SetPhase(p string) {
	l.mu.Lock()
	l.phases = append(l.phases, p)
	l.mu.Unlock()
	l.phase.Store(&p)
}

func (l *Load) counter(phase, worker, op string) *Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := phase + "|" + worker + "|" + op
	c := l.counts[k]
	if c == nil {
		c = &Counts{}
		l.counts[k] = c
	}
	return c
}

// Add starts a worker.
func (l *Load) Add(w *Worker) {
	w.load = l
	if w.Pause == 0 {
		w.Pause = 5 * time.Millisecond
	}
	for _, n := range append([]*Node{w.Node}, w.Fallback...) {
		w.clients = append(w.clients, nodeClient(n, w.Level))
	}
	l.workers = append(l.workers, w)
	l.wg.Go(w.run)
}

// Stop stops the workers and waits for their last request.
func (l *Load) Stop() {
	close(l.stop)
	l.wg.Wait()
	for _, w := range l.workers {
		for _, c := range w.clients {
			_ = c.Close()
		}
	}
}

func (w *Worker) run() {
	ctx := context.Background()
	for {
		select {
		case <-w.load.stop:
			return
		default:
		}
		phase := *w.load.phase.Load()
		w.seq++
		key := fmt.Sprintf("%s:%s:%06d", w.Prefix, w.Name, w.seq)
		val := fmt.Sprintf("v%d-%d", w.seq, time.Now().UnixNano()%1e6)
		t0 := time.Now()
		err := w.do(ctx, func(c *redis.Client) error { return c.Set(ctx, key, val, 0).Err() })
		w.load.ops.Add(1)
		if err != nil {
			w.load.counter(phase, w.Name, "set").failIn(errText(err), time.Since(t0))
		} else {
			w.load.counter(phase, w.Name, "set").okIn(time.Since(t0))
			w.mu.Lock()
			w.acked = append(w.acked, Write{Key: key, Val: val, Worker: w.Name, Phase: phase, Seq: w.seq})
			w.mu.Unlock()
			// Read back what was just acknowledged.
			var got string
			t0 := time.Now()
			err := w.do(ctx, func(c *redis.Client) error {
				var e error
				got, e = c.Get(ctx, key).Result()
				return e
			})
			w.load.ops.Add(1)
			rc := w.load.counter(phase, w.Name, "get")
			d := time.Since(t0)
			switch {
			case errors.Is(err, redis.Nil):
				rc.failIn(staleRead, d)
			case err != nil:
				rc.failIn(errText(err), d)
			case got != val:
				rc.failIn(fmt.Sprintf("wrong value: %q, want %q", got, val), d)
			default:
				rc.okIn(d)
			}
		}
		select {
		case <-w.load.stop:
			return
		case <-time.After(w.Pause):
		}
	}
}

// do runs one request, and once more through the next node when the first
// attempt fails with anything but a miss (redis.Nil).
func (w *Worker) do(ctx context.Context, f func(*redis.Client) error) error {
	err := f(w.clients[0])
	if err == nil || errors.Is(err, redis.Nil) || len(w.clients) == 1 {
		return err
	}
	w.load.retried.Add(1)
	w.load.mu.Lock()
	w.load.retries[errText(err)]++
	w.load.mu.Unlock()
	next := w.clients[1+w.seq%(len(w.clients)-1)]
	return f(next)
}

// Acked returns every worker's acknowledged writes.
func (l *Load) Acked() []Write {
	var out []Write
	for _, w := range l.workers {
		w.mu.Lock()
		out = append(out, w.acked...)
		w.mu.Unlock()
	}
	return out
}

// Sum adds the counts of the (phase, worker, op) triples that match.
func (l *Load) Sum(match func(phase, worker, op string) bool) *Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := &Counts{Errs: map[string]int{}}
	for k, c := range l.counts {
		p := strings.SplitN(k, "|", 3)
		if !match(p[0], p[1], p[2]) {
			continue
		}
		c.addTo(out)
	}
	return out
}

// addTo adds c's counts to out (whose Errs is not nil).
func (c *Counts) addTo(out *Counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out.OK += c.OK
	out.Max = max(out.Max, c.Max)
	for t, n := range c.Errs {
		out.Errs[t] += n
	}
}

// Report is one line per phase and worker: "phase worker: set a/b ok, get c/d ok [errors]".
func (l *Load) Report() string {
	var b strings.Builder
	for _, p := range l.phases {
		for _, w := range l.workers {
			s := l.Sum(func(ph, wk, op string) bool { return ph == p && wk == w.Name && op == "set" })
			g := l.Sum(func(ph, wk, op string) bool { return ph == p && wk == w.Name && op == "get" })
			if s.Total()+g.Total() == 0 {
				continue
			}
			fmt.Fprintf(&b, "  %-14s %-24s set %s; get %s\n", p, w.Name, s, g)
		}
	}
	return b.String()
}

// Errors sums the errors of every phase, worker and operation.
func (l *Load) Errors() map[string]int {
	return l.Sum(func(string, string, string) bool { return true }).Errs
}

// ---- summary -----------------------------------------------------------

// summary logs the suite's one-line summary (the README's table is made of
// these lines).
func summary(t *testing.T, suite string, start time.Time, format string, a ...any) {
	t.Helper()
	line := fmt.Sprintf("SUMMARY %s (%s): %s", suite, time.Since(start).Round(time.Second), fmt.Sprintf(format, a...))
	t.Log(line)
	summariesMu.Lock()
	summaries = append(summaries, line)
	summariesMu.Unlock()
}

// summaries are printed again together at the end of the run.
var (
	summariesMu sync.Mutex
	summaries   []string
)

// keyRanges writes the sequence numbers of writes as ranges per worker:
// "w1: 12-40,43; w2: 7-19".
func keyRanges(ws []Write) string {
	by := map[string][]int{}
	for _, w := range ws {
		by[w.Worker] = append(by[w.Worker], w.Seq)
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		seqs := by[n]
		sort.Ints(seqs)
		var rs []string
		for i := 0; i < len(seqs); {
			j := i
			for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
				j++
			}
			if i == j {
				rs = append(rs, fmt.Sprint(seqs[i]))
			} else {
				rs = append(rs, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
			}
			i = j + 1
		}
		parts = append(parts, fmt.Sprintf("%s #%s", n, strings.Join(rs, ",")))
	}
	return strings.Join(parts, "; ")
}
