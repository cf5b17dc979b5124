// Package backend holds the connections from a node to its local datastore
// (Redis or Memcached).
//
// # Overview
//
// A [Pool] keeps `datastore_connections` TCP (or unix) connections. Each one
// has a writer goroutine and a reader goroutine: the writer takes requests
// from a bounded queue, appends their raw bytes to a buffered writer and
// flushes only when the queue is empty (so pipelined and concurrent requests
// share syscalls); the reader parses replies and completes requests in FIFO
// order. Every request handed to [Pool.Send] is completed exactly once: with
// the datastore's reply, or with an error when the datastore is down, ejected,
// times out, or the connection breaks with the request in flight.
//
// # Failure handling
//
//   - No connection: Send fails at once with [msg.ErrDatastoreDown]; requests
//     never wait for a connection (except the first use with preconnect off).
//   - Reconnect: exponential backoff from 100ms, doubling, capped by
//     `server_retry_timeout`.
//   - Timeout: when requests are outstanding and the datastore has made no
//     progress for `timeout`, the connection is closed and everything on it
//     fails with [msg.ErrDatastoreTimeout] (as upstream does). Progress is
//     any byte read from the datastore, or a chunk of a large request it
//     accepted: a 24 MiB reply that is still streaming in, or a 24 MiB value
//     the datastore is still reading, is a slow transfer, not a dead
//     datastore, and failing it would mark a working connection broken.
//   - Auto-eject: with `auto_eject_hosts`, `server_failure_limit` consecutive
//     failures (dial errors, timeouts, broken connections) eject the datastore
//     for `server_retry_timeout`: requests fail fast and no dial is attempted
//     until the period ends. A reply resets the count.
//
// # Metrics
//
// Counters are exposed through [Pool.Stats] and are exported by the admin
// package: requests, replies, errors by cause, ejections, reconnects.
package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// ReplyParser finds the end of the reply to r at the start of buf: the reply
// is buf[hdr:n] (hdr > 0 when the reply comes in a frame, as from a peer).
// complete=false means more bytes are needed; n is then the total reply size
// when the parser already knows it (0 otherwise). A non-nil err means the
// other side sent something unparseable: the connection is closed.
type ReplyParser func(buf []byte, r *msg.Request) (hdr, n int, complete bool, err error)

// HeaderWriter, when set, writes a frame header before each request; id is
// a per-connection sequence number recorded in r.PeerID.
type HeaderWriter func(dst []byte, r *msg.Request, id uint64) []byte

// Options configure a Pool. Zero durations and counts take the defaults noted.
type Options struct {
	// Name identifies the datastore in logs and errors (e.g. "127.0.0.1:22122").
	Name string
	// Role is what the pool connects to, the word its log lines use for it:
	// "datastore" (the default) or "peer" (another node's dnode port). The
	// pool is the same for both; an operator reading `peer connect failed
	// peer=...` knows which side is broken.
	Role string
	// Network is "tcp" or "unix"; Addr is host:port or a socket path.
	Network, Addr string
	// Conns is datastore_connections (default 1).
	Conns int
	// Timeout is the request timeout (default 5s).
	Timeout time.Duration
	// RetryTimeout is server_retry_timeout: the reconnect backoff cap and the
	// ejection period (default 10s).
	RetryTimeout time.Duration
	// Preconnect dials at Start; otherwise on first use.
	Preconnect bool
	// AutoEject and FailureLimit are auto_eject_hosts and server_failure_limit.
	AutoEject    bool
	FailureLimit int
	// Parse finds reply boundaries.
	Parse ReplyParser
	// Header, if set, frames each request (the peer protocol).
	Header HeaderWriter
	// Init, if set, runs on every new connection before it serves (AUTH to
	// the datastore, later).
	Init func(net.Conn) error
	// Dial replaces net.Dialer (tests).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxReply caps a reply's size (default 1 GiB).
	MaxReply int
	// Logger receives connection events (never per-request lines).
	Logger *slog.Logger
	// Observe, if set, is called once per request that got a reply or
	// failed after being written, with the time since it was written.
	Observe func(d time.Duration, failed bool)
}

