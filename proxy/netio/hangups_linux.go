package netio

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// Hangups watches connections for their peer's shutdown (see the package
// documentation). The zero value is not usable; call [NewHangups].
type Hangups struct {
	epfd int
	// wake is an eventfd in the epoll set: Close writes it to end the
	// watcher's epoll_wait
	wake int

	mu      sync.Mutex
	watched map[uint64]func()
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
	h := &Hangups{epfd: epfd, wake: int(wake), watched: make(map[uint64]func()), done: make(chan struct{})}
	go h.watch()
	return h, nil
}

// Watch registers rc's socket: hup runs, on the watcher's goroutine, once
// the peer has shut its side down (at once if it already has). It reports
// false, having registered nothing, when h is nil or closed or the
// registration fails. Forget(key) ends the registration's bookkeeping;
// the kernel's ends with the socket (epoll(7): closing the descriptor
// removes it from every epoll set).
func (h *Hangups) Watch(rc syscall.RawConn, hup func()) (key uint64, ok bool) {
	if h == nil {
		return 0, false
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0, false
	}
	h.gen++
	if h.gen == 0 {
		h.gen = 1
	}
	gen := h.gen
	h.mu.Unlock()
	var cerr error
	err := rc.Control(func(fd uintptr) {
		// the generation tells a closed connection's late event from the
		// connection that has its descriptor number since
		key = uint64(fd)<<32 | uint64(gen)
		h.mu.Lock()
		h.watched[key] = hup
		h.mu.Unlock()
		// EPOLLRDHUP alone: no event for data; EPOLLONESHOT: none after
		// the first
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd), Pad: int32(gen)}
		cerr = syscall.EpollCtl(h.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		h.Forget(key)
		return 0, false
	}
	return key, true
}

// Forget drops a registration made by Watch; its callback is not run after
// Forget returns.
func (h *Hangups) Forget(key uint64) {
	if h == nil || key == 0 {
		return
	}
	h.mu.Lock()
	delete(h.watched, key)
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
			key := uint64(uint32(ev.Fd))<<32 | uint64(uint32(ev.Pad))
			// under mu, so that no callback runs after its Forget
			h.mu.Lock()
			if hup := h.watched[key]; hup != nil {
				delete(h.watched, key)
				hup()
			}
			h.mu.Unlock()
		}
	}
}

// Close stops the watcher; callbacks are not run after it returns.
func (h *Hangups) Close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	one := [8]byte{1} // eventfd(2): an 8-byte counter, host order
	_, _ = syscall.Write(h.wake, one[:])
	<-h.done
	_ = syscall.Close(h.wake)
	return syscall.Close(h.epfd)
}
