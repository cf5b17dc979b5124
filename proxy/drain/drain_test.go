package drain

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestDrainWakesReadersAndLetsThoseMidRequestFinish(t *testing.T) {
	var g Group
	idle, _ := tcpPair(t)
	mid, midPeer := tcpPair(t)
	got := make(chan string, 2)
	partial := make(chan struct{}, 1)
	// each reader reads one 4-byte request, telling partial when it holds
	// part of one
	serve := func(nc net.Conn, name string) func() {
		return func() {
			var req []byte
			buf := make([]byte, 4)
			for len(req) < 4 {
				n, err := nc.Read(buf[:4-len(req)])
				if req = append(req, buf[:n]...); n > 0 && len(req) < 4 {
					select {
					case partial <- struct{}{}:
					default:
					}
				}
				if err != nil {
					if g.ReadOn(nc, len(req) > 0, err) {
						continue
					}
					got <- fmt.Sprintf("%s stopped after %q", name, req)
					return
				}
			}
			got <- fmt.Sprintf("%s read %q", name, req)
		}
	}
	g.Go(idle, serve(idle, "idle"))
	g.Go(mid, serve(mid, "mid"))
	_, err := midPeer.Write([]byte("ab"))
	require.NoError(t, err)
	<-partial
	require.Equal(t, 2, g.Drain(time.Now().Add(time.Minute)))
	require.True(t, g.Draining())
	require.Equal(t, `idle stopped after ""`, <-got, "a reader between requests stops")
	_, err = midPeer.Write([]byte("cd"))
	require.NoError(t, err)
	require.Equal(t, `mid read "abcd"`, <-got, "a reader in the middle of a request reads its end")
	g.Wait()
}

func TestReadOnStopsAtTheDeadlineAndOnRealErrors(t *testing.T) {
	var g Group
	nc, _ := tcpPair(t)
	timeout := os.ErrDeadlineExceeded
	require.False(t, g.ReadOn(nc, true, timeout), "not draining")
	g.Drain(time.Now().Add(-time.Second))
	require.False(t, g.ReadOn(nc, true, timeout), "the deadline has passed")
	g.Drain(time.Now().Add(time.Minute))
	require.False(t, g.ReadOn(nc, false, timeout), "between requests")
	require.False(t, g.ReadOn(nc, true, io.EOF), "the other side closed")
	require.True(t, g.ReadOn(nc, true, timeout))
}

func TestCloseGentlyDeliversEveryReplyThenEOF(t *testing.T) {
	var g Group
	g.Drain(time.Now().Add(time.Minute))
	nc, peer := tcpPair(t)
	// unread input on nc: a plain Close would reset the connection
	_, err := peer.Write([]byte("late request"))
	require.NoError(t, err)
	_, err = nc.Write([]byte("reply"))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { g.CloseGently(nc); close(done) }()
	b, err := io.ReadAll(peer)
	require.NoError(t, err, "EOF, not a reset")
	require.Equal(t, "reply", string(b))
	peer.Close()
	<-done
}

func TestCloseAllCutsWhatIsLeft(t *testing.T) {
	var g Group
	nc, _ := tcpPair(t)
	g.Go(nc, func() { _, _ = io.Copy(io.Discard, nc) })
	g.CloseAll()
	g.Wait()
}

func TestEnded(t *testing.T) {
	for err, want := range map[error]bool{
		io.EOF:                                true,
		fmt.Errorf("read: %w", net.ErrClosed): true,
		io.ErrUnexpectedEOF:                   true,
		os.ErrDeadlineExceeded:                true,
		errors.New("connection reset"):        false,
	} {
		require.Equal(t, want, Ended(err), err.Error())
	}
}
