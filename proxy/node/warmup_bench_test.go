package node_test

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/node/nodetest"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// BenchmarkWarmUpVersusReplication fills rack 1's Redis with 200,000 keys
// of 100 bytes, then measures how long rack 2's empty Redis takes to get
// them two ways: a warm-up of rack 2's node (POST /warmup until the node
// turns normal), and, as the baseline, Redis replication from rack 1's
// Redis (REPLICAOF, until the replica's offset reaches the master's: what
// dynomite-manager does). It reports both in keys/s and MB/s (of keys and
// values), and the p99 latency of a client reading keys one at a time
// through rack 1's node (the source's) for 3 s before the warm-up and
// during it. WARMUP_BENCH_KEYS sets the number of keys (the figure quoted
// in docs/operations.md is for 1,000,000).
//
//	WARMUP_BENCH_KEYS=1000000 go test -run XXX -bench WarmUpVersusReplication -benchtime 1x ./proxy/node/
func BenchmarkWarmUpVersusReplication(b *testing.B) {
	const size = 100
	n := 200_000
	if v := os.Getenv("WARMUP_BENCH_KEYS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err, "WARMUP_BENCH_KEYS")
	}
	payload := 0 // bytes of keys and values
	for i := range n {
		payload += len("key:"+strconv.Itoa(i)) + size
	}
	c := &warmCluster{t: b, addrs: nodetest.GossipNodes(b, 2), log: slog.New(slog.DiscardHandler)}
	for i := range 2 {
		c.start(i, "")
	}
	src := fill(b, c.addrs[0].Redis, n, size)
	dst := proxytest.Dial(b, c.addrs[1].Redis)
	// by default a replica saves the master's snapshot as dump.rdb in its
	// directory, which is the package's, and every Redis a later test
	// starts there would load it: the snapshot is loaded from the socket
	// instead, and the master sends it without writing one either
	require.Equal(b, "+OK\r\n", dst.Do("CONFIG", "SET", "repl-diskless-load", "on-empty-db"))
	require.Equal(b, "+OK\r\n", proxytest.Dial(b, src).Do("CONFIG", "SET", "repl-diskless-sync", "yes"))
	stats := c.addrs[1].Stats
	waitStatus(b, "http://"+stats+"/ready", http.StatusOK, http.MethodGet)
	b.ResetTimer()
	var warm, repl time.Duration
	var before, during []time.Duration
	for range b.N {
		require.Equal(b, "+OK\r\n", dst.Do("FLUSHALL"))
		before = append(before, readLatencies(b, c.addrs[0].Listen, n, func(stop chan<- struct{}) {
			time.Sleep(3 * time.Second)
			close(stop)
		})...)
		start := time.Now()
		during = append(during, readLatencies(b, c.addrs[0].Listen, n, func(stop chan<- struct{}) {
			waitStatus(b, "http://"+stats+"/warmup", http.StatusAccepted, http.MethodPost)
			waitStatus(b, "http://"+stats+"/ready", http.StatusOK, http.MethodGet)
			close(stop)
		})...)
		warm += time.Since(start)
		require.Equal(b, ":"+strconv.Itoa(n)+"\r\n", dst.Do("DBSIZE"))

		require.Equal(b, "+OK\r\n", dst.Do("FLUSHALL"))
		host, port, _ := net.SplitHostPort(src)
		start = time.Now()
		require.Equal(b, "+OK\r\n", dst.Do("REPLICAOF", host, port))
		synced(b, dst, proxytest.Dial(b, src))
		repl += time.Since(start)
		require.Equal(b, "+OK\r\n", dst.Do("REPLICAOF", "NO", "ONE"))
		require.Equal(b, ":"+strconv.Itoa(n)+"\r\n", dst.Do("DBSIZE"))
	}
	b.ReportMetric(float64(n*b.N)/warm.Seconds(), "warmup-keys/s")
	b.ReportMetric(float64(n*b.N)/repl.Seconds(), "replication-keys/s")
	b.ReportMetric(float64(payload*b.N)/warm.Seconds()/1e6, "warmup-MB/s")
	b.ReportMetric(float64(payload*b.N)/repl.Seconds()/1e6, "replication-MB/s")
	b.ReportMetric(float64(p99(before).Microseconds())/1000, "p99-ms-before")
	b.ReportMetric(float64(p99(during).Microseconds())/1000, "p99-ms-during")
	b.ReportMetric(float64(len(during)), "reads-during")
}