const (
	minBackoff   = 100 * time.Millisecond
	queueLen     = 1024
	pendingLen   = 8192
	readBufSize  = 16 << 10
	writeBufSize = 16 << 10
	largeReply   = 64 << 10
	// writeChunk: a request larger than this is written in chunks, each one
	// the datastore accepts counting as progress for the watchdog.
	writeChunk = 1 << 20
)

// Stats are cumulative counters of a pool.
type Stats struct {
	Requests, Replies, Errors, Timeouts, DownRejects, Ejections, Connects, ConnectFailures uint64
	Up                                                                                     bool
	// Latency is the smoothed reply time (see Pool.latency); 0 before the
	// first reply.
	Latency time.Duration
}

// Pool is the set of connections to one datastore.
type Pool struct {
	opts Options
	// set is the connections to the current target; Retarget replaces it
	// (retarget.go). tune holds the settings SetTuning changes. Both are
	// read on every request without a lock.
	set  atomic.Pointer[connSet]
	tune atomic.Pointer[Tuning]
	log  *slog.Logger
	msgs logMessages

	failures     atomic.Int64
	factor       atomic.Int32 // timeout multiplier (upstream's REST timeout factor)
	ejectedUntil atomic.Int64 // unix nanos; 0 = not ejected
	// latency is the smoothed reply time in nanoseconds, TCP's smoothed
	// RTT with gain 1/8 (RFC 6298, section 2): it follows a peer slowing
	// down without jumping on one slow reply. Concurrent replies may each
	// overwrite the other's update; it is an indication for operators
	// (dynomite status), not a metric.
	latency atomic.Int64

	requests, replies, errorsN, timeouts, downRejects, ejections, connects, connectFailures atomic.Uint64

	// mu guards ctx and started (Start, Retarget); ctx is what connection
	// sets run under once started
	mu      sync.Mutex
	ctx     context.Context
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// logMessages are the pool's connection log lines, worded for its role
// (built once: the reconnect loop logs them repeatedly).
type logMessages struct{ connectFailed, connected, lost, ejected string }

// New returns a pool; call Start to connect.
func New(opts Options) *Pool {
	if opts.Conns <= 0 {
		opts.Conns = 1
	}
	tune := Tuning{Timeout: opts.Timeout, RetryTimeout: opts.RetryTimeout, AutoEject: opts.AutoEject, FailureLimit: opts.FailureLimit}.withDefaults()
	opts.Timeout, opts.RetryTimeout, opts.FailureLimit = tune.Timeout, tune.RetryTimeout, tune.FailureLimit
	if opts.MaxReply <= 0 {
		opts.MaxReply = 1 << 30
	}
	if opts.Network == "" {
		opts.Network = "tcp"
	}
	if opts.Name == "" {
		opts.Name = opts.Addr
	}
	if opts.Role == "" {
		opts.Role = "datastore"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second} // dial bounds each attempt by the current timeout
		opts.Dial = d.DialContext
	}
	p := &Pool{opts: opts, log: opts.Logger.With("component", "backend", opts.Role, opts.Name)}
	p.msgs = logMessages{
		connectFailed: opts.Role + " connect failed", connected: opts.Role + " connected",
		lost: opts.Role + " connection lost", ejected: opts.Role + " ejected",
	}
	p.factor.Store(1)
	p.tune.Store(&tune)
	p.set.Store(p.newSet(Target{Name: opts.Name, Network: opts.Network, Addr: opts.Addr, Conns: opts.Conns, Init: opts.Init}))
	return p
}

// Start launches the connection goroutines. They run until Close.
func (p *Pool) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.started = true
	p.startSet(p.set.Load())
}

