package stream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// fillSource writes n small string keys, a third of them with a TTL, and
// returns their names.
func fillSource(t testing.TB, c *Conn, n int) []string {
	t.Helper()
	keys := make([]string, n)
	cmds := make([][]string, 0, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k:%d", i)
		if i%10 == 0 {
			keys[i] = fmt.Sprintf("user:{%d}:name", i) // hash tag
		}
		cmd := []string{"SET", keys[i], "v" + strconv.Itoa(i)}
		if i%3 == 0 {
			cmd = append(cmd, "EX", "1000")
		}
		cmds = append(cmds, cmd)
	}
	pipe(t, c, cmds)
	return keys
}

// checkCopied checks that every key in range has the source's value (same
// DUMP payload) and TTL on the target, and that no key out of range is
// there. keep lists keys whose target copy must differ (written there first).
func checkCopied(t *testing.T, f *KeyFilter, src, dst *Conn, keys []string, keep map[string]bool) (in int) {
	t.Helper()
	for _, k := range keys {
		if !f.Match([]byte(k)) {
			require.Equal(t, int64(0), do(t, dst, "EXISTS", k).Int, "out-of-range key %q was copied", k)
			continue
		}
		in++
		sv, dv := content(t, src, k), content(t, dst, k)
		if keep[k] {
			require.False(t, sv == dv, "key %q written to the target was overwritten", k)
			continue
		}
		require.NotEqual(t, "none", dv, "in-range key %q is missing on the target", k)
		require.True(t, sv == dv, "key %q differs: %d bytes on the source, %d on the target", k, len(sv), len(dv))
		st, dt := do(t, src, "PTTL", k).Int, do(t, dst, "PTTL", k).Int
		if st < 0 {
			require.Equal(t, st, dt, "key %q TTL", k)
		} else {
			require.InDelta(t, st, dt, 5000, "key %q TTL (ms)", k)
		}
	}
	return in
}

// content returns a key's type and value in a canonical form: DUMP payloads
// differ between equal hashes built in a different order.
func content(t *testing.T, c *Conn, k string) string {
	t.Helper()
	typ := string(do(t, c, "TYPE", k).Str)
	var v Value
	switch typ {
	case "none":
		return typ
	case "string":
		return typ + ":" + string(do(t, c, "GET", k).Str)
	case "hash":
		v = do(t, c, "HGETALL", k)
	case "set":
		v = do(t, c, "SMEMBERS", k)
	case "zset":
		v = do(t, c, "ZRANGE", k, "0", "-1", "WITHSCORES")
	case "list":
		v = do(t, c, "LRANGE", k, "0", "-1")
	case "stream":
		return typ + ":" + fmt.Sprint(do(t, c, "XRANGE", k, "-", "+"))
	}
	var elems []string
	step := 1
	if typ == "hash" {
		step = 2
	}
	for i := 0; i < len(v.Array); i += step {
		e := string(v.Array[i].Str)
		if step == 2 {
			e += "=" + string(v.Array[i+1].Str)
		}
		elems = append(elems, e)
	}
	if typ == "hash" || typ == "set" {
		slices.Sort(elems)
	}
	return typ + ":" + strings.Join(elems, ",")
}

func TestRedisCopiesOnlyTheRanges(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src, dst := dialT(t, srcP.Addr), dialT(t, dstP.Addr)
	keys := fillSource(t, src, 3000)
	f := &KeyFilter{Topo: topo, Ranges: rs}

	// Keys written to the target while the stream runs are newer: kept.
	keep := map[string]bool{}
	for _, k := range keys[:300] {
		if f.Match([]byte(k)) {
			keep[k] = true
			do(t, dst, "SET", k, "written-on-target")
		}
	}
	require.NotEmpty(t, keep)

	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs, Options{Topology: topo, ScanCount: 100})
	require.NoError(t, err)
	// Progress is read while the stream runs (checked by -race).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				p := s.Progress()
				if p.Copied+p.SkippedPresent > 3000 || p.Scanned > 3000 {
					t.Errorf("progress beyond the source's 3000 keys: %+v", p.Counters)
				}
				time.Sleep(time.Millisecond)
			}
		}
	})
	require.NoError(t, s.Run(context.Background()))
	close(stop)
	wg.Wait()
	in := checkCopied(t, f, src, dst, keys, keep)

	requireFinished(t, s.Progress(), 3000, in, len(keep))
	require.Positive(t, s.Progress().Bytes)
	// About a third of the ring.
	require.InDelta(t, 1000, in, 200)
}

