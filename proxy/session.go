package proxy

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/drain"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// action is what a codec decided about the bytes at the head of a client's
// input.
type action uint8

const (
	// actMore: more input is needed; need is the total size when known.
	actMore action = iota
	// actForward: r holds a request to route.
	actForward
	// actAnswered: r already holds its reply (proxy-answered command, error).
	actAnswered
	// actSkip: input consumed with nothing to answer (blank line, empty array).
	actSkip
	// actConfig: DYNO_CONFIG:CONN_CONSISTENCY <level> (dyn_message.c msg_apply_config).
	actConfig
	// actSession: a Redis command about the connection, a transaction or
	// the rack's keyspace, which the session answers (session_redis.go).
	actSession
)

// setConnConsistency applies DYNO_CONFIG:CONN_CONSISTENCY to this
// connection's read and write levels and answers +OK.
func (ss *session) setConnConsistency(r *msg.Request) {
	if len(r.Args) != 2 {
		r.KeepReply(ss.s.codec.errorLine(r.ReplyBuf(), "wrong number of arguments for 'DYNO_CONFIG:CONN_CONSISTENCY'"))
		return
	}
	l, err := consistency.Parse(string(r.Args[1]))
	if err != nil {
		r.KeepReply(ss.s.codec.errorLine(r.ReplyBuf(), "invalid consistency level '"+string(r.Args[1])+"' (DC_ONE, DC_QUORUM, DC_SAFE_QUORUM, DC_EACH_SAFE_QUORUM)"))
		return
	}
	ss.rl, ss.wl, ss.ownLevels = l, l, true
	r.AdoptReply(redisOK)
}

// codec is one client protocol: it frames requests, answers what the proxy
// answers itself, finds reply boundaries and renders errors.
type codec interface {
	// read parses the next request at the head of fr into r, consuming its
	// bytes unless it returns actMore.
	read(fr *msg.FrameReader, r *msg.Request) (act action, need int, err error)
	// parseReply finds the end of the datastore's reply to r.
	parseReply(buf []byte, r *msg.Request) (hdr, n int, complete bool, err error)
	// errorReply renders a request failure for the client.
	errorReply(err error) []byte
	// errorLine appends an error reply carrying text ("-ERR text" or
	// "SERVER_ERROR text").
	errorLine(dst []byte, text string) []byte

	// The cluster code splits and joins requests and replies through the
	// methods below, so that it never asks which protocol it serves
	// (multikey.go, keyquorum.go). Which requests they apply to is in the
	// request's flags ([msg.FlagMultiKey], [msg.Flags.Coalesce]).

	// keys appends r's keys to dst[:0], in request order.
	keys(r *msg.Request, dst [][]byte) [][]byte
	// keyCount returns len(keys(r, nil)) without building the list.
	keyCount(r *msg.Request) int
	// fragment makes frag the request r restricted to keys[i] for each i
	// in idx, in that order (keys as keys(r) returns them): its Args, Raw
	// and Key. frag's Args may alias r.Raw, which outlives frag.
	fragment(frag, r *msg.Request, keys [][]byte, idx []int)
	// coalesce appends to dst the reply to co.parent built from the replies
	// of its fragments, none of which failed or is an error reply.
	coalesce(dst []byte, co *coalescer) []byte
	// splitReply sets dst[k] to the span of key k's element in reply, a
	// reply to r (len(dst) keys, with [msg.CoalesceArray]); false when
	// reply is not one element per key (an error reply, say).
	splitReply(reply []byte, r *msg.Request, dst []span) bool
	// openElems and closeElems frame a reply made of n elements, one per
	// key, appended between them.
	openElems(dst []byte, n int) []byte
	closeElems(dst []byte) []byte
}

const (
	sessionReadBuf  = 4 << 10
	sessionWriteBuf = 4 << 10
	inflightLen     = 128
)