// Close disconnects and fails every queued request with msg.ErrShutdown.
// It returns when all goroutines have exited.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Up reports whether at least one connection is established and the
// datastore is not ejected.
func (p *Pool) Up() bool {
	if p.ejected() {
		return false
	}
	for _, c := range p.set.Load().conns {
		if c.isUp() {
			return true
		}
	}
	return false
}

// AllUp reports whether every connection of the pool is connected (and the
// datastore not ejected). Up is enough to serve; AllUp is what a caller
// waits for before it relies on any client's requests being accepted,
// since Send keeps a client on the connection its hint picks and fails at
// once when that one is down.
func (p *Pool) AllUp() bool {
	if p.ejected() {
		return false
	}
	for _, c := range p.set.Load().conns {
		if !c.isUp() {
			return false
		}
	}
	return true
}

// SetTimeoutFactor multiplies the request timeout by n (1..10).
func (p *Pool) SetTimeoutFactor(n int) { p.factor.Store(int32(min(max(n, 1), 10))) }

// Stats returns a snapshot of the counters.
func (p *Pool) Stats() Stats {
	return Stats{
		Requests: p.requests.Load(), Replies: p.replies.Load(), Errors: p.errorsN.Load(),
		Timeouts: p.timeouts.Load(), DownRejects: p.downRejects.Load(), Ejections: p.ejections.Load(),
		Connects: p.connects.Load(), ConnectFailures: p.connectFailures.Load(), Up: p.Up(),
		Latency: time.Duration(p.latency.Load()),
	}
}

// Send queues r on the connection chosen by hint (a per-client number, so a
// client's requests stay on one connection and keep their order). It never
// blocks for long: when the datastore is unavailable r fails at once.
func (p *Pool) Send(r *msg.Request, hint uint) {
	p.requests.Add(1)
	if p.ejected() {
		p.downRejects.Add(1)
		r.Fail(msg.ErrDatastoreDown)
		return
	}
	p.sendOn(r, hint)
}

// sendOn queues r on the current set's connection for hint.
func (p *Pool) sendOn(r *msg.Request, hint uint) {
	conns := p.set.Load().conns
	conns[hint%uint(len(conns))].send(r, hint)
}

func (p *Pool) ejected() bool {
	until := p.ejectedUntil.Load()
	if until == 0 {
		return false
	}
	if time.Now().UnixNano() < until {
		return true
	}
	p.ejectedUntil.CompareAndSwap(until, 0)
	return false
}

// recordFailure counts a consecutive failure and ejects the datastore when
// the limit is reached.
func (p *Pool) recordFailure(cause error) {
	n := p.failures.Add(1)
	if t := p.tune.Load(); t.AutoEject && n >= int64(t.FailureLimit) {
		until := time.Now().Add(t.RetryTimeout).UnixNano()
		if p.ejectedUntil.Load() == 0 {
			p.ejections.Add(1)
			p.log.Warn(p.msgs.ejected, "failures", n, "for", t.RetryTimeout, "err", cause)
		}
		p.ejectedUntil.Store(until)
		p.failures.Store(0)
	}
}

func (p *Pool) smoothLatency(d int64) {
	if old := p.latency.Load(); old != 0 {
		d = old + (d-old)/8
	}
	p.latency.Store(max(d, 1))
}

func (p *Pool) recordSuccess() {
	if p.failures.Load() != 0 {
		p.failures.Store(0)
	}
}

// conn is one datastore connection slot; it redials for its whole life.
type conn struct {
	p   *Pool
	set *connSet // what it dials
	id  int
	// retired: Retarget replaced this connection's set; send passes
	// requests on to the current set (under mu, so none is queued here
	// after the retirement began)
	retired bool

	in      chan *msg.Request // requests to write
	pending chan *msg.Request // written, awaiting a reply (FIFO)

	mu   sync.RWMutex
	up   bool
	dead chan struct{} // closed when the current connection breaks

	everUp  chan struct{} // closed at the first successful connect
	upOnce  sync.Once
	want    chan struct{} // closed on first use when preconnect is off
	wantOne sync.Once

	// head is the request the reader was parsing when its connection broke;
	// serve fails it after the reader has exited.
	head *msg.Request
	// orphan is a request the writer had taken when the connection broke.
	orphan *msg.Request

	outstanding atomic.Int64
	// queued counts requests send put in `in` that the writer has not yet
	// counted as outstanding (or completed): with outstanding it tells a
	// retired connection when nothing is left on it (retarget.go)
	queued atomic.Int64
	// progress is the unix nanos of the last sign of life while requests
	// are outstanding: the 0→1 transition, any byte read (stampReader), a
	// chunk of a large request written (writeRaw). The watchdog reads it.
	progress atomic.Int64
}

