package netio

import (
	"io"
	"os"
	"syscall"
)

// read is the raw read, called by RawConn.Read: true when it is done,
// false to wait for readiness and be called again.
func (r *Reader) read(fd uintptr) bool {
	if r.waitFirst {
		r.waitFirst = false
		if !r.hup.Load() {
			return false
		}
	}
	for {
		n, err := syscall.Read(int(fd), r.p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			r.err = r.opError(os.NewSyscallError("read", err))
		case n == 0:
			r.err = io.EOF
		default:
			r.n = n
		}
		return true
	}
}