// readLatencies reads keys of fill's key set one at a time through the
// node listening at addr while run runs (until it closes stop), and
// returns each read's latency. Its client is plain bufio, so that the
// latencies are the node's and not a test client's allocations.
func readLatencies(b *testing.B, addr string, n int, run func(stop chan<- struct{})) []time.Duration {
	nc, err := net.Dial("tcp", addr)
	require.NoError(b, err)
	defer nc.Close()
	stop := make(chan struct{})
	var lat []time.Duration
	var failed error
	done := make(chan struct{})
	go func() {
		defer close(done)
		w, r := bufio.NewWriter(nc), bufio.NewReader(nc)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := "key:" + strconv.Itoa(i*7919%n)
			start := time.Now()
			fmt.Fprintf(w, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
			if failed = w.Flush(); failed != nil {
				return
			}
			head, err := r.ReadString('\n')
			if err != nil || len(head) < 2 || head[0] != '$' || head == "$-1\r\n" {
				failed = fmt.Errorf("GET %s through %s: %q, %v", k, addr, head, err)
				return
			}
			size, err := strconv.Atoi(head[1 : len(head)-2])
			if err == nil {
				_, err = r.Discard(size + 2)
			}
			if err != nil {
				failed = fmt.Errorf("GET %s through %s: %v", k, addr, err)
				return
			}
			lat = append(lat, time.Since(start))
		}
	}()
	run(stop)
	<-done
	require.NoError(b, failed)
	return lat
}

// p99 is the 99th percentile of lat (sorted in place).
func p99(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// fill writes n keys of size bytes to the Redis at addr, pipelined.
func fill(b *testing.B, addr string, n, size int) string {
	nc, err := net.Dial("tcp", addr)
	require.NoError(b, err)
	defer nc.Close()
	w, r := bufio.NewWriter(nc), bufio.NewReader(nc)
	for { // a Redis just started may answer LOADING for a moment
		_, err := w.WriteString("*1\r\n$4\r\nPING\r\n")
		require.NoError(b, err)
		require.NoError(b, w.Flush())
		line, err := r.ReadString('\n')
		require.NoError(b, err)
		if line == "+PONG\r\n" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	val := make([]byte, size)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	const batch = 1000
	for i := 0; i < n; i += batch {
		for j := i; j < min(i+batch, n); j++ {
			k := "key:" + strconv.Itoa(j)
			fmt.Fprintf(w, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
		}
		require.NoError(b, w.Flush())
		for j := i; j < min(i+batch, n); j++ {
			line, err := r.ReadString('\n')
			require.NoError(b, err)
			require.Equal(b, "+OK\r\n", line)
		}
	}
	return addr
}

// waitStatus sends method url until it answers want (a benchmark may
// poll: it measures, it does not assert timing).
func waitStatus(b *testing.B, url string, want int, method string) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		req, err := http.NewRequest(method, url, nil)
		require.NoError(b, err)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		require.True(b, time.Now().Before(deadline), "%s %s never answered %d", method, url, want)
		time.Sleep(5 * time.Millisecond)
	}
}

var offsetRE = regexp.MustCompile(`(?m)^(master_repl_offset|slave_repl_offset|master_link_status):(\S+)`)

// synced polls until the replica's link is up and its offset reached the
// master's.
func synced(b *testing.B, replica, master *proxytest.Conn) {
	field := func(c *proxytest.Conn, name string) string {
		for _, m := range offsetRE.FindAllStringSubmatch(c.Do("INFO", "replication"), -1) {
			if m[1] == name {
				return m[2]
			}
		}
		return ""
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if field(replica, "master_link_status") == "up" {
			if off := field(replica, "slave_repl_offset"); off != "" && off == field(master, "master_repl_offset") {
				return
			}
		}
		require.True(b, time.Now().Before(deadline), "the replica never caught up")
		time.Sleep(5 * time.Millisecond)
	}
}
