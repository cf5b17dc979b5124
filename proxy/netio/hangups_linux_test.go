package netio

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	s, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close(); c.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func rawConn(t *testing.T, c *net.TCPConn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	return rc
}

func newHangups(t *testing.T) *Hangups {
	t.Helper()
	h, err := NewHangups()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close()) })
	return h
}

// hung waits for a callback; the bound only keeps a broken watcher from
// hanging the test.
func hung(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the hangup callback never ran")
	}
}

func TestWatchRunsOnceWhenThePeerShutsDownAfterData(t *testing.T) {
	h := newHangups(t)
	s, c := pair(t)
	calls := make(chan struct{}, 4)
	_, ok := h.Watch(rawConn(t, s), func() { calls <- struct{}{} })
	require.True(t, ok)

	// data alone is no hangup
	_, err := c.Write([]byte("PING\r\n"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	n, err := s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "PING\r\n", string(buf[:n]))
	require.Len(t, calls, 0, "data is not a hangup")

	// data and FIN together, the case the package is for
	_, err = c.Write([]byte("QUIT\r\n"))
	require.NoError(t, err)
	require.NoError(t, c.CloseWrite())
	hung(t, calls)
	n, err = s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "QUIT\r\n", string(buf[:n]), "the hangup comes before the data is read")
	require.Len(t, calls, 0, "one call per connection (EPOLLONESHOT)")
}

func TestWatchRunsAtOnceForAPeerThatAlreadyShutDown(t *testing.T) {
	h := newHangups(t)
	s, c := pair(t)
	require.NoError(t, c.CloseWrite())
	// the FIN is in before the registration: wait until the socket shows it
	buf := make([]byte, 1)
	require.NoError(t, s.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err := s.Read(buf) // EOF: the FIN has arrived
	require.Error(t, err)
	calls := make(chan struct{}, 1)
	_, ok := h.Watch(rawConn(t, s), func() { calls <- struct{}{} })
	require.True(t, ok)
	hung(t, calls)
}

func TestForgetAndCloseStopTheCallbacks(t *testing.T) {
	h := newHangups(t)
	s1, c1 := pair(t)
	s2, c2 := pair(t)
	forgotten := make(chan struct{}, 1)
	kept := make(chan struct{}, 1)
	k1, ok := h.Watch(rawConn(t, s1), func() { forgotten <- struct{}{} })
	require.True(t, ok)
	_, ok = h.Watch(rawConn(t, s2), func() { kept <- struct{}{} })
	require.True(t, ok)
	h.Forget(k1)
	// the first FIN is in first, so its event is handled first (epoll's
	// ready list keeps arrival order): once the second one's callback ran,
	// the first one's would have
	require.NoError(t, c1.CloseWrite())
	require.NoError(t, s1.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err := s1.Read(make([]byte, 1))
	require.Error(t, err, "EOF: the first FIN has arrived")
	require.NoError(t, c2.CloseWrite())
	hung(t, kept)
	require.NoError(t, h.Close())
	require.Len(t, forgotten, 0, "a forgotten connection's callback ran")
	_, ok = h.Watch(rawConn(t, s1), func() {})
	require.False(t, ok, "a closed Hangups registers nothing")
}

// A closed connection's descriptor number is soon another connection's:
// the generation in each registration keeps the new one's callback its own.
func TestADescriptorNumberReusedGetsItsOwnCallback(t *testing.T) {
	h := newHangups(t)
	old := make(chan struct{}, 1)
	for range 20 {
		s, c := pair(t)
		_, ok := h.Watch(rawConn(t, s), func() { old <- struct{}{} })
		require.True(t, ok)
		s.Close() // not forgotten: the kernel drops the registration
		c.Close()
	}
	s, c := pair(t)
	calls := make(chan struct{}, 1)
	_, ok := h.Watch(rawConn(t, s), func() { calls <- struct{}{} })
	require.True(t, ok)
	require.NoError(t, c.CloseWrite())
	hung(t, calls)
	require.Len(t, old, 0, "a closed connection's callback ran")
}
