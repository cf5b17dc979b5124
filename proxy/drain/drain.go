// Package drain keeps a node's open connections, client and peer, and
// stops them gently when the node stops.
//
// The proxy package's client sessions and proxy/dnode's peer listener put
// every connection they accept in one [Group]. When the node stops,
// [Group.Drain] wakes every reader; each stops at its next request
// boundary (a request half read is read to its end, until the drain
// deadline at the latest), its writer writes the replies of what was read,
// and [Group.CloseGently] closes the connection so that the other side
// reads every reply before EOF. The group's owner waits for them
// ([Group.Wait]) and cuts what is left at the deadline ([Group.CloseAll]).
//
// The package imports only the standard library (scripts/depcheck.sh).
package drain

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Group is a set of open connections that drain together. The zero value
// is ready to use; a Group must not be copied.
type Group struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	draining atomic.Bool
	// until is the drain deadline (unix nanos)
	until atomic.Int64
}

// Go adds nc to the group and runs serve on a new goroutine; nc leaves the
// group when serve returns. TCP connections get TCP_NODELAY: writers flush
// whole replies, which Nagle's algorithm would only delay.
func (g *Group) Go(nc net.Conn, serve func()) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	g.mu.Lock()
	if g.conns == nil {
		g.conns = map[net.Conn]struct{}{}
	}
	g.conns[nc] = struct{}{}
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		serve()
		g.mu.Lock()
		delete(g.conns, nc)
		g.mu.Unlock()
	}()
}

// Drain starts the drain: from now on Draining is true, and every reader
// blocked between requests is woken (its read fails with a timeout); one
// half-way through a request finds its read cut too and re-arms it with
// ReadOn. It returns the number of connections open. Call it once the
// listeners are closed, so that no connection joins afterwards.
func (g *Group) Drain(deadline time.Time) int {
	g.until.Store(deadline.UnixNano())
	g.draining.Store(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	for nc := range g.conns {
		_ = nc.SetReadDeadline(time.Unix(1, 0))
	}
	return len(g.conns)
}

// Draining reports whether Drain has been called: readers stop at the
// next request boundary.
func (g *Group) Draining() bool { return g.draining.Load() }

// Deadline is the drain deadline (valid once Draining).
func (g *Group) Deadline() time.Time { return time.Unix(0, g.until.Load()) }

// ReadOn is called by a reader whose read failed with err. It reports
// whether to read on: the group is draining, the reader holds part of a
// request (mid), and err is Drain's wake-up rather than the passing of
// the deadline. It then re-arms nc's read deadline to the drain deadline.
func (g *Group) ReadOn(nc net.Conn, mid bool, err error) bool {
	var ne net.Error
	if !g.draining.Load() || !mid || !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	until := g.until.Load()
	if time.Now().UnixNano() >= until {
		return false
	}
	return nc.SetReadDeadline(time.Unix(0, until)) == nil
}

// closeLinger bounds how long CloseGently waits, after the last reply on
// a connection, for the other side to close.
const closeLinger = 500 * time.Millisecond

// CloseGently closes a connection whose replies are all written. It shuts
// the write side first (FIN after the last reply: the other side reads
// every reply, then EOF), then reads and discards what still comes until
// the other side closes, for at most closeLinger and not past the drain
// deadline. Closing a socket that holds unread input resets the
// connection (RFC 1122, 4.2.2.13), and a reset can destroy replies not yet
// delivered.
func (g *Group) CloseGently(nc net.Conn) {
	defer nc.Close()
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	limit := time.Now().Add(closeLinger)
	if until := g.Deadline(); until.Before(limit) {
		limit = until
	}
	if nc.SetReadDeadline(limit) == nil {
		_, _ = io.Copy(io.Discard, nc)
	}
}

// CloseAll closes every connection still open (a drain out of time).
func (g *Group) CloseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for nc := range g.conns {
		nc.Close()
	}
}

// Wait waits until every connection's serve has returned.
func (g *Group) Wait() { g.wg.Wait() }

// Ended reports whether err means the connection ended (EOF, closed, a
// deadline) rather than broke: not worth a log line.
func Ended(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
