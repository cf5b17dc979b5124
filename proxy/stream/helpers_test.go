package stream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock advances only when the stream sleeps; onSleep sees each new
// time (and may cancel the stream).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	onSleep func(now time.Time)
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	now, hook := c.now, c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(now)
	}
	return ctx.Err()
}

// streamTopology is one rack of three nodes with two tokens each; node "b"
// owns about a third of the ring, in two ranges, one of them wrapping.
func streamTopology(t testing.TB) (*ring.Topology, Ranges) {
	t.Helper()
	nodes := []ring.Node{
		{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{700000000, 2100000000}},
		{Name: "b", DC: "dc1", Rack: "r1", Tokens: []ring.Token{200000000, 2800000000}},
		{Name: "c", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1400000000, 3500000000}},
	}
	topo, err := ring.NewTopology("a", nodes, ring.Options{HashTag: "{}"})
	require.NoError(t, err)
	rs, err := NodeRanges(topo, "b")
	require.NoError(t, err)
	return topo, rs
}

func dialT(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := DialRedis(context.Background(), addr, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// do runs one command and fails the test on any error.
func do(t testing.TB, c *Conn, args ...string) Value {
	t.Helper()
	v, err := c.DoS(args...)
	require.NoError(t, err, "%v", args)
	return v
}

// pipe sends many commands and checks every reply is not an error.
func pipe(t testing.TB, c *Conn, cmds [][]string) {
	t.Helper()
	for i := 0; i < len(cmds); i += 1000 {
		batch := cmds[i:min(i+1000, len(cmds))]
		for _, cmd := range batch {
			b := make([][]byte, len(cmd))
			for j, a := range cmd {
				b[j] = []byte(a)
			}
			c.Send(b...)
		}
		require.NoError(t, c.Flush())
		for _, cmd := range batch {
			_, err := c.Receive()
			require.NoError(t, err, "%v", cmd[:min(len(cmd), 3)])
		}
	}
}

// keyIn returns a key named after prefix whose token is (or is not) in rs.
func keyIn(f *KeyFilter, prefix string, in bool) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s:%d", prefix, i)
		if f.Match([]byte(k)) == in {
			return k
		}
	}
}

// whenCopied calls fn from the fake clock's sleeps once the stream has
// copied at least n keys: a deterministic point to cancel or break it.
func whenCopied(clock *fakeClock, s **Stream, n int64, fn func()) {
	clock.onSleep = func(time.Time) {
		if (*s).Progress().Copied >= n {
			fn()
		}
	}
}

// requireFinished checks the counters of a finished stream that scanned
// total keys, in of them in range, and found the keep ones on the target.
func requireFinished(t *testing.T, p Progress, total, in, keep int) {
	t.Helper()
	require.True(t, p.Done)
	require.Equal(t, int64(total), p.Total)
	require.Equal(t, int64(total), p.Scanned)
	require.Equal(t, int64(in), p.Matched)
	require.Equal(t, int64(in-keep), p.Copied)
	require.Equal(t, int64(keep), p.SkippedPresent)
	require.Zero(t, p.Errors, p.LastError)
	require.Equal(t, time.Duration(0), p.ETA)
}
