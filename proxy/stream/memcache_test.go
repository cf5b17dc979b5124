package stream

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
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

// scriptedMemcached answers the few commands a stream sends, with a crawler
// that is busy for the first busy dump requests and knows no "hash" mode.
func scriptedMemcached(t *testing.T, busy int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	var mu sync.Mutex
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					var reply string
					mu.Lock()
					switch cmd := strings.TrimSpace(l); {
					case cmd == "stats":
						reply = "STAT pid 1\r\nSTAT time 100\r\nSTAT curr_items 1\r\nEND\r\n"
					case strings.HasPrefix(cmd, "lru_crawler metadump") && busy > 0:
						busy--
						reply = "BUSY currently processing crawler request\r\n"
					case cmd == "lru_crawler metadump hash":
						reply = "CLIENT_ERROR bad command line format\r\n"
					case cmd == "lru_crawler metadump all":
						reply = "key=k%2F1 exp=-1 la=1 cas=1 fetch=no cls=1 size=60\nEND\r\n"
					case cmd == "get k/1":
						reply = "VALUE k/1 5 3\r\nabc\r\nEND\r\n"
					default:
						reply = "ERROR\r\n"
					}
					mu.Unlock()
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// A busy crawler is asked again after a pause; a memcached without
// "metadump hash" gets "metadump all"; a crawler busy for too long ends the
// run with an error naming the server.
func TestMemcachedBusyCrawlerAndDumpModes(t *testing.T) {
	topo, _ := streamTopology(t)
	whole := Ranges{{0, 0}}
	mc := func(addr string) Endpoint { return Endpoint{Addr: addr, Protocol: Memcached} }

	src, dstP := scriptedMemcached(t, 3), proxytest.StartMemcached(t)
	clock := newFakeClock()
	start := clock.Now()
	s, err := New(mc(src), mc(dstP.Addr), whole, Options{Topology: topo, Clock: clock})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	require.Equal(t, 3*dumpRetryWait, clock.Now().Sub(start), "three pauses for BUSY")
	p := s.Progress()
	require.Equal(t, int64(1), p.Scanned)
	require.Equal(t, int64(1), p.Copied, p.LastError)
	require.Equal(t, "5:abc", dialMC(t, dstP.Addr).get("k/1"))

	src = scriptedMemcached(t, dumpRetries+1)
	s, err = New(mc(src), mc(dstP.Addr), whole, Options{Topology: topo, Clock: newFakeClock()})
	require.NoError(t, err)
	err = s.Run(context.Background())
	require.ErrorContains(t, err, "BUSY")
	require.ErrorContains(t, err, src)
}
