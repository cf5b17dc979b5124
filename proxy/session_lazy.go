package proxy

import (
	"errors"
	"os"
	"time"
)

// A client's reader waits for input after a read shorter than the space it
// had, as an epoll loop does (Redis's ae.c, twemproxy's nc_connection.c
// conn_recv), instead of reading again to be told EAGAIN as net.Conn.Read
// does. At pipeline depth 1 that saves one read system call in three.
//
// Two things make that wrong with Go's poller unless handled:
//   - internal/poll's RawRead forgets the socket's readiness when it is
//     entered (runtime/netpoll.go poll_runtime_pollReset): input that came
//     between a read and the next RawRead would wait for more input. So
//     the session runs inside one RawConn.Read callback for as long as it
//     can: readSome is called from the callback, and returning false from
//     it is the wait. The first call after entering, and every call after
//     a wake-up, reads.
//   - the poller is edge-triggered: a FIN that arrives with the last bytes
//     is one readiness event, consumed by the wake-up that read the bytes.
//     The server's netio.Hangups watches every client socket for
//     EPOLLRDHUP and, when the peer shuts down, sets hup and a read
//     deadline in the past; the reader then reads to the end without
//     waiting (readHungUp).
//
// Deadlines (client timeouts, the drain) end a wait as they end a Read: the
// callback returns with the error, readSome deals with it outside the
// callback, as readWaiting's loop does.

// watchHangup registers the session's socket with the server's hangup
// watcher; false: wait as net.Conn.Read does (readWaiting).
func (ss *session) watchHangup() bool {
	src := ss.src
	key, ok := ss.s.hangups.Watch(src.rc, func() {
		src.hup.Store(true)
		// ends a wait in progress; a wait about to begin sees hup first
		_ = ss.nc.SetReadDeadline(time.Unix(1, 0))
	})
	if !ok {
		return false
	}
	src.key = key
	src.loop = func(fd uintptr) bool {
		src.fd, src.inWait = int(fd), true
		// called on entry or after a wake-up: read, whatever the last
		// read was
		src.short = false
		wait := ss.readSome()
		src.inWait = false
		switch {
		case !wait:
			src.done = true
		case !src.hup.Load():
			return false // wait for input (RawRead's waitRead)
		}
		// done, or the peer hung up: do not wait, the end is there to read
		return true
	}
	return true
}

func (ss *session) readLazy() {
	src := ss.src
	for {
		src.done = false
		err := src.rc.Read(src.loop)
		switch {
		case src.done:
			return
		case err == nil || src.hup.Load() && errors.Is(err, os.ErrDeadlineExceeded):
			// the callback stopped for a hangup, or the watcher's
			// deadline ended the wait
			ss.readHungUp()
			return
		}
		// a deadline or a close ended the wait: readSome deals with it
		// as with a failed read, outside the callback
		ss.waitErr, ss.waited = err, true
		if !ss.readSome() {
			return
		}
	}
}

// readHungUp reads what the peer sent before it shut its side down: it is
// all in the socket, then the end, so nothing waits.
func (ss *session) readHungUp() {
	src := ss.src
	if ss.waited && errors.Is(ss.waitErr, os.ErrDeadlineExceeded) {
		// the watcher's deadline ended readLoop's first wait: not a
		// timeout
		ss.waited, ss.waitErr = false, nil
	}
	_ = src.rc.Control(func(fd uintptr) {
		src.fd, src.inWait = int(fd), true
		// with hup set every read is made: readSome ends at the end of
		// the stream, or (never after a FIN) when a read finds nothing,
		// and either way nothing more will come
		ss.readSome()
		src.inWait = false
	})
}