func newConn(p *Pool, set *connSet, id int) *conn {
	return &conn{
		p: p, set: set, id: id,
		in:      make(chan *msg.Request, queueLen),
		pending: make(chan *msg.Request, pendingLen),
		everUp:  make(chan struct{}),
		want:    make(chan struct{}),
	}
}

func (c *conn) isUp() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.up
}

func (c *conn) send(r *msg.Request, hint uint) {
	c.mu.RLock()
	if c.retired {
		c.mu.RUnlock()
		c.p.sendOn(r, hint)
		return
	}
	if !c.up {
		c.mu.RUnlock()
		if !c.p.opts.Preconnect && c.waitFirstConnect() {
			c.send(r, hint)
			return
		}
		c.p.downRejects.Add(1)
		r.Fail(msg.ErrDatastoreDown)
		return
	}
	c.queued.Add(1)
	// A send that cannot block (a select with a default) is a plain
	// channel operation; a select over two channels locks both. Only a
	// full queue waits on dead too. A request queued after dead closed is
	// failed by serve's drainQueued, which runs once mu is released.
	select {
	case c.in <- r:
	default:
		select {
		case c.in <- r:
		case <-c.dead:
			c.queued.Add(-1)
			r.Fail(msg.ErrDatastoreClosed)
		}
	}
	c.mu.RUnlock()
}

// waitFirstConnect triggers the lazy first dial and waits for it, at most
// `timeout`. It reports whether the connection came up.
func (c *conn) waitFirstConnect() bool {
	select {
	case <-c.everUp:
		return false // it was up once and is down now: fail fast
	default:
	}
	c.wantOne.Do(func() { close(c.want) })
	t := time.NewTimer(c.p.tune.Load().Timeout)
	defer t.Stop()
	select {
	case <-c.everUp:
		return c.isUp()
	case <-t.C:
		return false
	}
}

func (c *conn) run(ctx context.Context) {
	defer c.drainQueued(msg.ErrShutdown)
	if !c.p.opts.Preconnect {
		select {
		case <-c.want:
		case <-ctx.Done():
			return
		}
	}
	backoff := minBackoff
	for ctx.Err() == nil {
		if until := c.p.ejectedUntil.Load(); until != 0 {
			if !sleep(ctx, time.Until(time.Unix(0, until))) {
				return
			}
		}
		nc, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.p.connectFailures.Add(1)
			c.p.recordFailure(err)
			c.set.log.Warn(c.p.msgs.connectFailed, "conn", c.id, "retry_in", backoff, "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, c.p.tune.Load().RetryTimeout)
			continue
		}
		backoff = minBackoff
		c.p.connects.Add(1)
		c.set.log.Info(c.p.msgs.connected, "conn", c.id)
		cause := c.serve(ctx, nc)
		if ctx.Err() != nil {
			return
		}
		c.p.recordFailure(cause)
		c.set.log.Warn(c.p.msgs.lost, "conn", c.id, "err", cause)
	}
}

