package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Client-side caching (CLIENT TRACKING), as Redis 7 does it for RESP3
// connections (Redis's src/tracking.c): the node remembers which tracking
// sessions read which keys and sends each an `invalidate` push when a key
// it read changes.
//
// Where changes come from: every write to a key lands in the datastore of
// the key's owner in each rack (writes through any node of any datacenter,
// replicated copies, direct writes to Redis, expirations, evictions). With
// one node per rack that is this node's own datastore for every key. So,
// while at least one session tracks, the node keeps one connection of its
// own to its datastore in RESP3 with CLIENT TRACKING ON BCAST (every key)
// and turns the datastore's invalidations into invalidations for its
// sessions. In a rack of several nodes, a key owned by another node of the
// rack changes in that node's datastore, whose invalidations never reach
// this one: a tracked read of such a key is followed at once by its
// invalidation (the client does not keep it; only keys this node owns are
// cached), and BCAST, which promises every change, is refused.
//
// Ordering: a read's key is remembered before the read is forwarded, so a
// change that follows the read is always seen; and a push is written to
// the client only after the replies of every request the session had read
// when the invalidation arrived (pushQueue), so a client never gets the
// invalidation of a key before the stale value it invalidates.
//
// A lost datastore tracking connection invalidates everything (a null
// invalidation, as Redis's own clients treat a lost tracking connection),
// and again once it is back: changes made while it was down were not seen.

// trackingMaxKeys bounds the tracking table, as Redis's
// tracking-table-max-keys (default 1000000): when full, a key is evicted
// and its readers get its invalidation.
const trackingMaxKeys = 1000000

// maxPendingPushBytes bounds the pushes waiting for a session's writer;
// beyond it they collapse into one null invalidation (the client drops
// its whole cache), so a client that does not read cannot hold memory.
const maxPendingPushBytes = 1 << 20

var flushPush = []byte(">2\r\n$10\r\ninvalidate\r\n_\r\n")

// invalidatePush is the RESP3 push Redis sends for one key.
func invalidatePush(key string) []byte {
	b := make([]byte, 0, 32+len(key))
	b = append(b, ">2\r\n$10\r\ninvalidate\r\n*1\r\n"...)
	return resp.AppendBulkString(b, key)
}

// pushQueue holds the pushes waiting for a session's writer. Each push is
// due once the writer has written the replies of the requests the session
// had accepted when the push was made.
type pushQueue struct {
	ready chan struct{} // signalled when a push is added
	// on: the session has tracked keys, so pushes may come; until then
	// the writer waits for requests alone (session.requests). Set by
	// the reader before the tracking request's reply is queued, never
	// cleared: a push made later is due only after that reply, so a
	// writer blocked in the plain receive wakes for the reply first and
	// then sees on.
	on       atomic.Bool
	accepted atomic.Uint64 // requests the reader took in (redisSession)
	written  uint64        // replies the writer wrote (writer only)
	n        atomic.Int32  // len(items), read without the lock
	mu       sync.Mutex
	items    []pendingPush
	bytes    int
}

type pendingPush struct {
	after uint64
	frame []byte
}

