package proxy

import (
	"bufio"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// The writer goroutine of a session runs while the connection is in use
// and ends once it has been idle a while, so that an idle connection keeps
// one goroutine (its reader) instead of two. The reader starts it again
// with the next request.
//
// A server-wide sweep (sweepWriters) looks at every session each
// writerIdleSweep: a session whose reader queued nothing since the
// previous sweep gets retireMark in its queue. The writer that receives it
// with nothing else queued retires (retire): it sets writerRetiring, looks
// once more for a request (a non-blocking receive), and leaves only if it
// can move writerRetiring to writerGone. The reader queues first and looks
// at the state after (enqueue): it moves writerRetiring back to
// writerRunning (the writer then stays) or, finding writerGone, starts a
// new writer. Either the writer's second look sees the request or the
// reader sees a state other than writerRunning, since both sides order
// their queue operation and their state operation the same way through
// sequentially consistent atomics (the channel's count is read atomically
// by a non-blocking receive). TestWriterRetireRace hammers that window.
//
// A subscriber or a tracking client keeps its writer: pushes come without
// requests. So does a writer with an error to deal with.

const (
	writerGone int32 = iota
	writerRunning
	writerRetiring
)

// writerIdleSweep is the sweep period: a busy connection's writer ends
// between one and two of them after the connection's last request. A
// sweep costs tens of nanoseconds a session.
const writerIdleSweep = time.Second

// sparseGap: a forwarded request that comes more than sparseGap after the
// previous one (or after the accept) marks a connection used now and then:
// its writer retires as soon as the reply is flushed and nothing else is
// queued, without waiting for the sweep. Such a connection pays a
// goroutine start per request, at most one every sparseGap; a busy one
// keeps its writer. A pool of connections each used once in a while
// (scripts/idleconns) then has a handful of writers alive, not one per
// connection: each would keep its stack until the sweep.
const sparseGap = 200 * time.Millisecond

// retireMark (from the sweep) asks the writer to end if it is idle;
// endMark (from the reader, last) ends the session's writer. Neither is a
// request: the writer never hands them to the request pool.
var retireMark, endMark = new(msg.Request), new(msg.Request)

// enqueue hands r to the writer, starting one when the last has retired.
// Reader only.
func (ss *session) enqueue(r *msg.Request) {
	if !ss.active.Load() {
		ss.active.Store(true)
	}
	if ss.inflight == nil {
		// made before the writer starts, and the sweep looks at it only
		// when a writer runs
		ss.inflight = make(chan *msg.Request, ss.maxInflight)
	}
	ss.inflight <- r
	if ss.wstate.Load() != writerRunning {
		ss.wakeWriter()
	}
}

func (ss *session) wakeWriter() {
	for {
		switch ss.wstate.Load() {
		case writerRunning:
			return
		case writerRetiring:
			if ss.wstate.CompareAndSwap(writerRetiring, writerRunning) {
				return // the retiring writer stays
			}
		case writerGone:
			if ss.wstate.CompareAndSwap(writerGone, writerRunning) {
				ss.writers.Add(1)
				go ss.runWriter()
				return
			}
		}
	}
}

func (ss *session) runWriter() {
	defer ss.writers.Done()
	ss.writeLoop()
}

// retire is the writer's answer to retireMark, after it flushed: gone
// (the writer returns), or the request that came meanwhile (nil: none yet,
// or a mark), which the writer serves as usual.
func (ss *session) retire(bw *bufio.Writer, broken bool) (next *msg.Request, gone bool) {
	if broken || bw != nil || ss.ps.Load() != nil || ss.rs.push.on.Load() {
		return nil, false
	}
	ss.wstate.Store(writerRetiring) // only the writer leaves writerRunning
	select {
	case r := <-ss.inflight:
		ss.wstate.Store(writerRunning)
		return r, false
	default:
	}
	return nil, ss.wstate.CompareAndSwap(writerRetiring, writerGone)
}

// sessionSet is the server's client sessions, for the writer sweep.
type sessionSet struct {
	mu sync.Mutex
	m  map[*session]struct{}
}

func (s *sessionSet) add(ss *session) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[*session]struct{})
	}
	s.m[ss] = struct{}{}
	s.mu.Unlock()
}

func (s *sessionSet) remove(ss *session) {
	s.mu.Lock()
	delete(s.m, ss)
	s.mu.Unlock()
}

// sweep asks the writers of the sessions idle since the last sweep to
// retire.
func (s *sessionSet) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.m {
		if ss.active.Swap(false) || ss.wstate.Load() != writerRunning || ss.ps.Load() != nil || ss.rs.push.on.Load() {
			continue
		}
		select {
		case ss.inflight <- retireMark:
		default: // full: not idle
		}
	}
}

// sweepWriters runs the sweep every writerIdleSweep until stop is closed.
func (s *Server) sweepWriters(stop <-chan struct{}) {
	t := time.NewTicker(writerIdleSweep)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sessions.sweep()
		}
	}
}