// largeKeys writes one key of each type, in range, big enough to be copied
// in chunks with a 4 KiB threshold.
func largeKeys(t *testing.T, f *KeyFilter, c *Conn) []string {
	var keys []string
	var cmds [][]string
	add := func(typ string, cmd func(k string) [][]string) {
		k := keyIn(f, "large:"+typ, true)
		keys = append(keys, k)
		cmds = append(cmds, cmd(k)...)
	}
	add("string", func(k string) [][]string {
		return [][]string{{"SET", k, strings.Repeat("0123456789abcdef", 20000)}, {"APPEND", k, "tail"}}
	})
	add("hash", func(k string) [][]string {
		cmd := []string{"HSET", k}
		for i := range 5000 {
			cmd = append(cmd, fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
		}
		return [][]string{cmd, {"EXPIRE", k, "500"}}
	})
	add("set", func(k string) [][]string {
		cmd := []string{"SADD", k}
		for i := range 3000 {
			cmd = append(cmd, fmt.Sprintf("m%d", i))
		}
		return [][]string{cmd}
	})
	add("zset", func(k string) [][]string {
		cmd := []string{"ZADD", k}
		for i := range 3000 {
			cmd = append(cmd, strconv.Itoa(i*7%1000), fmt.Sprintf("m%d", i))
		}
		return [][]string{cmd}
	})
	add("list", func(k string) [][]string {
		cmd := []string{"RPUSH", k}
		for i := range 4000 {
			cmd = append(cmd, fmt.Sprintf("e%d", i%17))
		}
		return [][]string{cmd}
	})
	add("stream", func(k string) [][]string {
		var out [][]string
		for i := range 500 {
			out = append(out, []string{"XADD", k, fmt.Sprintf("%d-%d", 1000+i/3, i%3), "f", strings.Repeat("x", 20), "n", strconv.Itoa(i)})
		}
		return out
	})
	pipe(t, c, cmds)
	return keys
}

// Large values of every type are copied in chunks, equal to the source, with
// their TTL, and a large key already on the target is left alone.
func TestRedisCopiesLargeKeysInChunks(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src, dst := dialT(t, srcP.Addr), dialT(t, dstP.Addr)
	f := &KeyFilter{Topo: topo, Ranges: rs}
	keys := largeKeys(t, f, src)
	out := keyIn(f, "large:out", false)
	pipe(t, src, [][]string{{"SET", out, strings.Repeat("z", 100000)}})
	present := keyIn(f, "large:present", true)
	pipe(t, src, [][]string{{"SET", present, strings.Repeat("s", 100000)}})
	do(t, dst, "SET", present, "target")

	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs,
		Options{Topology: topo, LargeKeyBytes: 4096, ChunkBytes: 16 << 10, ChunkItems: 100})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))

	checkCopied(t, f, src, dst, append(keys, out, present), map[string]bool{present: true})
	p := s.Progress()
	require.Equal(t, int64(len(keys)), p.Copied, p.LastError)
	require.Equal(t, int64(1), p.SkippedPresent)
	require.Zero(t, p.Errors)
	// No temporary key is left behind.
	v := do(t, dst, "KEYS", tmpPrefix+"*")
	require.Empty(t, v.Array)
}

// versionBySuffix says the source is newer for keys ending in "-new".
type versionBySuffix struct{ asked []string }

func (v *versionBySuffix) SourceNewer(_ context.Context, key []byte, src, dst *Conn) (bool, error) {
	v.asked = append(v.asked, string(key))
	return strings.HasSuffix(string(key), "-new"), nil
}

