package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// cleanupKeys names n keys and splits them by whether b's ranges (of
// streamTopology, one of which wraps) keep them. It checks that both sides
// of the wrapping range, above its start and at or below its end, are
// among the kept keys, so the test covers the wrap.
func cleanupKeys(t *testing.T, topo *ring.Topology, keep Ranges, n int) (in, out []string) {
	t.Helper()
	var wrap Range
	for _, r := range keep {
		if r.Start > r.End {
			wrap = r
		}
	}
	require.NotZero(t, wrap.Start, "streamTopology has a wrapping range")
	var high, low bool
	for i := range n {
		k := fmt.Sprintf("clean:%d", i)
		tok, _ := topo.KeyToken([]byte(k))
		if keep.Contains(tok) {
			in = append(in, k)
			high = high || tok > wrap.Start
			low = low || tok <= wrap.End
		} else {
			out = append(out, k)
		}
	}
	require.True(t, high && low, "keys on both sides of the wrapping range %s", wrap)
	require.NotEmpty(t, out)
	return in, out
}

func TestCleanupRedisDeletesOnlyOutsideTheRanges(t *testing.T) {
	topo, keep := streamTopology(t)
	in, out := cleanupKeys(t, topo, keep, 3000)
	p := proxytest.StartRedis(t)
	c := dialT(t, p.Addr)
	var cmds [][]string
	for _, k := range append(append([]string(nil), in...), out...) {
		cmds = append(cmds, []string{"SET", k, "v"})
	}
	cmds = append(cmds, []string{"SET", "{}keyless", "v"}, []string{"HSET", "clean:hash", "f", "v"})
	pipe(t, c, cmds)
	hashKept := keep.Contains(must(topo.KeyToken([]byte("clean:hash"))))

	clock := newFakeClock()
	cl, err := NewCleanup(Endpoint{Addr: p.Addr}, keep, Options{Topology: topo, ScanCount: 100,
		Throttle: NewThrottle(500, 0, clock), Clock: clock})
	require.NoError(t, err)
	require.NoError(t, cl.Run(context.Background()))

	for _, k := range in {
		require.Equal(t, int64(1), do(t, c, "EXISTS", k).Int, "kept key %s", k)
	}
	for _, k := range out {
		require.Zero(t, do(t, c, "EXISTS", k).Int, "key %s outside the ranges", k)
	}
	require.Equal(t, int64(1), do(t, c, "EXISTS", "{}keyless").Int, "a key with nothing to hash stays")
	wantDeleted := int64(len(out))
	if hashKept {
		require.Equal(t, int64(1), do(t, c, "EXISTS", "clean:hash").Int)
	} else {
		require.Zero(t, do(t, c, "EXISTS", "clean:hash").Int)
		wantDeleted++
	}
	pr := cl.Progress()
	require.True(t, pr.Done)
	require.Equal(t, int64(len(in)+len(out)+2), pr.Total)
	require.Equal(t, pr.Total, pr.Scanned)
	require.Equal(t, wantDeleted, pr.Deleted)
	require.Zero(t, pr.Errors, pr.LastError)
	// 500 keys/s on the fake clock: the deletes took at least their share
	// of it, less the first batch that goes without waiting
	require.GreaterOrEqual(t, pr.Elapsed, time.Duration(wantDeleted-pipelineDepth)*time.Second/500)
	require.ErrorContains(t, cl.Run(context.Background()), "Run called twice")
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("no token")
	}
	return v
}

func TestCleanupRedisCancelAndErrors(t *testing.T) {
	topo, keep := streamTopology(t)
	_, err := NewCleanup(Endpoint{}, keep, Options{Topology: topo})
	require.Error(t, err)
	_, err = NewCleanup(Endpoint{Addr: "127.0.0.1:1"}, keep, Options{})
	require.ErrorContains(t, err, "Topology")
	_, err = NewCleanup(Endpoint{Addr: "127.0.0.1:1"}, nil, Options{Topology: topo})
	require.ErrorContains(t, err, "127.0.0.1:1")

	addr := proxytest.FreeAddr(t)
	cl, err := NewCleanup(Endpoint{Addr: addr}, keep, Options{Topology: topo, Timeout: 5 * time.Second})
	require.NoError(t, err)
	require.ErrorContains(t, cl.Run(context.Background()), addr)

	// cancelled while throttled: Run returns the context's error
	p := proxytest.StartRedis(t)
	c := dialT(t, p.Addr)
	_, out := cleanupKeys(t, topo, keep, 2000)
	var cmds [][]string
	for _, k := range out {
		cmds = append(cmds, []string{"SET", k, "v"})
	}
	pipe(t, c, cmds)
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err = NewCleanup(Endpoint{Addr: p.Addr}, keep, Options{Topology: topo, ScanCount: 50,
		Throttle: NewThrottle(100, 0, clock), Clock: clock})
	require.NoError(t, err)
	clock.onSleep = func(time.Time) {
		if cl.Progress().Deleted >= 200 {
			cancel()
		}
	}
	require.ErrorIs(t, cl.Run(ctx), context.Canceled)
	pr := cl.Progress()
	require.False(t, pr.Done)
	require.GreaterOrEqual(t, pr.Deleted, int64(200))
	require.Less(t, pr.Deleted, int64(len(out)))
	require.Equal(t, int64(len(out))-pr.Deleted, do(t, c, "DBSIZE").Int)
}

func TestCleanupMemcached(t *testing.T) {
	topo, keep := streamTopology(t)
	in, out := cleanupKeys(t, topo, keep, 1500)
	p := proxytest.StartMemcached(t)
	c := dialMC(t, p.Addr)
	for _, k := range append(append([]string(nil), in...), out...) {
		c.set(k, "v", 3, 0)
	}
	c.set("{}keyless", "v", 0, 0)
	clock := newFakeClock()
	cl, err := NewCleanup(Endpoint{Addr: p.Addr, Protocol: Memcached}, keep, Options{Topology: topo,
		Throttle: NewThrottle(1000, 0, clock), Clock: clock})
	require.NoError(t, err)
	require.NoError(t, cl.Run(context.Background()))
	for _, k := range in {
		require.Equal(t, "3:v", c.get(k), "kept key %s", k)
	}
	for _, k := range out {
		require.Empty(t, c.get(k), "key %s outside the ranges", k)
	}
	require.Equal(t, "0:v", c.get("{}keyless"))
	pr := cl.Progress()
	require.True(t, pr.Done)
	require.Equal(t, int64(len(in)+len(out)+1), pr.Total)
	require.Equal(t, pr.Total, pr.Scanned)
	require.Equal(t, int64(len(out)), pr.Deleted)
	require.Zero(t, pr.Errors, pr.LastError)
	require.GreaterOrEqual(t, pr.Elapsed, time.Duration(len(out)-pipelineDepth)*time.Second/1000)
}
