package proxy

import (
	"time"

	"github.com/dynomite-go/dynomite/proxy/resp"
)

// The tests of this directory are in package proxy_test, so that they can
// use proxytest (which imports proxy). These are the internals they check.

// RedisErrTooLarge and McErrTooLarge are the replies to a request over
// max_request_bytes.
var RedisErrTooLarge, McErrTooLarge = redisErrTooLarge, mcErrTooLarge

// InFlight is the number of client requests read and not yet answered.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// Stopping reports whether Serve's context is done and the node drains.
func (s *Server) Stopping() bool { return s.conns.Draining() }

// MaxRequestBytes is the request size cap in force (Options' default applied).
func (s *Server) MaxRequestBytes() int { return s.live.Load().MaxRequestBytes }

// Fanouts is the number of fan-outs (and read-repair runs) in flight.
func (s *Server) Fanouts() int64 { return s.fanouts.Load() }

// Buffered is the bytes of client requests in flight (max_buffered_bytes).
func (s *Server) Buffered() int64 { return s.buffered.Load() }

// SetHintPoll makes the hint replayer look for targets every d; the
// returned function restores the default.
func SetHintPoll(d time.Duration) func() {
	old := hintPoll
	hintPoll = d
	return func() { hintPoll = old }
}

// LWWVersion is the version the last-writer-wins table holds for key.
func (s *Server) LWWVersion(key string) (ts, node uint64, ok bool) {
	v, ok := s.cluster.lww.lookup([]byte(key))
	return uint64(v.TS), v.Node, ok
}

// NodeOrder is this node's tie-break order.
func (s *Server) NodeOrder() uint64 { return s.cluster.order }

// FlatReplyRoundTrip parses a node's answer to a pub/sub query as the
// coordinator does and encodes what it read again.
func FlatReplyRoundTrip(b []byte) ([]byte, bool) {
	el, ok := flatReply(b)
	if !ok {
		return nil, false
	}
	if len(b) > 0 && b[0] == ':' {
		return resp.AppendInt(nil, el[0].n), true
	}
	out := resp.AppendArrayHeader(nil, len(el))
	for _, e := range el {
		if e.isInt {
			out = resp.AppendInt(out, e.n)
		} else {
			out = resp.AppendBulk(out, e.b)
		}
	}
	return out, true
}

// SessionWriters counts the client sessions and those of them with a
// writer goroutine (running or retiring).
func (s *Server) SessionWriters() (writers, sessions int) {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	for ss := range s.sessions.m {
		if ss.wstate.Load() != writerGone {
			writers++
		}
	}
	return writers, len(s.sessions.m)
}

// RetireIdleWriters is a sweep that takes every session for idle: each
// running writer with nothing queued gets retireMark now.
func (s *Server) RetireIdleWriters() {
	s.sessions.mu.Lock()
	for ss := range s.sessions.m {
		ss.active.Store(false)
	}
	s.sessions.mu.Unlock()
	s.sessions.sweep()
}
