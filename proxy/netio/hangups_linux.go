package netio

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// Hangups watches connections for their peer's shutdown (see the package
// documentation). The zero value is not usable; call [NewHangups].
type Hangups struct {
	epfd int
	// wake is an eventfd in the epoll set: Close writes it to end the
	// watcher's epoll_wait
	wake int

	mu      sync.Mutex
	readers map[uint64]*Reader
	gen     uint32
	closed  bool
	done    chan struct{}
}

// NewHangups starts a watcher goroutine; Close stops it.
func NewHangups() (*Hangups, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netio: epoll_create1: %w", err)
	}
	wake, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("netio: eventfd2: %w", errno)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(wake)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(wake), &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(int(wake))
		return nil, fmt.Errorf("netio: epoll_ctl of the wake-up eventfd: %w", err)
	}
	h := &Hangups{epfd: epfd, wake: int(wake), readers: make(map[uint64]*Reader), done: make(chan struct{})}
	go h.watch()
	return h, nil
}

// Reader returns a reader of nc, registered for its peer's shutdown. A
// nil h, a connection without a file descriptor or a failed registration
// give a reader that reads through nc.Read.
func (h *Hangups) Reader(nc net.Conn) *Reader {
	r := &Reader{nc: nc}
	if h == nil {
		return r
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return r
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return r
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return r
	}
	h.gen++
	if h.gen == 0 {
		h.gen = 1
	}
	gen := h.gen
	h.mu.Unlock()

	var key uint64
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		key = uint64(fd)<<32 | uint64(gen)
		// EPOLLRDHUP alone: no event for data, one when the peer shuts
		// down (or at once when it already has); EPOLLONESHOT: never
		// again after it. The registration ends by itself when the
		// socket is closed (epoll(7)), so Release need not touch it.
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd), Pad: int32(gen)}
		h.mu.Lock()
		h.readers[key] = r
		h.mu.Unlock()
		cerr = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil || cerr != nil {
		h.forget(key)
		return r
	}
	r.rc, r.h, r.key = rc, h, key
	r.cb = r.read
	return r
}

func (h *Hangups) forget(key uint64) {
	h.mu.Lock()
	delete(h.readers, key)
	h.mu.Unlock()
}

func (h *Hangups) watch() {
	defer close(h.done)
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(h.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for i := range events[:n] {
			ev := &events[i]
			if int(ev.Fd) == h.wake {
				return
			}
			// the generation tells a closed connection's stale event from
			// the connection that now has its descriptor number
			key := uint64(uint32(ev.Fd))<<32 | uint64(uint32(ev.Pad))
			h.mu.Lock()
			r := h.readers[key]
			h.mu.Unlock()
			if r != nil {
				r.hup.Store(true)
				// ends a wait in progress (Read then reads to the end);
				// a wait not begun yet sees hup
				_ = r.nc.SetReadDeadline(time.Unix(1, 0))
			}
		}
	}
}

// Close stops the watcher. Readers made before keep working; those still
// waiting are no longer woken by a hangup.
func (h *Hangups) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	one := [8]byte{1}
	_, _ = syscall.Write(h.wake, one[:])
	<-h.done
	_ = syscall.Close(h.wake)
	return syscall.Close(h.epfd)
}
