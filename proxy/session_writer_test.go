package proxy_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// writerTestNode starts a one-node cluster and makes one request through
// it, so that the node's own goroutines (its datastore connection too) are
// there before the test's leak check starts; before is the number of
// sessions then.
func writerTestNode(t *testing.T) (srv *proxy.Server, addr string, before int) {
	tc := fakeCluster(t, []string{"dc1/r1/0"}, nil)
	srv = tc.Nodes[0].Server
	require.Equal(t, "+OK\r\n", tc.Client(0, "").Do("SET", "warm", "up"))
	_, before = srv.SessionWriters()
	return srv, srv.Addr().String(), before
}

// An idle connection keeps no writer goroutine (session_writer.go): the
// sweep retires it, and the next requests start one that answers them in
// order, pipelined or not.
func TestIdleSessionWriterRetiresAndComesBack(t *testing.T) {
	srv, addr, before := writerTestNode(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	const conns = 8
	cs := make([]*proxytest.Conn, conns)
	for i := range cs {
		cs[i] = proxytest.Dial(t, addr)
		require.Equal(t, "+OK\r\n", cs[i].Do("SET", "k"+strconv.Itoa(i), "v0"))
	}
	writers := func() int { w, _ := srv.SessionWriters(); return w }
	require.Eventually(t, func() bool { srv.RetireIdleWriters(); return writers() == 0 },
		10*time.Second, 10*time.Millisecond, "idle sessions kept their writers")

	for round := 1; round <= 3; round++ {
		for i, c := range cs {
			key := "k" + strconv.Itoa(i)
			// a pipeline: the restarted writer answers in request order
			var req []byte
			for j := 0; j < 5; j++ {
				req = append(req, proxytest.Cmd("SET", key, "v"+strconv.Itoa(round*10+j))...)
				req = append(req, proxytest.Cmd("GET", key)...)
			}
			c.Send(req)
			for j := 0; j < 5; j++ {
				b, err := c.Read(proxytest.RedisReply)
				require.NoError(t, err)
				require.Equal(t, "+OK\r\n", string(b))
				b, err = c.Read(proxytest.RedisReply)
				require.NoError(t, err)
				require.Equal(t, bulk("v"+strconv.Itoa(round*10+j)), string(b), "round %d, connection %d, pair %d", round, i, j)
			}
		}
		require.Positive(t, writers(), "no writer after requests")
		require.Eventually(t, func() bool { srv.RetireIdleWriters(); return writers() == 0 },
			10*time.Second, 10*time.Millisecond, "round %d: idle sessions kept their writers", round)
	}
	for _, c := range cs {
		c.Close()
	}
	require.Eventually(t, func() bool { _, n := srv.SessionWriters(); return n == before },
		10*time.Second, 10*time.Millisecond, "sessions left after their connections closed")
}

// The writer retiring and the reader queueing a request race: whatever
// the interleaving, every request gets its reply, in order, and no writer
// is left behind (run with -race).
func TestWriterRetireRace(t *testing.T) {
	srv, addr, before := writerTestNode(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	stop := make(chan struct{})
	var hammer sync.WaitGroup
	hammer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				srv.RetireIdleWriters()
			}
		}
	})
	var clients sync.WaitGroup
	errs := make(chan error, 4)
	for c := 0; c < 4; c++ {
		clients.Go(func() {
			rc := proxytest.Dial(t, addr)
			defer rc.Close()
			key := "race" + strconv.Itoa(c)
			for i := 0; i < 400; i++ {
				depth := 1 + i%3 // depth 1 leaves the queue empty between requests
				var req []byte
				for j := 0; j < depth; j++ {
					req = append(req, proxytest.Cmd("SET", key, strconv.Itoa(i*10+j))...)
					req = append(req, proxytest.Cmd("GET", key)...)
				}
				if err := rc.NetConn().SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
					errs <- err
					return
				}
				if _, err := rc.NetConn().Write(req); err != nil {
					errs <- err
					return
				}
				for j := 0; j < depth; j++ {
					want := []string{"+OK\r\n", bulk(strconv.Itoa(i*10 + j))}
					for _, w := range want {
						b, err := rc.Read(proxytest.RedisReply)
						if err != nil {
							errs <- err
							return
						}
						if string(b) != w {
							errs <- &mismatch{key, i, j, w, string(b)}
							return
						}
					}
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	hammer.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.Eventually(t, func() bool { _, n := srv.SessionWriters(); return n == before },
		10*time.Second, 10*time.Millisecond, "sessions left after their connections closed")
}

type mismatch struct {
	key       string
	round, j  int
	want, got string
}

func (m *mismatch) Error() string {
	return "key " + m.key + " round " + strconv.Itoa(m.round) + " pair " + strconv.Itoa(m.j) + ": want " + strconv.Quote(m.want) + ", got " + strconv.Quote(m.got)
}
