package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// Hostile clients against the real binary; the protocol-level
// cases run in-process in proxy/hostile_test.go.

// raiseNoFile lifts this process's open-file limit to at least n (up to
// the hard limit) and skips when that is not enough. Setting it explicitly
// also makes children inherit it: Go restores the original soft limit for
// children otherwise.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Max < n {
		t.Skipf("RLIMIT_NOFILE hard limit %d < %d: raise it (ulimit -Hn) to run this test", lim.Max, n)
	}
	if lim.Cur < n {
		lim.Cur = n
	}
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
}

// startNodeBinary runs the binary with conf and waits until its stats
// listener says it is healthy.
func startNodeBinary(t *testing.T, conf, stats string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "-c", conf, "-v", "4")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + stats + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 15*time.Second, 20*time.Millisecond, "the node never became healthy")
	return cmd
}

// rssBytes is a process's resident set (VmRSS).
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/pid/status")
	return 0
}

// settledRSS polls the resident set until two samples 250 ms apart differ
// by less than 1 MiB (or 10 s pass) and returns the last.
func settledRSS(t *testing.T, pid int) int64 {
	t.Helper()
	prev := rssBytes(t, pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		cur := rssBytes(t, pid)
		if d := cur - prev; d < 1<<20 && d > -(1<<20) {
			return cur
		}
		prev = cur
	}
	return prev
}

// metric reads one unlabelled-or-labelled sample from the node's /metrics:
// the first line starting with name followed by '{' or ' '.
func metric(t *testing.T, stats, name string) float64 {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + stats + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " ")) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err)
			return v
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("metric %s not found", name)
	return 0
}

// setGet writes and reads back one key through addr on a new connection,
// without failing the test (it runs inside Eventually and goroutines).
func setGet(addr, key, val string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n",
		len(key), key, len(val), val, len(key), key)
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	want := fmt.Sprintf("+OK\r\n$%d\r\n%s\r\n", len(val), val)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("SET/GET %s: %w (got %q)", key, err, got)
	}
	if string(got) != want {
		return fmt.Errorf("SET/GET %s: got %q, want %q", key, got, want)
	}
	return nil
}

// flood opens n connections to addr, 8 dialers at a time; every other one
// sends half a request and stops.
func flood(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
				if i%2 == 1 {
					if _, err := c.Write([]byte("*3\r\n$3\r\nSET\r\n$5\r\nflood\r\n$10\r\nhalf")); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() { closeAll(conns) })
	require.NoError(t, <-errs)
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func TestFloodOfAbandonedConnections(t *testing.T) {
	const conns = 10_000
	raiseNoFile(t, conns+2000)
	rd := proxytest.StartRedis(t).Addr
	listen, stats := proxytest.FreeAddr(t), proxytest.FreeAddr(t)
	// client_read_timeout is raised so the half requests stay open while
	// the test measures (the 30 s default would reap them on a slow machine).
	conf := writeConf(t, fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  stats_listen: %s\n  client_read_timeout: 300000\n  servers:\n  - %s:1\n", listen, stats, rd))
	node := startNodeBinary(t, conf, stats)
	pid := node.Process.Pid
	for i := range 200 {
		require.NoError(t, setGet(listen, "warm:"+strconv.Itoa(i), "v"))
	}
	baseGoroutines := metric(t, stats, "go_goroutines")
	base := settledRSS(t, pid)

	start := time.Now()
	cs := flood(t, listen, conns)
	require.Eventually(t, func() bool { return metric(t, stats, "dynomite_client_connections") == conns },
		60*time.Second, 100*time.Millisecond, "the node did not accept every connection")
	opened := time.Since(start)
	require.NoError(t, setGet(listen, "during", "flood"), "a normal client is served while the flood is open")
	peak := settledRSS(t, pid)
	perConn := float64(peak-base) / conns

	closeAll(cs)
	require.Eventually(t, func() bool { return metric(t, stats, "dynomite_client_connections") == 0 },
		60*time.Second, 100*time.Millisecond, "the node kept sessions of closed connections")
	var goroutines float64
	require.Eventually(t, func() bool {
		goroutines = metric(t, stats, "go_goroutines")
		return goroutines <= baseGoroutines+5
	}, 30*time.Second, 100*time.Millisecond, "goroutines did not come back down")
	after := settledRSS(t, pid)
	require.NoError(t, setGet(listen, "after", "flood"), "a normal client is served after the flood")
	require.Equal(t, "$5\r\nflood\r\n", redisDo(t, rd, "GET", "after"))
	require.Equal(t, "$-1\r\n", redisDo(t, rd, "GET", "flood"), "no half request was executed")

	const mib = 1 << 20
	t.Logf("flood: %d conns (half idle, half with half a request) opened in %v, RSS base %.1f MiB, peak %.1f MiB (%.1f KiB/conn), after close %.1f MiB; goroutines %v -> %v",
		conns, opened.Round(time.Millisecond), float64(base)/mib, float64(peak)/mib, perConn/1024, float64(after)/mib, baseGoroutines, goroutines)
	// Per connection: two goroutines (8 KiB stacks at most, as these never
	// grow deep), a 4 KiB read buffer, a 128-slot in-flight queue (1 KiB),
	// the session and the socket's runtime state: about 16 KiB, plus
	// allocator slack. 24 KiB bounds that without depending on GC timing.
	require.Less(t, perConn, float64(24<<10), "memory per abandoned connection")
}

func TestMaxClientConnectionsOnTheBinary(t *testing.T) {
	rd := proxytest.StartRedis(t).Addr
	listen, stats := proxytest.FreeAddr(t), proxytest.FreeAddr(t)
	conf := writeConf(t, fmt.Sprintf("dyn_o_mite:\n  listen: %s\n  stats_listen: %s\n  max_client_connections: 50\n  servers:\n  - %s:1\n", listen, stats, rd))
	startNodeBinary(t, conf, stats)
	cs := flood(t, listen, 50)
	require.Eventually(t, func() bool { return metric(t, stats, "dynomite_client_connections") == 50 },
		30*time.Second, 50*time.Millisecond)

	// the 51st connection gets Redis's error and is closed
	extra, err := net.DialTimeout("tcp", listen, 5*time.Second)
	require.NoError(t, err)
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(extra)
	require.False(t, err != nil && !errors.Is(err, syscall.ECONNRESET), "closed: %v", err)
	require.Equal(t, "-ERR max number of clients reached (max_client_connections)\r\n", string(got))

	// one leaves: room for a normal client again
	cs[0].Close()
	require.Eventually(t, func() bool { return setGet(listen, "room", "again") == nil }, 30*time.Second, 50*time.Millisecond)
}