func TestRedisVersionerDecidesAboutPresentKeys(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src, dst := dialT(t, srcP.Addr), dialT(t, dstP.Addr)
	f := &KeyFilter{Topo: topo, Ranges: rs}
	newer, older := keyIn(f, "v", true)+"-new", ""
	for !f.Match([]byte(newer)) {
		newer = "x" + newer
	}
	older = keyIn(f, "w", true)
	bigNew := "big" + newer
	for !f.Match([]byte(bigNew)) {
		bigNew = "x" + bigNew
	}
	for _, k := range []string{newer, older} {
		do(t, src, "SET", k, "source")
		do(t, dst, "SET", k, "target")
	}
	do(t, src, "SET", bigNew, strings.Repeat("b", 50000))
	do(t, dst, "SET", bigNew, "target")
	ver := &versionBySuffix{}
	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs,
		Options{Topology: topo, Versioner: ver, LargeKeyBytes: 4096})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	require.Equal(t, "source", string(do(t, dst, "GET", newer).Str))
	require.Equal(t, "target", string(do(t, dst, "GET", older).Str))
	require.Equal(t, 50000, len(do(t, dst, "GET", bigNew).Str))
	p := s.Progress()
	require.Equal(t, int64(2), p.Copied)
	require.Equal(t, int64(1), p.SkippedNewer)
	require.Zero(t, p.SkippedPresent)
	require.ElementsMatch(t, []string{newer, older, bigNew}, ver.asked)
}

// A cancelled stream saves where it is; a new stream with the same
// checkpoint copies the rest and redoes nothing.
func TestRedisResumesFromCheckpoint(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src, dst := dialT(t, srcP.Addr), dialT(t, dstP.Addr)
	keys := fillSource(t, src, 5000)
	ckpt := filepath.Join(t.TempDir(), "stream.ckpt")

	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s *Stream
	whenCopied(clock, &s, 700, cancel)
	opts := Options{Topology: topo, ScanCount: 200, Checkpoint: ckpt, Clock: clock,
		Throttle: NewThrottle(1000, 0, clock), CheckpointEvery: 100 * time.Millisecond}
	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs, opts)
	require.NoError(t, err)
	require.ErrorIs(t, s.Run(ctx), context.Canceled)
	first := s.Progress()
	require.False(t, first.Done)
	require.GreaterOrEqual(t, first.Copied, int64(700))
	_, err = os.Stat(ckpt)
	require.NoError(t, err)

	// The target holds exactly what the first run says it copied.
	require.Equal(t, first.Copied, do(t, dst, "DBSIZE").Int)

	opts.Throttle, opts.Clock = nil, nil
	s2, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs, opts)
	require.NoError(t, err)
	require.NoError(t, s2.Run(context.Background()))
	second := s2.Progress()
	t.Logf("first %+v", first.Counters)
	t.Logf("second %+v", second.Counters)
	require.True(t, second.Resumed)
	require.True(t, second.Done)
	f := &KeyFilter{Topo: topo, Ranges: rs}
	in := checkCopied(t, f, src, dst, keys, nil)
	require.Equal(t, int64(in), second.Copied, "copied over both runs")
	require.Zero(t, second.SkippedPresent, "the second run redid keys the first had copied")
	require.Equal(t, int64(in), second.Matched)
	require.Equal(t, int64(5000), second.Scanned, "SCAN from the saved cursor rescans nothing but the interrupted batch")

	// A finished checkpoint makes a new stream a no-op.
	s3, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs, opts)
	require.NoError(t, err)
	require.NoError(t, s3.Run(context.Background()))
	require.True(t, s3.Progress().Done)
	require.Equal(t, int64(in), s3.Progress().Copied)

	// A checkpoint for other ranges is refused, naming both.
	s4, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs[:1], opts)
	require.NoError(t, err)
	require.ErrorContains(t, s4.Run(context.Background()), "checkpoint")
}