func (q *pushQueue) add(frame []byte) {
	after := q.accepted.Load()
	q.mu.Lock()
	if q.bytes+len(frame) > maxPendingPushBytes {
		for _, p := range q.items {
			after = max(after, p.after)
		}
		q.items, q.bytes = q.items[:0], 0
		frame = flushPush
	}
	q.items = append(q.items, pendingPush{after, frame})
	q.bytes += len(frame)
	q.n.Store(int32(len(q.items)))
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// writeDue writes the pushes that are due, in order.
func (q *pushQueue) writeDue(w *bufio.Writer) error {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for ; i < len(q.items) && q.items[i].after <= q.written; i++ {
		if _, err := w.Write(q.items[i].frame); err != nil {
			return err
		}
		q.bytes -= len(q.items[i].frame)
	}
	q.items = append(q.items[:0], q.items[i:]...)
	q.n.Store(int32(len(q.items)))
	return nil
}

// writePushes writes and flushes the pushes that became due while the
// writer waited for the next request (session.requests).
func (ss *session) writePushes(bw **bufio.Writer, broken *bool) {
	if *broken {
		return
	}
	if *bw == nil {
		*bw = getWriter(ss.nc)
	}
	if ss.rs.push.writeDue(*bw) != nil {
		*broken = true
	} else {
		ss.flush(bw, broken)
	}
	if *broken {
		_ = ss.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// wroteReply is the writer's count of one more reply written; pushes
// waiting for it follow it.
func (ss *session) wroteReply(bw *bufio.Writer, broken *bool) {
	q := &ss.rs.push
	q.written++
	if !*broken && bw != nil && q.writeDue(bw) != nil {
		*broken = true
	}
}

// trackClient is one tracking session. Its mode is changed by the
// session's reader under tracker.mu; caching is the reader's alone.
type trackClient struct {
	q                            *pushQueue
	bcast, optin, optout, noloop bool
	prefixes                     []string
	caching                      bool // CLIENT CACHING YES (OPTIN) or NO (OPTOUT) for the next command
	// the tracked keys read in the open transaction, and whether it
	// writes (reader only)
	txnKeys   []string
	txnWrites bool
}

func (c *trackClient) wants(key string) bool {
	for _, p := range c.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// tracker is the node's tracking table and its datastore connection.
type tracker struct {
	mu      sync.Mutex
	clients map[*trackClient]struct{}
	bcast   map[*trackClient]struct{} // the BCAST ones among clients
	keys    map[string]map[*trackClient]struct{}
	maxKeys int // 0: trackingMaxKeys
	ds      *trackConn
	// beat is how long the datastore tracking connection may stay
	// silent before a PING, and then before it is taken for lost (0:
	// trackingHeartbeat)
	beat time.Duration
}

const trackingHeartbeat = 5 * time.Second

var pingRaw = resp.AppendCommand(nil, [][]byte{[]byte("PING")})

func (t *tracker) heartbeat() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.beat > 0 {
		return t.beat
	}
	return trackingHeartbeat
}

type trackConn struct {
	nc   net.Conn
	stop chan struct{}
	done chan struct{}
}

func (t *tracker) limit() int {
	if t.maxKeys > 0 {
		return t.maxKeys
	}
	return trackingMaxKeys
}

// join registers c, opening the datastore tracking connection if it is
// the first.
func (s *Server) trackJoin(c *trackClient) error {
	t := &s.tracking
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ds == nil {
		nc, err := s.dialTracking()
		if err != nil {
			return err
		}
		ds := &trackConn{nc: nc, stop: make(chan struct{}), done: make(chan struct{})}
		t.ds = ds
		go s.trackLoop(ds)
	}
	if t.clients == nil {
		t.clients = make(map[*trackClient]struct{})
		t.bcast = make(map[*trackClient]struct{})
		t.keys = make(map[string]map[*trackClient]struct{})
	}
	t.clients[c] = struct{}{}
	return nil
}

// trackLeave forgets c; the last one closes the datastore connection.
func (s *Server) trackLeave(c *trackClient) {
	t := &s.tracking
	t.mu.Lock()
	delete(t.clients, c)
	delete(t.bcast, c)
	var ds *trackConn
	if len(t.clients) == 0 && t.ds != nil {
		ds, t.ds = t.ds, nil
		close(ds.stop)
		ds.nc.Close()
		clear(t.keys)
	}
	t.mu.Unlock()
	if ds != nil {
		<-ds.done
	}
}

// remember records that c read key (default, OPTIN and OPTOUT modes).
func (s *Server) trackRemember(c *trackClient, key []byte) {
	t := &s.tracking
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.keys[string(key)]
	if set == nil {
		for k := range t.keys {
			if len(t.keys) < t.limit() {
				break
			}
			t.evictLocked(k) // map order: a random key, as Redis evicts
		}
		set = make(map[*trackClient]struct{}, 1)
		t.keys[string(key)] = set
	}
	set[c] = struct{}{}
}

// invalidateLocked sends a changed key's invalidation to its readers and
// to the BCAST sessions whose prefixes match it.
func (t *tracker) invalidateLocked(key string) {
	frame := t.evictLocked(key)
	for c := range t.bcast {
		if c.wants(key) {
			if frame == nil {
				frame = invalidatePush(key)
			}
			c.q.add(frame)
		}
	}
}

// evictLocked forgets key and sends its invalidation to its readers; it
// returns the frame it made, if any.
func (t *tracker) evictLocked(key string) []byte {
	var frame []byte
	for c := range t.keys[key] {
		if _, ok := t.clients[c]; ok && !c.bcast {
			if frame == nil {
				frame = invalidatePush(key)
			}
			c.q.add(frame)
		}
	}
	delete(t.keys, key)
	return frame
}

// flushAll invalidates every session's whole cache.
func (t *tracker) flushAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.keys)
	for c := range t.clients {
		c.q.add(flushPush)
	}
}

// dialTracking opens the datastore connection that reports every change:
// RESP3 with CLIENT TRACKING ON BCAST.
func (s *Server) dialTracking() (net.Conn, error) {
	nc, err := s.dialDatastore()
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(s.opts.Timeout))
	var req []byte
	req = resp.AppendCommand(req, [][]byte{[]byte("HELLO"), []byte("3")})
	req = resp.AppendCommand(req, [][]byte{[]byte("CLIENT"), []byte("SETNAME"), []byte("dynomite-tracking")})
	req = resp.AppendCommand(req, [][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("ON"), []byte("BCAST")})
	if _, err := nc.Write(req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	for i := 0; i < 3; i++ {
		v, err := readValue(br, 0)
		if err == nil && v.kind == '-' {
			err = errors.New(string(v.str))
		}
		if err != nil {
			nc.Close()
			return nil, errors.New("datastore tracking connection: " + err.Error())
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return &bufferedConn{Conn: nc, br: br}, nil
}

// bufferedConn keeps the bytes the handshake read ahead.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.br.Read(p) }

// trackLoop reads the datastore's invalidations until ds is stopped,
// reconnecting when the connection is lost.
func (s *Server) trackLoop(ds *trackConn) {
	defer close(ds.done)
	t := &s.tracking
	t.mu.Lock()
	nc := ds.nc
	t.mu.Unlock()
	for {
		err := s.readInvalidations(nc)
		select {
		case <-ds.stop:
			return
		default:
		}
		s.log.Warn("datastore tracking connection lost: every tracking client's cache is invalidated", "datastore", s.opts.Datastore, "err", err)
		t.flushAll()
		nc = s.redialTracking(ds)
		if nc == nil {
			return
		}
		t.flushAll() // changes made while it was down were not reported
	}
}

// redialTracking reconnects with a growing pause; nil once ds is stopped.
func (s *Server) redialTracking(ds *trackConn) net.Conn {
	pause := 10 * time.Millisecond
	for {
		nc, err := s.dialTracking()
		if err == nil {
			s.tracking.mu.Lock()
			select {
			case <-ds.stop:
				s.tracking.mu.Unlock()
				nc.Close()
				return nil
			default:
			}
			ds.nc = nc
			s.tracking.mu.Unlock()
			return nc
		}
		select {
		case <-ds.stop:
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

func (s *Server) readInvalidations(nc net.Conn) error {
	br, ok := nc.(*bufferedConn)
	var r *bufio.Reader
	if ok {
		r = br.br
	} else {
		r = bufio.NewReader(nc)
	}
	beat := s.tracking.heartbeat()
	pinged := false
	for {
		// an idle connection is pinged: one that died silently (a host
		// gone, a half-open TCP connection) must not be taken for a
		// datastore where nothing changes
		_ = nc.SetReadDeadline(time.Now().Add(beat))
		if _, err := r.Peek(1); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				if _, err := nc.Write(pingRaw); err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		_ = nc.SetReadDeadline(time.Now().Add(max(beat, s.opts.Timeout)))
		v, err := readValue(r, 0)
		if err != nil {
			return err
		}
		if v.kind != '>' || len(v.elems) != 2 || string(v.elems[0].str) != "invalidate" {
			continue
		}
		keys := v.elems[1]
		if keys.kind == '_' {
			s.tracking.flushAll()
			continue
		}
		s.tracking.mu.Lock()
		for _, k := range keys.elems {
			s.tracking.invalidateLocked(string(k.str))
		}
		s.tracking.mu.Unlock()
	}
}

// value is a RESP3 value read from the datastore tracking connection.
type value struct {
	kind  byte
	str   []byte
	elems []value
}

const maxTrackDepth = 8

var errTrackProtocol = errors.New("protocol error on the datastore tracking connection")

// readValue reads one RESP2/RESP3 value: the tracking connection's
// replies and invalidation pushes.
func readValue(br *bufio.Reader, depth int) (value, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return value{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' || depth > maxTrackDepth {
		return value{}, errTrackProtocol
	}
	v := value{kind: line[0]}
	body := line[1 : len(line)-2]
	switch v.kind {
	case '+', '-', ':', ',', '#', '(':
		v.str = append([]byte(nil), body...)
	case '_':
	case '$', '=', '!':
		n, ok := resp.ParseInt(body)
		if !ok || n < -1 || n > 512<<20 {
			return value{}, errTrackProtocol
		}
		if n == -1 {
			v.kind = '_'
			return v, nil
		}
		v.str = make([]byte, n+2)
		if _, err := io.ReadFull(br, v.str); err != nil {
			return value{}, err
		}
		if v.str[n] != '\r' || v.str[n+1] != '\n' {
			return value{}, errTrackProtocol
		}
		v.str = v.str[:n]
	case '*', '>', '~', '%', '|':
		n, ok := resp.ParseInt(body)
		if !ok || n < -1 || n > 1<<20 {
			return value{}, errTrackProtocol
		}
		if n == -1 {
			v.kind = '_'
			return v, nil
		}
		if v.kind == '%' || v.kind == '|' {
			n *= 2
		}
		for i := int64(0); i < n; i++ {
			e, err := readValue(br, depth+1)
			if err != nil {
				return value{}, err
			}
			v.elems = append(v.elems, e)
		}
		if v.kind == '|' { // an attribute precedes the value it describes
			return readValue(br, depth)
		}
	default:
		return value{}, errTrackProtocol
	}
	return v, nil
}

// trackRequest runs on the reader for every request of a tracking
// session: it remembers the keys of reads the mode tracks, before the read
// is forwarded, and ends a CLIENT CACHING's effect after its command.
func (ss *session) trackRequest(r *msg.Request, act action) {
	c := ss.rs.track
	ss.rs.trackLocal = false
	txn := ss.rs.txn
	if txn == nil {
		c.txnKeys, c.txnWrites = c.txnKeys[:0], false
	}
	if act == actForward && txn != nil && r.Flags&msg.FlagWrite != 0 {
		c.txnWrites = true
	}
	if act == actSession && txn != nil && r.Cmd == execCmd && len(c.txnKeys) > 0 {
		if c.txnWrites {
			// the unit goes at the write consistency, whose reply may
			// be another replica's: its reads are not kept
			for _, k := range c.txnKeys {
				c.q.add(invalidatePush(k))
			}
		} else {
			ss.rs.trackLocal = true
		}
	}
	if act == actForward && !c.bcast && r.Flags&msg.FlagWrite == 0 &&
		(r.Class == msg.ClassRead || r.Class == msg.ClassMultiKey) &&
		!(c.optin && !c.caching) && !(c.optout && c.caching) {
		if txn == nil {
			ss.rs.trackLocal = true
		}
		cl := ss.s.cluster
		st := cl.state.Load()
		for _, k := range ss.s.codec.keys(r, nil) {
			if txn != nil {
				c.txnKeys = append(c.txnKeys, string(k))
			}
			if cl.ownsLocally(st, k) {
				ss.s.trackRemember(c, k)
				if cl.state.Load() != st {
					// the ring changed meanwhile, and its flush
					// (trackRingChanged) may have come first
					c.q.add(invalidatePush(string(k)))
				}
			} else {
				// another node of the rack owns it: its changes land in
				// that node's datastore, which this node does not hear,
				// so the client is told at once, after the reply, not to
				// keep it
				c.q.add(invalidatePush(string(k)))
			}
		}
	}
	// as Redis's resetClient: the flag outlives CLIENT commands and a
	// transaction's commands, up to EXEC
	if ss.rs.txn == nil && r.Cmd != clientCmd && r.Cmd != multiCmd {
		c.caching = false
	}
}

var (
	clientCmd = func() uint16 { id, _ := resp.Lookup([]byte("client")); return id }()
	execCmd   = func() uint16 { id, _ := resp.Lookup([]byte("exec")); return id }()
	multiCmd  = unitCmd
)

// levels are the consistency levels r is dispatched at: DC_ONE for a
// tracked read (and a read-only transaction with tracked reads), whose
// value must be the local datastore's, the one whose changes the node
// hears: a quorum could answer another replica's older value while the
// local copy already changed, and no later change would invalidate it.
func (ss *session) levels() (rl, wl consistency.Level) {
	if ss.rs.trackLocal {
		ss.rs.trackLocal = false
		return consistency.DCOne, consistency.DCOne
	}
	return ss.rl, ss.wl
}

// trackRingChanged invalidates every session's cache when the nodes of
// this node's rack changed, their part in a move (ring.NodeState) or the
// side of a move reads come from: keys it owned may now change in another
// node's datastore.
func (s *Server) trackRingChanged(old, cur *ring.Topology) {
	if !sameRack(old, cur) {
		s.tracking.flushAll()
	}
}

func sameRack(a, b *ring.Topology) bool {
	an := a.RackNodes(a.LocalDC(), a.LocalRack())
	bn := b.RackNodes(b.LocalDC(), b.LocalRack())
	if len(an) != len(bn) || a.Switched() != b.Switched() {
		return false
	}
	for i := range an {
		if an[i].Name != bn[i].Name || an[i].State != bn[i].State || !slices.Equal(an[i].Tokens, bn[i].Tokens) {
			return false
		}
	}
	return true
}

// trackingOff ends the session's tracking (CLIENT TRACKING OFF, RESET, the
// connection's end).
func (ss *session) trackingOff() {
	if c := ss.rs.track; c != nil {
		ss.rs.track = nil
		ss.s.trackLeave(c)
	}
}

// clientTracking answers CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]...
// [BCAST] [OPTIN] [OPTOUT] [NOLOOP], with Redis 7's checks and errors.
func (ss *session) clientTracking(r *msg.Request) action {
	args := r.Args
	var bcast, optin, optout, noloop, redirect bool
	var prefixes []string
	for j := 3; j < len(args); j++ {
		more := j+1 < len(args)
		switch strings.ToLower(string(args[j])) {
		case "redirect":
			if !more {
				return ss.answerError(r, "ERR syntax error")
			}
			redirect = true
			j++
		case "bcast":
			bcast = true
		case "optin":
			optin = true
		case "optout":
			optout = true
		case "noloop":
			noloop = true
		case "prefix":
			if !more {
				return ss.answerError(r, "ERR syntax error")
			}
			j++
			prefixes = append(prefixes, string(args[j]))
		default:
			return ss.answerError(r, "ERR syntax error")
		}
	}
	switch strings.ToLower(string(args[2])) {
	case "off":
		ss.trackingOff()
		r.AdoptReply(redisOK)
		return actAnswered
	case "on":
	default:
		return ss.answerError(r, "ERR syntax error")
	}
	c := ss.rs.track
	switch {
	case redirect:
		return ss.answerError(r, "ERR Dynomite: CLIENT TRACKING REDIRECT is not supported: use RESP3 (HELLO 3) and receive the invalidations on the tracking connection itself")
	case !ss.resp3:
		return ss.answerError(r, "ERR Dynomite: CLIENT TRACKING needs RESP3 (HELLO 3): invalidations are RESP3 pushes on the tracking connection (REDIRECT is not supported)")
	case c != nil && c.bcast != bcast:
		return ss.answerError(r, "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
	case optin && optout:
		return ss.answerError(r, "ERR You can't specify both OPTIN mode and OPTOUT mode")
	case c != nil && (optin && c.optout || optout && c.optin):
		return ss.answerError(r, "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
	case (optin || optout) && bcast:
		return ss.answerError(r, "ERR OPTIN and OPTOUT are not compatible with BCAST")
	case !bcast && len(prefixes) > 0:
		return ss.answerError(r, "ERR PREFIX option requires BCAST mode to be enabled")
	}
	if bcast {
		if c != nil && len(c.prefixes)+len(prefixes) > maxTrackPrefixes || len(prefixes) > maxTrackPrefixes {
			return ss.answerError(r, "ERR Dynomite: at most "+strconv.Itoa(maxTrackPrefixes)+" BCAST prefixes per client")
		}
		if err := prefixCollision(c, prefixes); err != "" {
			return ss.answerError(r, err)
		}
	}
	if bcast {
		if st := ss.s.cluster.state.Load(); st != nil && st.topo != nil {
			topo := st.topo
			if n := len(topo.RackNodes(topo.LocalDC(), topo.LocalRack())); n > 1 {
				return ss.answerError(r, "ERR Dynomite: CLIENT TRACKING BCAST needs this node to be the only node of its rack (rack "+
					topo.RackName(topo.LocalDC(), topo.LocalRack())+" has "+strconv.Itoa(n)+"): keys owned by another node change in that node's datastore, whose invalidations do not reach this one")
			}
		}
	}
	if c == nil {
		c = &trackClient{q: &ss.rs.push}
		ss.rs.push.on.Store(true)
		if err := ss.s.trackJoin(c); err != nil {
			return ss.answerError(r, "ERR Storage: CLIENT TRACKING could not open the datastore tracking connection ("+err.Error()+")")
		}
		ss.rs.track = c
	}
	ss.s.tracking.mu.Lock()
	if bcast && len(prefixes) == 0 && len(c.prefixes) == 0 {
		prefixes = []string{""}
	}
	c.bcast, c.noloop = bcast, noloop
	if bcast {
		ss.s.tracking.bcast[c] = struct{}{}
	}
	c.optin, c.optout = optin, optout
	c.prefixes = append(c.prefixes, prefixes...)
	ss.s.tracking.mu.Unlock()
	r.AdoptReply(redisOK)
	return actAnswered
}

// maxTrackPrefixes bounds a client's BCAST prefixes: every change is
// matched against every prefix, and the overlap check (Redis's, kept for
// its error messages) is quadratic.
const maxTrackPrefixes = 1000

// prefixCollision applies Redis's rule that one client's BCAST prefixes
// must not overlap (tracking.c checkPrefixCollisionsOrReply).
func prefixCollision(c *trackClient, prefixes []string) string {
	overlap := func(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
	for i, p := range prefixes {
		if c != nil {
			for _, q := range c.prefixes {
				if overlap(p, q) {
					return "ERR Prefix '" + p + "' overlaps with an existing prefix '" + q + "'. Prefixes for a single client must not overlap."
				}
			}
		}
		for j := i + 1; j < len(prefixes); j++ {
			if overlap(p, prefixes[j]) {
				return "ERR Prefix '" + p + "' overlaps with another provided prefix '" + prefixes[j] + "'. Prefixes for a single client must not overlap."
			}
		}
	}
	return ""
}

// clientCaching answers CLIENT CACHING YES|NO.
func (ss *session) clientCaching(r *msg.Request) action {
	c := ss.rs.track
	if c == nil || !c.optin && !c.optout {
		return ss.answerError(r, "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
	}
	switch strings.ToLower(string(r.Args[2])) {
	case "yes":
		if !c.optin {
			return ss.answerError(r, "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
		}
	case "no":
		if !c.optout {
			return ss.answerError(r, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
		}
	default:
		return ss.answerError(r, "ERR syntax error")
	}
	c.caching = true
	r.AdoptReply(redisOK)
	return actAnswered
}

// clientTrackingInfo answers CLIENT TRACKINGINFO and CLIENT GETREDIR.
func (ss *session) clientTrackingInfo(r *msg.Request, getredir bool) action {
	c := ss.rs.track
	redir := int64(-1)
	if c != nil {
		redir = 0
	}
	if getredir {
		r.KeepReply(resp.AppendInt(r.ReplyBuf(), redir))
		return actAnswered
	}
	flags := []string{"off"}
	if c != nil {
		flags = []string{"on"}
		for _, f := range []struct {
			on   bool
			name string
		}{{c.bcast, "bcast"}, {c.optin, "optin"}, {c.optout, "optout"},
			{c.optin && c.caching, "caching-yes"}, {c.optout && c.caching, "caching-no"}, {c.noloop, "noloop"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
	}
	b := r.ReplyBuf()
	b = appendMapHeader(b, 3, ss.resp3)
	b = resp.AppendBulkString(b, "flags")
	if ss.resp3 {
		b = append(append(append(b, '~'), strconv.Itoa(len(flags))...), "\r\n"...)
	} else {
		b = resp.AppendArrayHeader(b, len(flags))
	}
	for _, f := range flags {
		b = resp.AppendBulkString(b, f)
	}
	b = resp.AppendBulkString(b, "redirect")
	b = resp.AppendInt(b, redir)
	b = resp.AppendBulkString(b, "prefixes")
	var prefixes []string
	if c != nil {
		prefixes = c.prefixes
	}
	b = resp.AppendArrayHeader(b, len(prefixes))
	for _, p := range prefixes {
		b = resp.AppendBulkString(b, p)
	}
	r.KeepReply(b)
	return actAnswered
}
