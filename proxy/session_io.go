package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// What an idle client connection keeps is what a node with many pooled
// clients pays for each of them (bench/README.md, "Memory per idle client
// connection"). A session holds its read and write buffers only while
// bytes are in them: the reader waits for input through syscall.RawConn
// with no buffer (rawSource), and the writer gives its bufio.Writer back
// once a flush leaves nothing queued. The writer goroutine itself ends
// after a while without requests (session_writer.go).

// readBufs lends the client sessions' read buffers (msg.BufPool).
var readBufs msg.BufPool

// writeBufs holds the client sessions' idle bufio.Writers (each with its
// sessionWriteBuf bytes), reset to no writer.
var writeBufs sync.Pool

func getWriter(nc net.Conn) *bufio.Writer {
	if bw, ok := writeBufs.Get().(*bufio.Writer); ok {
		bw.Reset(nc)
		return bw
	}
	return bufio.NewWriterSize(nc, sessionWriteBuf)
}

// putWriter gives an empty writer back (one with unflushed bytes or an
// error is dropped: it is of no use to another connection).
func putWriter(bw *bufio.Writer) {
	if bw.Buffered() != 0 {
		return
	}
	bw.Reset(nil)
	writeBufs.Put(bw)
}

// rawSource reads a plain socket for a lending msg.FrameReader: it reads
// with read(2) in a syscall.RawConn callback, into a buffer the frame reader
// takes only when the call is made, and on EAGAIN gives an empty buffer
// back before the poller waits. Deadlines apply as for net.Conn's Read
// (internal/poll's RawRead waits through the same pollDesc). On its own its
// system calls are Read's (read, EAGAIN, wait, read); run from readLazy's
// callback (session_lazy.go), a short read is followed by the wait without
// the EAGAIN read. The callback is built once per session: a RawConn.Read
// allocates nothing.
type rawSource struct {
	rc  syscall.RawConn
	fr  *msg.FrameReader
	n   int
	err error
	// block: wait for input on EAGAIN (the session's read at the bottom
	// of its stack); otherwise ReadTo answers errWouldBlock. short: the
	// last read did not fill the space it had, so the socket is most
	// likely empty: the next ReadTo that may not block answers
	// errWouldBlock without a system call, and the blocking one reads
	// before it waits (a FIN that came with the last bytes is seen).
	block, short bool
	fn           func(fd uintptr) bool // read, the RawConn callback

	// Waiting after a short read (readLazy, session_lazy.go): fd is the
	// socket while the session runs inside its RawConn.Read callback
	// (inWait; ReadTo then reads fd itself), hup that the peer has shut
	// its side down (set by the server's netio.Hangups watcher: from then
	// on every ReadTo reads), key the watch, done that the callback ended
	// with the connection.
	fd     int
	inWait bool
	done   bool
	hup    atomic.Bool
	key    uint64
	loop   func(fd uintptr) bool
}

// errWouldBlock: the socket has nothing to read now (rawSource.ReadTo);
// the session reads again from the bottom of its stack, waiting (readLoop).
var errWouldBlock = errors.New("proxy: client socket would block")

func newRawSource(nc net.Conn) *rawSource {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil // TLS and the like: a plain net.Conn read
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	rs := &rawSource{rc: rc, short: true} // nothing read yet: wait first
	rs.fn = rs.read
	return rs
}

func (rs *rawSource) read(fd uintptr) bool {
	for {
		space := rs.fr.Space()
		n, err := syscall.Read(int(fd), space)
		rs.short = n < len(space)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			rs.fr.Idle() // wait for input holding no buffer
			if rs.block {
				return false
			}
			rs.n, rs.err = 0, errWouldBlock
		case err != nil:
			rs.n, rs.err = 0, os.NewSyscallError("read", err)
		case n == 0:
			rs.n, rs.err = 0, io.EOF
		default:
			rs.n, rs.err = n, nil
		}
		return true
	}
}

// ReadTo implements msg.Source.
func (rs *rawSource) ReadTo(f *msg.FrameReader) (int, error) {
	if rs.short && !rs.block && !rs.hup.Load() {
		rs.short = false
		if rs.inWait {
			f.Idle() // readLazy waits next, holding no buffer
		}
		return 0, errWouldBlock
	}
	rs.fr = f
	if rs.inWait {
		// inside the RawConn.Read callback: read the socket itself
		// (RawConn.Read does not nest)
		rs.read(uintptr(rs.fd))
		return rs.n, rs.err
	}
	if err := rs.rc.Read(rs.fn); err != nil {
		return 0, err // closed, or a deadline
	}
	return rs.n, rs.err
}

// newSessionReader is the session's frame reader: lending over a rawSource
// when the connection has a file descriptor, otherwise buffered as before.
func newSessionReader(nc net.Conn, limit int) (*msg.FrameReader, *rawSource) {
	if src := newRawSource(nc); src != nil {
		return msg.NewLendingFrameReader(src, &readBufs, limit), src
	}
	return msg.NewFrameReader(nc, sessionReadBuf, limit), nil
}