// The throttle bounds the copy rate: sampled at every throttle sleep on a
// fake clock, the keys copied between any two samples never exceed the rate
// times the fake time between them plus one pipeline. The rate is changed
// while the stream runs.
func TestRedisThrottleBoundsTheRate(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src := dialT(t, srcP.Addr)
	fillSource(t, src, 3000)

	clock := newFakeClock()
	th := NewThrottle(200, 0, clock)
	type sample struct {
		at     time.Time
		copied int64
		rate   int64
	}
	var mu sync.Mutex
	var samples []sample
	var sawETA bool
	var s *Stream
	clock.onSleep = func(now time.Time) {
		c := s.Progress().Copied
		mu.Lock()
		defer mu.Unlock()
		if c >= 500 {
			th.Set(50, 0) // slow down while running
		}
		kps, _ := th.Limits()
		samples = append(samples, sample{now, c, kps})
		if p := s.Progress(); p.ETA > 0 && p.KeysPerSec > 0 {
			sawETA = true
		}
	}
	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs,
		Options{Topology: topo, Throttle: th, Clock: clock, ScanCount: 100})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	p := s.Progress()
	require.Positive(t, p.Copied)

	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(samples), 100)
	require.True(t, sawETA, "Progress gave an ETA and a rate while running")
	for i := 1; i < len(samples); i++ {
		for j := i + 1; j < len(samples); j += 7 {
			a, b := samples[i], samples[j]
			// The highest rate in force over [a, b] bounds it.
			allowed := float64(200)*b.at.Sub(a.at).Seconds() + pipelineDepth + 1
			require.LessOrEqual(t, float64(b.copied-a.copied), allowed, "between samples %d and %d", i, j)
			if a.rate == 50 {
				allowed = 50*b.at.Sub(a.at).Seconds() + pipelineDepth + 1
				require.LessOrEqual(t, float64(b.copied-a.copied), allowed, "at 50 keys/s, samples %d and %d", i, j)
			}
		}
	}
	// And the whole run took at least the fake time the rates imply.
	elapsed := samples[len(samples)-1].at.Sub(samples[0].at).Seconds()
	require.GreaterOrEqual(t, elapsed, 500.0/200+float64(p.Copied-500-pipelineDepth)/50-1)
}

func TestThrottleSchedule(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	th := NewThrottle(10, 1000, clock)
	ctx := context.Background()
	for range 10 {
		require.NoError(t, th.Wait(ctx, 1, 0))
	}
	// Ten keys at 10/s: the tenth waited 0.9s.
	require.Equal(t, 900*time.Millisecond, clock.Now().Sub(start))
	require.NoError(t, th.Wait(ctx, 0, 500)) // waits for the tenth key's slot
	require.NoError(t, th.Wait(ctx, 0, 0))   // free
	require.Equal(t, time.Second, clock.Now().Sub(start))
	require.NoError(t, th.Wait(ctx, 1, 0)) // behind the 500 bytes (0.5s)
	require.Equal(t, 1500*time.Millisecond, clock.Now().Sub(start))
	th.Set(0, 0)
	require.NoError(t, th.Wait(ctx, 1000, 1<<30))
	var nilT *Throttle
	require.NoError(t, nilT.Wait(ctx, 1, 1))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	th.Set(1, 0)
	require.ErrorIs(t, th.Wait(cctx, 1, 0), context.Canceled)
}

func TestNewRejects(t *testing.T) {
	topo, rs := streamTopology(t)
	for name, tc := range map[string]struct {
		src, dst Endpoint
		rs       Ranges
		opts     Options
		want     string
	}{
		"no address":      {Endpoint{}, Endpoint{Addr: "b"}, rs, Options{Topology: topo}, "addresses"},
		"mixed protocols": {Endpoint{Addr: "a"}, Endpoint{Addr: "b", Protocol: Memcached}, rs, Options{Topology: topo}, "source a speaks redis but target b speaks memcached"},
		"no topology":     {Endpoint{Addr: "a"}, Endpoint{Addr: "b"}, rs, Options{}, "Topology"},
		"no ranges":       {Endpoint{Addr: "a"}, Endpoint{Addr: "b"}, nil, Options{Topology: topo}, "ranges"},
	} {
		_, err := New(tc.src, tc.dst, tc.rs, tc.opts)
		require.ErrorContains(t, err, tc.want, name)
	}
}

