package backend

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lineParser treats every reply as one line ending in \n.
func lineParser(buf []byte, _ *msg.Request) (int, int, bool, error) {
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		return 0, i + 1, true, nil
	}
	return 0, 0, false, nil
}

// fakeStore answers each line "x\n" with "re:x\n", unless mute is set.
type fakeStore struct {
	t    testing.TB
	ln   net.Listener
	mu   sync.Mutex
	mute bool
	cs   []net.Conn
	wg   sync.WaitGroup
}

func newFakeStore(t testing.TB, addr string) *fakeStore {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	f := &fakeStore{t: t, ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.cs = append(f.cs, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadBytes('\n')
					if err != nil {
						return
					}
					f.mu.Lock()
					mute := f.mute
					f.mu.Unlock()
					if mute {
						continue
					}
					if _, err := c.Write(append([]byte("re:"), line...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(f.stop)
	return f
}

func (f *fakeStore) addr() string { return f.ln.Addr().String() }

func (f *fakeStore) setMute(m bool) {
	f.mu.Lock()
	f.mute = m
	f.mu.Unlock()
}

// stop closes the listener and every accepted connection.
func (f *fakeStore) stop() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.cs {
		c.Close()
	}
	f.cs = nil
	f.mu.Unlock()
	f.wg.Wait()
}

func newPool(t testing.TB, addr string, mod func(*Options)) *Pool {
	t.Helper()
	o := Options{Addr: addr, Timeout: 3 * time.Second, RetryTimeout: 200 * time.Millisecond,
		Preconnect: true, FailureLimit: 3, Parse: lineParser, Conns: 2}
	if mod != nil {
		mod(&o)
	}
	p := New(o)
	p.Start(context.Background())
	t.Cleanup(p.Close)
	return p
}

// waitUp waits until every connection of p is established.
func waitUp(t testing.TB, p *Pool) {
	t.Helper()
	require.Eventually(t, p.AllUp, 5*time.Second, 5*time.Millisecond, "pool never came up")
}

func do(p *Pool, payload string, hint uint) *msg.Request {
	r := msg.NewRequest()
	r.SetRaw([]byte(payload + "\n"))
	p.Send(r, hint)
	r.Wait()
	return r
}

func TestPipelinedRequestsCompleteInOrderWithTheirOwnReplies(t *testing.T) {
	fs := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, fs.addr(), nil)
	waitUp(t, p)

	const n = 2000
	reqs := make([]*msg.Request, n)
	for i := range reqs {
		reqs[i] = msg.NewRequest()
		reqs[i].SetRaw([]byte("k" + strconv.Itoa(i) + "\n"))
		p.Send(reqs[i], uint(i%3))
	}
	for i, r := range reqs {
		r.Wait()
		require.NoError(t, r.Err)
		require.Equal(t, "re:k"+strconv.Itoa(i)+"\n", string(r.Reply))
	}
	require.EqualValues(t, n, p.Stats().Replies)
}

func TestDatastoreDownFailsAtOnceAndRecoveryIsAutomatic(t *testing.T) {
	// Reserve a port, then free it: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()

	p := newPool(t, addr, func(o *Options) { o.AutoEject = false })
	start := time.Now()
	r := do(p, "a", 0)
	require.ErrorIs(t, r.Err, msg.ErrDatastoreDown)
	require.Less(t, time.Since(start), 100*time.Millisecond, "a down datastore must fail fast")

	fs := newFakeStore(t, addr)
	waitUp(t, p)
	r = do(p, "b", 0)
	require.NoError(t, r.Err)
	require.Equal(t, "re:b\n", string(r.Reply))

	// It goes away again with requests in flight, then comes back.
	fs.setMute(true)
	inflight := msg.NewRequest()
	inflight.SetRaw([]byte("lost\n"))
	p.Send(inflight, 0)
	fs.stop()
	inflight.Wait()
	require.Error(t, inflight.Err)
	require.False(t, inflight.Err == nil && inflight.Reply != nil)

	_ = newFakeStore(t, addr)
	waitUp(t, p)
	r = do(p, "c", 1)
	require.NoError(t, r.Err)
}

func TestSilentDatastoreTimesOutAndTheConnectionIsReplaced(t *testing.T) {
	fs := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, fs.addr(), func(o *Options) { o.Conns = 1; o.AutoEject = false; o.Timeout = 300 * time.Millisecond })
	waitUp(t, p)
	fs.setMute(true)
	start := time.Now()
	r := do(p, "x", 0)
	require.ErrorIs(t, r.Err, msg.ErrDatastoreTimeout)
	require.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	require.Less(t, time.Since(start), 2*time.Second)
	require.EqualValues(t, 1, p.Stats().Timeouts)

	fs.setMute(false)
	require.Eventually(t, func() bool { return do(p, "y", 0).Err == nil }, 5*time.Second, 20*time.Millisecond)
}

func TestAutoEjectAfterConsecutiveFailuresThenRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	p := newPool(t, addr, func(o *Options) {
		o.AutoEject, o.FailureLimit, o.RetryTimeout, o.Conns = true, 2, 400*time.Millisecond, 1
	})
	require.Eventually(t, func() bool { return p.Stats().Ejections >= 1 }, 5*time.Second, 5*time.Millisecond)
	require.False(t, p.Up())
	require.ErrorIs(t, do(p, "a", 0).Err, msg.ErrDatastoreDown)

	_ = newFakeStore(t, addr)
	waitUp(t, p) // after the ejection period the pool dials again
	require.NoError(t, do(p, "b", 0).Err)
}