func (c *conn) dial(ctx context.Context) (net.Conn, error) {
	timeout := c.p.tune.Load().Timeout
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := c.p.opts.Dial(dctx, c.set.Network, c.set.Addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if c.set.Init != nil {
		_ = nc.SetDeadline(time.Now().Add(timeout))
		if err := c.set.Init(nc); err != nil {
			nc.Close()
			return nil, fmt.Errorf("initialising connection: %w", err)
		}
		_ = nc.SetDeadline(time.Time{})
	}
	return nc, nil
}

// abortive makes nc's Close discard what it has not sent yet (SO_LINGER 0:
// the kernel resets the connection instead of delivering its send buffer in
// the background). A connection closed for a timeout has requests the pool
// already failed, and hinted when they were copies: delivered later, when a
// cut link comes back, they would apply behind the client's back, after
// writes made since.
func abortive(nc net.Conn) {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn() // TLS: the TCP connection under it
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// serve runs one established connection until it breaks or ctx ends, then
// fails everything queued or in flight on it. It returns the cause.
func (c *conn) serve(ctx context.Context, nc net.Conn) error {
	dead := make(chan struct{})
	var (
		once  sync.Once
		cause error
	)
	kill := func(err error) {
		once.Do(func() {
			cause = err
			close(dead)
			if errors.Is(err, msg.ErrDatastoreTimeout) {
				abortive(nc)
			}
			nc.Close()
		})
	}
	c.outstanding.Store(0)
	c.mu.Lock()
	c.up, c.dead = true, dead
	c.mu.Unlock()
	c.upOnce.Do(func() { close(c.everUp) })

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); c.writeLoop(nc, dead, kill) }()
	go func() { defer wg.Done(); c.readLoop(nc, kill) }()
	go func() { defer wg.Done(); c.watchdog(ctx, dead, kill) }()
	wg.Wait()

	c.mu.Lock() // waits for senders, which leave because dead is closed
	c.up = false
	c.mu.Unlock()

	failWith := cause
	switch {
	case ctx.Err() != nil:
		failWith = msg.ErrShutdown
	case errors.Is(cause, msg.ErrDatastoreTimeout):
	default:
		failWith = msg.ErrDatastoreClosed
	}
	for _, r := range []*msg.Request{c.head, c.orphan} {
		if r != nil {
			c.p.errorsN.Add(1)
			r.Fail(failWith)
		}
	}
	c.head, c.orphan = nil, nil
	c.drainQueued(failWith)
	return cause
}

func (c *conn) drainQueued(err error) {
	for {
		select {
		case r := <-c.pending:
			c.p.errorsN.Add(1)
			r.Fail(err)
		case r := <-c.in:
			c.queued.Add(-1)
			c.p.errorsN.Add(1)
			r.Fail(err)
		default:
			return
		}
	}
}

func (c *conn) writeLoop(nc net.Conn, dead chan struct{}, kill func(error)) {
	bw := bufio.NewWriterSize(nc, writeBufSize)
	var (
		hdr    []byte
		nextID uint64
	)
	for {
		var r *msg.Request
		// the queue first, without a select over two channels (see
		// send); then whether the connection died, which a receive that
		// cannot block checks without taking dead's lock
		select {
		case r = <-c.in:
			select {
			case <-dead:
				c.queued.Add(-1)
				c.orphan = r // serve fails it with the cause
				return
			default:
			}
		default:
			select {
			case r = <-c.in:
			case <-dead:
				return
			}
		}
		r.Sent = msg.Now()
		if c.p.opts.Header != nil {
			nextID++
			r.PeerID = nextID
			hdr = c.p.opts.Header(hdr[:0], r, nextID)
			if _, err := bw.Write(hdr); err != nil {
				c.queued.Add(-1)
				c.orphan = r
				kill(err)
				return
			}
		}
		// a request without a reply stays queued until it is flushed
		noReply := r.NoReply
		if noReply {
			if err := c.writeRaw(bw, r.Raw); err != nil {
				c.queued.Add(-1)
				r.Fail(msg.ErrDatastoreClosed)
				kill(err)
				return
			}
			r.Done()
		} else {
			if c.outstanding.Add(1) == 1 {
				c.progress.Store(time.Now().UnixNano())
			}
			c.queued.Add(-1)
			select {
			case c.pending <- r:
			default:
				select {
				case c.pending <- r:
				case <-dead:
					c.orphan = r // serve fails it with the cause
					return
				}
			}
			if err := c.writeRaw(bw, r.Raw); err != nil {
				kill(err)
				return
			}
		}
		if len(c.in) == 0 {
			if err := bw.Flush(); err != nil {
				kill(err)
				return
			}
		}
		if noReply {
			c.queued.Add(-1)
		}
	}
}

