package stream

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// mcClient is the test's own memcached text client.
type mcClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialMC(t *testing.T, addr string) *mcClient {
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &mcClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *mcClient) line() string {
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err)
	return strings.TrimSuffix(l, "\r\n")
}

func (c *mcClient) set(key, val string, flags, exptime int) {
	_, err := fmt.Fprintf(c.nc, "set %s %d %d %d\r\n%s\r\n", key, flags, exptime, len(val), val)
	require.NoError(c.t, err)
	require.Equal(c.t, "STORED", c.line())
}

// get returns "flags:value", or "" for a miss.
func (c *mcClient) get(key string) string {
	_, err := fmt.Fprintf(c.nc, "get %s\r\n", key)
	require.NoError(c.t, err)
	l := c.line()
	if l == "END" {
		return ""
	}
	var k string
	var flags, n int
	_, err = fmt.Sscanf(l, "VALUE %s %d %d", &k, &flags, &n)
	require.NoError(c.t, err, l)
	v := c.line()
	require.Equal(c.t, "END", c.line())
	return fmt.Sprintf("%d:%s", flags, v)
}

// dump returns every item of the metadump by key.
func (c *mcClient) dump() map[string]MetaItem {
	_, err := fmt.Fprintf(c.nc, "lru_crawler metadump all\r\n")
	require.NoError(c.t, err)
	out := map[string]MetaItem{}
	for {
		l := c.line()
		if l == "END" {
			return out
		}
		it, err := ParseMetaItem([]byte(l))
		require.NoError(c.t, err)
		out[string(it.Key)] = it
	}
}

func TestMemcachedCopiesRangesWithTTL(t *testing.T) {
	topo, rs := streamTopology(t)
	f := &KeyFilter{Topo: topo, Ranges: rs}
	srcP, dstP := proxytest.StartMemcached(t), proxytest.StartMemcached(t)
	src, dst := dialMC(t, srcP.Addr), dialMC(t, dstP.Addr)
	var keys []string
	for i := range 1500 {
		k := fmt.Sprintf("mc:%d", i)
		if i%10 == 0 {
			k = fmt.Sprintf("user:{%d}:x%%y", i) // hash tag, and a '%' that metadump encodes
		}
		keys = append(keys, k)
		exp := 0
		switch i % 3 {
		case 1:
			exp = 1000 // relative
		case 2:
			exp = int(time.Now().Unix()) + 40*24*3600 // absolute, beyond 30 days
		}
		src.set(k, fmt.Sprintf("value-%d", i), i%7, exp)
	}
	keep := map[string]bool{}
	for _, k := range keys[:100] {
		if f.Match([]byte(k)) {
			keep[k] = true
			dst.set(k, "written-on-target", 99, 0)
		}
	}
	require.NotEmpty(t, keep)

	s, err := New(Endpoint{Addr: srcP.Addr, Protocol: Memcached}, Endpoint{Addr: dstP.Addr, Protocol: Memcached}, rs,
		Options{Topology: topo, Checkpoint: filepath.Join(t.TempDir(), "mc.ckpt")})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))

	srcDump, dstDump := src.dump(), dst.dump()
	in := 0
	for _, k := range keys {
		got := dst.get(k)
		if !f.Match([]byte(k)) {
			require.Empty(t, got, "out-of-range key %q was copied", k)
			continue
		}
		in++
		if keep[k] {
			require.Equal(t, "99:written-on-target", got, "key %q written to the target was overwritten", k)
			continue
		}
		require.Equal(t, src.get(k), got, "key %q", k)
		se, de := srcDump[k].Exp, dstDump[k].Exp
		if se == -1 {
			require.Equal(t, int64(-1), de, "key %q never expires", k)
		} else {
			require.InDelta(t, se, de, 3, "key %q expiry", k)
		}
	}
	requireFinished(t, s.Progress(), 1500, in, len(keep))
}

// memcached has no cursor: a resumed stream reads the whole dump again and
// finds the items copied before on the target (counted as SkippedPresent).
func TestMemcachedResume(t *testing.T) {
	topo, rs := streamTopology(t)
	f := &KeyFilter{Topo: topo, Ranges: rs}
	srcP, dstP := proxytest.StartMemcached(t), proxytest.StartMemcached(t)
	src, dst := dialMC(t, srcP.Addr), dialMC(t, dstP.Addr)
	in := 0
	for i := range 1500 {
		k := fmt.Sprintf("r:%d", i)
		src.set(k, "v", 0, 0)
		if f.Match([]byte(k)) {
			in++
		}
	}
	ckpt := filepath.Join(t.TempDir(), "mc.ckpt")
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s *Stream
	whenCopied(clock, &s, 200, cancel)
	mc := func(addr string) Endpoint { return Endpoint{Addr: addr, Protocol: Memcached} }
	opts := Options{Topology: topo, Checkpoint: ckpt, Clock: clock, Throttle: NewThrottle(500, 0, clock)}
	s, err := New(mc(srcP.Addr), mc(dstP.Addr), rs, opts)
	require.NoError(t, err)
	require.ErrorIs(t, s.Run(ctx), context.Canceled)
	first := s.Progress().Copied
	require.GreaterOrEqual(t, first, int64(200))
	require.Less(t, first, int64(in))

	opts.Clock, opts.Throttle = nil, nil
	s2, err := New(mc(srcP.Addr), mc(dstP.Addr), rs, opts)
	require.NoError(t, err)
	require.NoError(t, s2.Run(context.Background()))
	p := s2.Progress()
	require.True(t, p.Resumed)
	require.Equal(t, int64(in), p.Copied)
	require.Equal(t, first, p.SkippedPresent)
	require.Equal(t, int64(in), p.Matched)
	for i := range 1500 {
		k := fmt.Sprintf("r:%d", i)
		require.Equal(t, f.Match([]byte(k)), dst.get(k) != "", "key %q", k)
	}
}