func TestWithoutPreconnectTheFirstRequestConnects(t *testing.T) {
	fs := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, fs.addr(), func(o *Options) { o.Preconnect = false; o.Conns = 1 })
	time.Sleep(50 * time.Millisecond)
	require.EqualValues(t, 0, p.Stats().Connects, "must not dial before first use")
	r := do(p, "lazy", 0)
	require.NoError(t, r.Err)
	require.Equal(t, "re:lazy\n", string(r.Reply))
}

func TestCloseFailsQueuedRequestsExactlyOnce(t *testing.T) {
	fs := newFakeStore(t, "127.0.0.1:0")
	fs.setMute(true)
	o := Options{Addr: fs.addr(), Timeout: 10 * time.Second, Preconnect: true, Parse: lineParser}
	p := New(o)
	p.Start(context.Background())
	waitUp(t, p)
	reqs := make([]*msg.Request, 50)
	for i := range reqs {
		reqs[i] = msg.NewRequest()
		reqs[i].SetRaw([]byte("q\n"))
		p.Send(reqs[i], 0)
	}
	p.Close()
	for _, r := range reqs {
		r.Wait()
		require.ErrorIs(t, r.Err, msg.ErrShutdown)
		select {
		case <-r.DoneChan():
			t.Fatal("request completed twice")
		default:
		}
	}
}

// pipeStore is a datastore at the end of a net.Pipe: nothing is buffered
// between the pool and it, so the test decides exactly how fast bytes move.
// serve runs once per connection the pool dials.
func pipeStore(t *testing.T, serve func(c net.Conn)) func(context.Context, string, string) (net.Conn, error) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	return func(context.Context, string, string) (net.Conn, error) {
		client, store := net.Pipe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer store.Close()
			serve(store)
		}()
		return client, nil
	}
}

// A reply that takes longer than `timeout` to stream in, but whose bytes
// keep arriving, is a slow transfer: it completes, and nothing times out.
func TestAReplyStillStreamingInIsNotATimeout(t *testing.T) {
	const chunk, chunks = 32 << 10, 96 // 3 MiB, one chunk every 10 ms: about 1 s
	dial := pipeStore(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := br.ReadBytes('\n'); err != nil {
			return
		}
		part := bytes.Repeat([]byte("x"), chunk)
		for i := 0; i < chunks; i++ {
			if _, err := c.Write(part); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, _ = c.Write([]byte("\n"))
		_, _ = io.Copy(io.Discard, c)
	})
	r := slowTransfer(t, dial, "big")
	require.Len(t, r.Reply, chunk*chunks+1)
}

// slowTransfer sends payload through a pool with a 400 ms timeout to a
// store that moves bytes slowly, and requires that it succeed although the
// transfer outlasts the timeout, with no timeout counted.
func slowTransfer(t *testing.T, dial func(context.Context, string, string) (net.Conn, error), payload string) *msg.Request {
	t.Helper()
	const timeout = 400 * time.Millisecond
	p := newPool(t, "pipe", func(o *Options) { o.Conns = 1; o.Timeout = timeout; o.Dial = dial })
	waitUp(t, p)
	start := time.Now()
	r := do(p, payload, 0)
	require.NoError(t, r.Err)
	require.Greater(t, time.Since(start), timeout, "the transfer must outlast the timeout for this test to mean anything")
	require.Zero(t, p.Stats().Timeouts)
	return r
}

// A request that takes longer than `timeout` to write, because the
// datastore reads it slowly, is not a timeout either: each chunk it takes
// is progress.
func TestARequestStillBeingReadIsNotATimeout(t *testing.T) {
	const size = 24 << 20 // read 256 KiB every 10 ms: about 1 s
	dial := pipeStore(t, func(c net.Conn) {
		buf := make([]byte, 256<<10)
		got := 0
		for got < size+1 {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got += n
			time.Sleep(10 * time.Millisecond)
		}
		_, _ = c.Write([]byte("ok\n"))
		_, _ = io.Copy(io.Discard, c)
	})
	r := slowTransfer(t, dial, strings.Repeat("v", size))
	require.Equal(t, "ok\n", string(r.Reply))
}

// logLines hands each log line the pool's goroutines write to the test;
// lines beyond its buffer are dropped rather than block the pool.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default:
	}
	return len(p), nil
}

func TestLogLinesNameThePoolsRole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	for role, want := range map[string]string{
		"":     `msg="datastore connect failed" component=backend datastore="store one"`,
		"peer": `msg="peer connect failed" component=backend peer="store one"`,
	} {
		logs := make(logLines, 64)
		p := newPool(t, addr, func(o *Options) {
			o.Role, o.Name, o.Conns = role, "store one", 1
			o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		})
		var line string
		select {
		case line = <-logs:
		case <-time.After(10 * time.Second):
			t.Fatalf("role %q: no log line from a pool whose address refuses connections", role)
		}
		p.Close()
		require.Contains(t, line, want, "role %q", role)
		if role == "peer" {
			require.NotContains(t, line, "datastore", "a peer pool's lines must not call it a datastore")
		}
	}
}

func TestLatencyIsSmoothedFromReplies(t *testing.T) {
	fs := newFakeStore(t, "127.0.0.1:0")
	p := newPool(t, fs.addr(), nil)
	require.Zero(t, p.Stats().Latency, "no reply yet")
	waitUp(t, p)
	require.NoError(t, do(p, "a", 0).Err)
	first := p.Stats().Latency
	require.Positive(t, first)

	// a sample moves the mean one eighth of the way
	p.latency.Store(800)
	p.smoothLatency(1600)
	require.EqualValues(t, 900, p.Stats().Latency)
	p.smoothLatency(100)
	require.EqualValues(t, 800, p.Stats().Latency)
}