// writeRaw writes a request's bytes; a large one goes in chunks, and each
// chunk the datastore accepts is progress (it is reading, only slowly).
func (c *conn) writeRaw(bw *bufio.Writer, raw []byte) error {
	for len(raw) > writeChunk {
		if _, err := bw.Write(raw[:writeChunk]); err != nil {
			return err
		}
		c.progress.Store(time.Now().UnixNano())
		raw = raw[writeChunk:]
	}
	_, err := bw.Write(raw)
	return err
}

// stampReader records the time of every read that returned bytes: the
// datastore is alive and sending, even when the reply it sends is too
// large to complete within `timeout`.
type stampReader struct {
	r  io.Reader
	at *atomic.Int64
}

func (s *stampReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.at.Store(time.Now().UnixNano())
	}
	return n, err
}

// errUnexpectedReply: the datastore sent bytes when nothing was outstanding.
var errUnexpectedReply = errors.New("datastore sent data with no request outstanding")

func (c *conn) readLoop(nc net.Conn, kill func(error)) {
	fr := msg.NewFrameReader(&stampReader{r: nc, at: &c.progress}, readBufSize, c.p.opts.MaxReply)
	var head *msg.Request
	defer func() { c.head = head }()
	need := 0
	for {
		if fr.Buffered() > 0 {
			if head == nil {
				select {
				case head = <-c.pending:
				default:
					kill(errUnexpectedReply)
					return
				}
			}
			hdr, n, complete, err := c.p.opts.Parse(fr.Bytes(), head)
			if err != nil {
				c.set.log.Warn("unparseable reply, closing the connection", "conn", c.id, "err", err)
				kill(fmt.Errorf("reply from %s %s: %w", c.p.opts.Role, c.set.Name, err))
				return
			}
			switch {
			case complete && n >= largeReply:
				head.AdoptReply(fr.Detach(n)[hdr:]) // read into its own buffer: no copy
			case complete:
				head.SetReply(fr.Bytes()[hdr:n])
				fr.Discard(n)
			default:
				need = n
			}
			if complete {
				c.outstanding.Add(-1) // progress was stamped when its bytes arrived
				c.p.replies.Add(1)
				c.p.recordSuccess()
				d := msg.Now() - head.Sent
				c.p.smoothLatency(d)
				if obs := c.p.opts.Observe; obs != nil {
					obs(time.Duration(d), false)
				}
				head.Done()
				head, need = nil, 0
				continue
			}
		}
		if fr.Buffered() == 0 {
			fr.Shrink(readBufSize)
		}
		if err := fr.Fill(need); err != nil {
			kill(err)
			return
		}
	}
}

func (c *conn) watchdog(ctx context.Context, dead chan struct{}, kill func(error)) {
	timeout := c.p.tune.Load().Timeout
	period := func(t time.Duration) time.Duration { return max(min(t/4, 250*time.Millisecond), 5*time.Millisecond) }
	tick := time.NewTicker(period(timeout))
	defer tick.Stop()
	for {
		select {
		case <-dead:
			return
		case <-ctx.Done():
			kill(msg.ErrShutdown)
			return
		case now := <-tick.C:
			if t := c.p.tune.Load().Timeout; t != timeout { // SetTuning changed it
				timeout = t
				tick.Reset(period(t))
			}
			limit := int64(timeout) * int64(c.p.factor.Load())
			if c.outstanding.Load() > 0 && now.UnixNano()-c.progress.Load() > limit {
				c.p.timeouts.Add(1)
				kill(msg.ErrDatastoreTimeout)
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