func TestRedisUnreachableSourceNamesIt(t *testing.T) {
	topo, rs := streamTopology(t)
	addr := proxytest.FreeAddr(t)
	s, err := New(Endpoint{Addr: addr}, Endpoint{Addr: addr}, rs, Options{Topology: topo, Timeout: 2 * time.Second})
	require.NoError(t, err)
	require.ErrorContains(t, s.Run(context.Background()), addr)
}

// An error reply for a key (here the target is out of memory) is counted
// against the key, names it, and the stream goes on to the end.
func TestRedisKeyErrorsAreCountedAndNamed(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src, dst := dialT(t, srcP.Addr), dialT(t, dstP.Addr)
	fillSource(t, src, 300)
	do(t, dst, "CONFIG", "SET", "maxmemory", "1")
	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs, Options{Topology: topo})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	p := s.Progress()
	require.Positive(t, p.Matched)
	require.Equal(t, p.Matched, p.Errors)
	require.Zero(t, p.Copied)
	require.Contains(t, p.LastError, "RESTORE")
	require.Contains(t, p.LastError, dstP.Addr)
	require.Contains(t, p.LastError, "OOM")
}

// A target that dies mid-stream ends Run with an error naming it; the
// checkpoint holds what was done.
func TestRedisLostTargetEndsTheRun(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	fillSource(t, dialT(t, srcP.Addr), 3000)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	clock := newFakeClock()
	var s *Stream
	whenCopied(clock, &s, 200, dstP.Stop)
	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs,
		Options{Topology: topo, Clock: clock, Throttle: NewThrottle(1000, 0, clock), Checkpoint: ckpt, Timeout: 5 * time.Second})
	require.NoError(t, err)
	err = s.Run(context.Background())
	require.ErrorContains(t, err, dstP.Addr)
	b, rerr := os.ReadFile(ckpt)
	require.NoError(t, rerr)
	require.Contains(t, string(b), `"copied":`)
	require.False(t, s.Progress().Done)
}

func TestRedisAuthenticates(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src := dialT(t, srcP.Addr)
	fillSource(t, src, 200)
	do(t, src, "CONFIG", "SET", "requirepass", "s3cret")
	s, err := New(Endpoint{Addr: srcP.Addr, Password: "wrong"}, Endpoint{Addr: dstP.Addr}, rs, Options{Topology: topo})
	require.NoError(t, err)
	err = s.Run(context.Background())
	require.ErrorContains(t, err, "AUTH on "+srcP.Addr)
	require.NotContains(t, err.Error(), "wrong", "the password is not echoed")

	s, err = New(Endpoint{Addr: srcP.Addr, Password: "s3cret"}, Endpoint{Addr: dstP.Addr}, rs, Options{Topology: topo})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	require.Positive(t, s.Progress().Copied)
	require.Equal(t, s.Progress().Copied, do(t, dialT(t, dstP.Addr), "DBSIZE").Int)
}

// Without MEMORY USAGE (refused here by an ACL) every key is copied by the
// chunked path, which needs no size.
func TestRedisWithoutMemoryUsage(t *testing.T) {
	topo, rs := streamTopology(t)
	srcP, dstP := proxytest.StartRedis(t), proxytest.StartRedis(t)
	src, dst := dialT(t, srcP.Addr), dialT(t, dstP.Addr)
	keys := fillSource(t, src, 300)
	do(t, src, "ACL", "SETUSER", "default", "-memory")
	_, err := src.DoS("MEMORY", "USAGE", keys[0])
	require.ErrorContains(t, err, "NOPERM")
	s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, rs, Options{Topology: topo})
	require.NoError(t, err)
	require.NoError(t, s.Run(context.Background()))
	in := checkCopied(t, &KeyFilter{Topo: topo, Ranges: rs}, src, dst, keys, nil)
	requireFinished(t, s.Progress(), 300, in, 0)
}
