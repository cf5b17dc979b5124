package stream

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// BenchmarkRedisSmallKeys moves 1 million small keys (the whole ring)
// between two local Redis and reports keys/s and MB/s of payload.
//
//	go test -run XXX -bench RedisSmallKeys -benchtime 1x ./proxy/stream/
func BenchmarkRedisSmallKeys(b *testing.B) {
	topo, _ := streamTopology(b)
	srcP, dstP := proxytest.StartRedis(b), proxytest.StartRedis(b)
	src, dst := dialT(b, srcP.Addr), dialT(b, dstP.Addr)
	const n = 1_000_000
	var cmds [][]string
	for i := 0; i < n; i += 500 {
		cmd := []string{"MSET"}
		for j := i; j < i+500; j++ {
			cmd = append(cmd, fmt.Sprintf("key:%d", j), fmt.Sprintf("value-%08d", j))
		}
		cmds = append(cmds, cmd)
	}
	pipe(b, src, cmds)
	b.ResetTimer()
	var p Progress
	for range b.N {
		b.StopTimer()
		do(b, dst, "FLUSHALL")
		s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, Ranges{{0, 0}}, Options{Topology: topo})
		require.NoError(b, err)
		b.StartTimer()
		require.NoError(b, s.Run(context.Background()))
		p = s.Progress()
		require.Equal(b, int64(n), p.Copied)
	}
	b.ReportMetric(p.KeysPerSec, "keys/s")
	b.ReportMetric(p.BytesPerSec/1e6, "MB/s")
}

// BenchmarkRedisLargeKeysStall moves a 1-million-field hash and a 100 MB
// string in chunks while a PING loop measures the source's responsiveness,
// and reports the longest PING round trip and the longest command in the
// source's SLOWLOG during the move; for contrast, the SLOWLOG time of one
// DUMP of the same hash (what a single DUMP/RESTORE or MIGRATE would cost).
//
//	go test -run XXX -bench RedisLargeKeysStall -benchtime 1x ./proxy/stream/
func BenchmarkRedisLargeKeysStall(b *testing.B) {
	topo, _ := streamTopology(b)
	srcP, dstP := proxytest.StartRedis(b), proxytest.StartRedis(b)
	src, dst := dialT(b, srcP.Addr), dialT(b, dstP.Addr)
	var cmds [][]string
	for i := 0; i < 1_000_000; i += 1000 {
		cmd := []string{"HSET", "bighash"}
		for j := i; j < i+1000; j++ {
			cmd = append(cmd, fmt.Sprintf("field:%d", j), fmt.Sprintf("v%d", j))
		}
		cmds = append(cmds, cmd)
	}
	chunk := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	for range 100 {
		cmds = append(cmds, []string{"APPEND", "bigstring", chunk})
	}
	pipe(b, src, cmds)
	do(b, src, "PEXPIRE", "bigstring", "3600000")
	b.ResetTimer()
	var maxPing, maxSlow, dumpSlow time.Duration
	for range b.N {
		b.StopTimer()
		do(b, dst, "FLUSHALL")
		do(b, src, "CONFIG", "SET", "slowlog-log-slower-than", "500") // µs
		do(b, src, "SLOWLOG", "RESET")
		s, err := New(Endpoint{Addr: srcP.Addr}, Endpoint{Addr: dstP.Addr}, Ranges{{0, 0}}, Options{Topology: topo})
		require.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var worst atomic.Int64
		ping := dialT(b, srcP.Addr)
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				if _, err := ping.DoS("PING"); err != nil {
					return
				}
				if d := time.Since(start); d > time.Duration(worst.Load()) {
					worst.Store(int64(d))
				}
			}
		})
		b.StartTimer()
		err = s.Run(context.Background())
		b.StopTimer()
		cancel()
		wg.Wait()
		require.NoError(b, err)
		require.Equal(b, int64(2), s.Progress().Copied, s.Progress().LastError)
		require.Equal(b, int64(100<<20), do(b, dst, "STRLEN", "bigstring").Int)
		require.Equal(b, int64(1_000_000), do(b, dst, "HLEN", "bighash").Int)
		maxPing = max(maxPing, time.Duration(worst.Load()))
		maxSlow = max(maxSlow, slowest(b, src))
		do(b, src, "SLOWLOG", "RESET")
		do(b, src, "DUMP", "bighash")
		dumpSlow = slowest(b, src)
		b.StartTimer()
	}
	b.ReportMetric(float64(maxPing.Microseconds())/1000, "max-ping-ms")
	b.ReportMetric(float64(maxSlow.Microseconds())/1000, "max-cmd-ms")
	b.ReportMetric(float64(dumpSlow.Microseconds())/1000, "dump-hash-ms")
}

// slowest returns the longest command in the SLOWLOG and logs it.
func slowest(b *testing.B, c *Conn) time.Duration {
	var worst time.Duration
	var what string
	for _, e := range do(b, c, "SLOWLOG", "GET", "1000").Array {
		if d := time.Duration(e.Array[2].Int) * time.Microsecond; d > worst {
			worst = d
			what = string(e.Array[3].Array[0].Str)
		}
	}
	b.Logf("slowest source command: %s %v", what, worst)
	return worst
}
