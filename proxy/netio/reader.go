package netio

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

// Reader reads one connection. Read is not safe for concurrent use (one
// reader goroutine per connection, as net.Conn.Read is used); Release may
// be called from any goroutine.
type Reader struct {
	nc net.Conn
	// rc is nc's raw connection; nil reads through nc.Read
	rc syscall.RawConn
	h  *Hangups
	// key is the registration in h (0: none)
	key uint64
	// hup: the peer shut its side down (set by h's watcher): never wait
	// again, read to the end
	hup atomic.Bool
	// waitFirst: the last read was short, so the next one waits for
	// readiness before it reads
	waitFirst bool

	// the read in progress, for cb
	p   []byte
	n   int
	err error
	cb  func(fd uintptr) bool
}

// Read reads into p as net.Conn.Read does.
func (r *Reader) Read(p []byte) (int, error) {
	if r.rc == nil || len(p) == 0 {
		return r.nc.Read(p)
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.cb)
	if err != nil && r.hup.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
		// the watcher's wake-up: what is left, then the end, is readable
		// without waiting
		err = r.rc.Read(r.cb)
	}
	r.p = nil
	if err != nil {
		return 0, r.opError(err)
	}
	r.waitFirst = r.err == nil && r.n < len(p)
	return r.n, r.err
}

// opError wraps err as net.Conn.Read does, so that callers' errors.Is and
// errors.As tests (timeouts, net.ErrClosed, ECONNRESET) see what they see
// with net.Conn.
func (r *Reader) opError(err error) error {
	return &net.OpError{Op: "read", Net: r.nc.LocalAddr().Network(), Source: r.nc.LocalAddr(), Addr: r.nc.RemoteAddr(), Err: err}
}

// Release ends r's registration with its Hangups. Call it when the
// connection is done with (before or after closing it).
func (r *Reader) Release() {
	if r.h != nil && r.key != 0 {
		r.h.forget(r.key)
		r.key = 0
	}
}