// session is one client connection: a reader goroutine that parses and
// dispatches requests, and a writer goroutine that writes replies in request
// order (as codis' proxy/session.go does).
type session struct {
	s  *Server
	nc net.Conn
	id uint
	// inflight is the queue from the reader to the writer, made at the
	// first request (with maxInflight, max_inflight_requests at accept)
	inflight    chan *msg.Request
	maxInflight int
	// the writer goroutine's state and the sweep's activity flag
	// (session_writer.go); writers counts the writers running
	// prevStart: the Start of the last forwarded request the writer
	// answered (at first the accept); retireNow: the writer's next step
	// is to retire if it can (both the writer's)
	prevStart int64
	retireNow bool
	wstate    atomic.Int32
	active    atomic.Bool
	writers   sync.WaitGroup
	// consistency levels, snapshotted at accept (as upstream) and changed by
	// DYNO_CONFIG:CONN_CONSISTENCY
	rl, wl consistency.Level
	// levelsSeq is the reload of the levels rl and wl follow (live.go);
	// ownLevels: the client set them with DYNO_CONFIG, reloads leave them
	levelsSeq uint64
	ownLevels bool
	// authed: AUTH succeeded (or no requirepass)
	authed bool
	// deadline: a read deadline is set on nc
	deadline bool
	// readStart: when the request being read began to arrive
	readStart time.Time
	// the reader's: its frame reader and raw socket (nil without one),
	// the request being read and the bytes it needs (readSome)
	fr   *msg.FrameReader
	src  *rawSource
	cur  *msg.Request
	need int
	// waited: readLoop read (or failed to: waitErr) since readSome returned
	waited  bool
	waitErr error
	// resp3: the client switched to RESP3 (HELLO 3); replies to the
	// requests it reads from then on are converted. Reader only.
	resp3 bool
	// rs is a Redis client's connection state: name, transaction, WATCH
	// (session_redis.go)
	rs redisState
	// ps: pub/sub state, made at the first pub/sub command (pubsub.go)
	ps atomic.Pointer[psConn]
}

func (s *Server) serveClient(nc net.Conn, id uint) {
	rl, wl := s.Consistency()
	live := s.live.Load()
	ss := &session{s: s, nc: nc, id: id, maxInflight: live.MaxInflight, rl: rl, wl: wl, levelsSeq: live.levelsSeq,
		// as in Redis, a connection made while no password was required
		// stays authenticated when a reload sets requirepass
		authed: !s.authRequired()}
	ss.rs.push.ready = make(chan struct{}, 1)
	// the writer starts with the first request (session_writer.go)
	ss.prevStart = msg.Now()
	s.sessions.add(ss)
	ss.readLoop()
	ss.writers.Wait()
	s.sessions.remove(ss)
	ss.rs.close()
	ss.pubsubEnd()
	ss.trackingOff()
}

// readLoop reads and dispatches the client's requests until the
// connection ends. With a raw socket (session_io.go) readSome returns
// whenever the socket has nothing more, and the loop waits here, near the
// bottom of the goroutine's stack: a connection that never sent a request
// keeps the 2 KiB stack a goroutine starts with (the request path needs
// more, and the runtime never shrinks a 4 KiB stack back: runtime/stack.go
// shrinkstack counts the nosplit reserve as used).
func (ss *session) readLoop() {
	defer ss.enqueue(endMark)
	ss.fr, ss.src = newSessionReader(ss.nc, ss.s.live.Load().MaxRequestBytes)
	if ss.src != nil && ss.watchHangup() {
		// the first wait as readWaiting's, at the bottom of the stack: a
		// connection that never sends a request keeps a 2 KiB stack
		ss.armDeadline(false)
		ss.waitForInput()
		ss.readLazy()
		ss.s.hangups.Forget(ss.src.key)
	} else {
		ss.readWaiting()
	}
	if ss.cur != nil {
		ss.s.reqs.Put(ss.cur)
		ss.cur = nil
	}
}

// readWaiting is readLoop's loop when the session cannot wait after a
// short read (no raw socket, or no hangup watch): net.Conn.Read's system
// calls.
func (ss *session) readWaiting() {
	for ss.readSome() {
		ss.waitForInput()
	}
}

// waitForInput is the read that waits, from near the bottom of the
// reader's stack; readSome takes its outcome (waited, waitErr) where it
// would have read.
func (ss *session) waitForInput() {
	ss.src.block = true
	ss.waitErr = ss.fr.Fill(ss.need)
	ss.src.block, ss.waited = false, true
}

// readSome reads until the connection ends (false) or, with a raw socket,
// until the socket has nothing more to read (true: wait for it). The
// request being read and the bytes it still needs are kept in the session
// between calls.
//
//go:noinline
func (ss *session) readSome() (wait bool) {
	s := ss.s
	fr, r, need := ss.fr, ss.cur, ss.need
	defer func() { ss.cur, ss.need = r, need }()
	for {
		if fr.Buffered() > 0 {
			if r == nil {
				r = s.reqs.Get()
			}
			act, n, err := s.codec.read(fr, r)
			if err != nil {
				if !drain.Ended(err) {
					s.log.Debug("client read failed", "client", ss.nc.RemoteAddr(), "err", err)
				}
				return false
			}
			if act != actMore {
				ss.readStart = time.Time{} // the next request's clock starts with it
			}
			if act != actMore && act != actSkip && s.clientAuth {
				act = ss.checkAuth(r, act)
				// pub/sub first: a RESP2 subscriber may not change its
				// session's state (pubsub.go)
				if act == actPubSub || ss.ps.Load() != nil {
					act = ss.pubsubFilter(r, act)
				}
				act = ss.redisSession(r, act)
			}
			live := s.live.Load()
			if act == actForward && s.buffered.Load()+int64(len(r.Raw)) > live.MaxBufferedBytes {
				s.rejectedBuffered.Add(1)
				r.KeepReply(s.codec.errorLine(r.ReplyBuf(), "Dynomite: node buffer limit reached (max_buffered_bytes), retry later"))
				act = actAnswered
			}
			switch act {
			case actMore:
				need = n
			case actSkip:
				need = 0
				continue
			case actAnswered:
				need = 0
				closeAfter := r.CloseAfter
				r.Done()
				ss.enqueue(r)
				r = nil
				if closeAfter {
					return false
				}
				continue
			case actPending:
				need = 0
				ss.enqueue(r)
				r = nil
				continue
			case actConfig:
				need = 0
				ss.setConnConsistency(r)
				r.Done()
				ss.enqueue(r)
				r = nil
				continue
			case actForward:
				need = 0
				r.Start = msg.Now()
				s.inFlight.Add(1)
				s.buffered.Add(int64(len(r.Raw)))
				ss.followLevels(live)
				rl, wl := ss.levels()
				s.dispatch(r, ss.id, rl, wl)
				ss.enqueue(r)
				r = nil
				continue
			}
		}
		if fr.Buffered() == 0 {
			fr.Shrink(sessionReadBuf)
		}
		if s.conns.Draining() && fr.Buffered() == 0 {
			return // a request boundary: the node is stopping, read no more
		}
		var err error
		if ss.waited { // readLoop's read
			err, ss.waited, ss.waitErr = ss.waitErr, false, nil
		} else {
			ss.armDeadline(fr.Buffered() > 0)
			err = fr.Fill(need)
		}
		if err != nil {
			if err == errWouldBlock {
				return true
			}
			if s.conns.ReadOn(ss.nc, fr.Buffered() > 0, err) {
				continue // stopping half-way through a request: read its end
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !s.conns.Draining() {
				partial := fr.Buffered() > 0
				if partial {
					s.closedSlow.Add(1)
				} else {
					s.closedIdle.Add(1)
				}
				s.log.Debug("closing slow or idle client", "client", ss.nc.RemoteAddr(), "partial_request", partial)
			}
			if errors.Is(err, msg.ErrFrameTooLarge) {
				s.rejectedLarge.Add(1)
				r = s.reqs.Get()
				r.SetReply(s.codec.errorReply(errRequestTooLarge))
				r.CloseAfter = true
				r.Done()
				ss.enqueue(r)
				r = nil
			}
			return false
		}
	}
}

var errRequestTooLarge = errors.New("request too large")

// armDeadline applies client_read_timeout while a request is half read and
// client_idle_timeout between requests; with neither it clears the deadline
// it set before (and costs nothing when both are off).
func (ss *session) armDeadline(partial bool) {
	o := ss.s.live.Load()
	d := o.ClientIdleTimeout
	if partial {
		d = o.ClientReadTimeout
	} else {
		ss.readStart = time.Time{}
	}
	switch {
	case d > 0:
		now := time.Now()
		deadline := now.Add(d)
		if partial {
			// client_read_timeout bounds the whole request, not each read:
			// a client sending a byte at a time must not hold it forever.
			if ss.readStart.IsZero() {
				ss.readStart = now
			}
			deadline = ss.readStart.Add(d)
		}
		_ = ss.nc.SetReadDeadline(deadline)
		ss.deadline = true
	case ss.deadline:
		_ = ss.nc.SetReadDeadline(time.Time{})
		ss.deadline = false
	}
	if ss.s.conns.Draining() {
		// shutdown raced with us (or it is on): stop at once between
		// requests, read to the drain deadline in the middle of one
		until := time.Unix(1, 0)
		if partial {
			until = ss.s.conns.Deadline()
		}
		_ = ss.nc.SetReadDeadline(until)
	}
}

func (ss *session) writeLoop() {
	s := ss.s
	var bw *bufio.Writer
	broken, retired := false, false
	obs := s.opts.Observer
	for r := range ss.requests(&bw, &broken, &retired) {
		r.Wait()
		if r.Start != 0 {
			s.inFlight.Add(-1)
			s.buffered.Add(-int64(len(r.Raw)))
			failed := r.Err != nil || replyIsError(r.Reply)
			obs.ClientRequest(r.Class, failed, time.Duration(msg.Now()-r.Start), len(r.Raw), len(r.Reply))
		}
		if !broken && !r.NoReply && !quietHidden(r) {
			if bw == nil {
				bw = getWriter(ss.nc)
			}
			reply := r.Reply
			if r.Err != nil {
				reply = s.codec.errorReply(r.Err)
			} else if s.clientAuth && (r.RESP3 || r.Cmd == unitCmd) {
				reply = ss.rs.clientReply(r) // Redis: RESP3, transactions
			}
			if _, err := bw.Write(reply); err != nil {
				broken = true
			}
		}
		ss.wroteReply(bw, &broken)
		closeAfter, start := r.CloseAfter, r.Start
		s.reqs.Put(r)
		if !broken && bw != nil && (len(ss.inflight) == 0 || closeAfter) {
			ss.flush(&bw, &broken)
		}
		if start != 0 {
			// a request long after the one before: retire once the
			// queue is empty (session_writer.go)
			ss.retireNow = bw == nil && start-ss.prevStart > int64(sparseGap)
			ss.prevStart = start
		}
		if closeAfter || broken {
			// Stop the reader; keep draining so every request is recycled.
			_ = ss.nc.SetReadDeadline(time.Unix(1, 0))
			broken = true
		}
	}
	if retired {
		return
	}
	if !broken && bw != nil {
		ss.flush(&bw, &broken) // what preceded endMark
	}
	if s.conns.Draining() && !broken {
		s.conns.CloseGently(ss.nc) // every reply is written: let the client read them
		return
	}
	ss.nc.Close()
}

// flush writes what bw holds and, when nothing is queued, gives the
// writer back to the pool: an idle connection keeps no write buffer.
func (ss *session) flush(bw **bufio.Writer, broken *bool) {
	if err := (*bw).Flush(); err != nil {
		*broken = true
		return
	}
	if len(ss.inflight) == 0 {
		putWriter(*bw)
		*bw = nil
	}
}

// rebase re-points slices of orig (args parsed in the read buffer) at the
// same offsets of raw, a copy of orig, so a request's args live in storage
// the request owns. The offset of each arg is its address minus orig's:
// unsafe, but only pointer arithmetic inside one allocation, and it saves a
// second parse of every request (BenchmarkForwardGet). An arg that is not
// inside orig (which the parsers never return) panics rather than alias the
// read buffer.
func rebase(raw, orig []byte, args [][]byte) {
	for i, a := range args {
		args[i] = rebaseOne(raw, orig, a)
	}
}

func rebaseOne(raw, orig, a []byte) []byte {
	if a == nil {
		return nil
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(orig)))
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(a))) - base)
	if off < 0 || off+len(a) > len(raw) {
		panic("proxy: rebase of an argument outside the request")
	}
	return raw[off : off+len(a) : off+len(a)]
}
