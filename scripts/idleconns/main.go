// Command idleconns measures the memory a server or proxy process spends per
// idle client connection: it reads the process's resident set size (VmRSS in
// /proc/PID/status), opens N client connections to it, reads VmRSS again
// (phase "connected": accepted but never used), then sends one small request
// on every connection and reads its reply (phase "used once", the usual state
// of a pooled client connection), reads VmRSS a third time and reports the
// growth divided by N, in KiB per connection.
//
// Usage (scripts/bench.sh runs it):
//
//	go run ./scripts/idleconns [-n 10000] [-proto redis|memcache] [-check NAME -limit 24] \
//	    name=host:port@PID [name=host:port@PID ...]
//
// Targets are measured one after the other; each one's connections are closed
// before the next. The output is a Markdown table on stdout (progress on
// stderr). The exit status is 1 when a -check target is above -limit KiB per
// connection (in either phase) and 2 on errors. Linux only (/proc).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type target struct {
	name, addr string
	pid        int
}

type result struct {
	target
	before, connected, used int64 // VmRSS in KiB
	n                       int
}

func main() {
	n := flag.Int("n", 10000, "client connections to open per target")
	proto := flag.String("proto", "redis", "request sent on each connection in phase 2: redis (GET) or memcache (get)")
	check := flag.String("check", "", "target name whose KiB/conn is compared with -limit")
	limit := flag.Float64("limit", 24, "KiB per connection allowed for the -check target")
	workers := flag.Int("workers", 16, "concurrent dialers / requesters")
	settle := flag.Duration("settle", 5*time.Second, "max time to wait for VmRSS to stop changing after each phase")
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 || (*proto != "redis" && *proto != "memcache") {
		fmt.Fprintln(os.Stderr, "usage: idleconns [-n N] [-proto redis|memcache] [-check NAME -limit KIB] name=host:port@PID ...")
		os.Exit(2)
	}
	targets, err := parseTargets(flag.Args())
	if err != nil {
		fail(err)
	}
	if err := raiseNoFile(uint64(*n) + 256); err != nil {
		fail(err)
	}
	var req, wantPrefix string
	if *proto == "redis" {
		req, wantPrefix = "*2\r\n$3\r\nGET\r\n$20\r\nidleconns:nosuchkey0\r\n", "$-1\r\n"
	} else {
		req, wantPrefix = "get idleconns:nosuchkey0\r\n", "END\r\n"
	}

	var results []result
	for _, t := range targets {
		r, err := measure(t, *n, *workers, *settle, req, wantPrefix)
		if err != nil {
			fail(fmt.Errorf("%s: %w", t.name, err))
		}
		results = append(results, r)
		// Let the server tear down the closed connections before the next target.
		time.Sleep(500 * time.Millisecond)
	}

	over := false
	fmt.Printf("| target | connections | RSS before | RSS connected | RSS used once | KiB/conn connected | KiB/conn used once | limit |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		kc := float64(r.connected-r.before) / float64(r.n)
		ku := float64(r.used-r.before) / float64(r.n)
		verdict := ""
		if r.name == *check {
			verdict = fmt.Sprintf("<= %.0f KiB: ok", *limit)
			if kc > *limit || ku > *limit {
				verdict = fmt.Sprintf("<= %.0f KiB: OVER", *limit)
				over = true
			}
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %.1f | %.1f | %s |\n", r.name, r.n,
			mib(r.before), mib(r.connected), mib(r.used), kc, ku, verdict)
	}
	if over {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "idleconns:", err)
	os.Exit(2)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

var targetRE = regexp.MustCompile(`^([A-Za-z0-9_.+-]+)=(.+:[0-9]+)@([0-9]+)$`)

func parseTargets(args []string) ([]target, error) {
	var ts []target
	for _, a := range args {
		m := targetRE.FindStringSubmatch(a)
		if m == nil {
			return nil, fmt.Errorf("target %q is not name=host:port@PID", a)
		}
		host, _, err := net.SplitHostPort(m[2])
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", a, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("target %q is not a loopback address", a)
		}
		pid, _ := strconv.Atoi(m[3])
		if _, err := rss(pid); err != nil {
			return nil, fmt.Errorf("target %q: %w", a, err)
		}
		ts = append(ts, target{name: m[1], addr: m[2], pid: pid})
	}
	return ts, nil
}

// raiseNoFile lifts RLIMIT_NOFILE to at least want descriptors: the soft limit
// up to the hard one, and the hard one too when allowed (root).
func raiseNoFile(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= want {
		return nil
	}
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return nil
		}
		return fmt.Errorf("need %d open files but the hard limit (ulimit -Hn) is %d and cannot be raised; "+
			"raise it or use a smaller -n", want, lim.Max)
	}
	lim.Cur = want
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// rss returns VmRSS of pid in KiB.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("process %d: no VmRSS in /proc/%d/status", pid, pid)
}

// stableRSS waits (at least 300 ms, at most max) until VmRSS stops changing
// across 300 ms, and returns the largest value seen.
func stableRSS(pid int, max time.Duration) (int64, error) {
	deadline := time.Now().Add(max)
	prev, err := rss(pid)
	if err != nil {
		return 0, err
	}
	peak := prev
	for {
		time.Sleep(300 * time.Millisecond)
		cur, err := rss(pid)
		if err != nil {
			return 0, err
		}
		if cur > peak {
			peak = cur
		}
		if cur == prev || time.Now().After(deadline) {
			return peak, nil
		}
		prev = cur
	}
}

func measure(t target, n, workers int, settle time.Duration, req, want string) (result, error) {
	r := result{target: t, n: n}
	// Warm up: one full round trip, so lazily created state (backend
	// connections, buffers, the first goroutines) is counted in "before".
	c, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
	if err != nil {
		return r, err
	}
	if err := roundTrip(c, bufio.NewReader(c), req, want); err != nil {
		c.Close()
		return r, fmt.Errorf("warm-up request: %w", err)
	}
	defer c.Close()
	if r.before, err = stableRSS(t.pid, settle); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "idleconns: %s (%s, pid %d): VmRSS %d KiB, opening %d connections\n", t.name, t.addr, t.pid, r.before, n)

	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	start := time.Now()
	if err := parallel(n, workers, func(i int) error {
		c, err := net.DialTimeout("tcp", t.addr, 10*time.Second)
		if err != nil {
			return err
		}
		conns[i] = c
		return nil
	}); err != nil {
		return r, fmt.Errorf("dial: %w", err)
	}
	// The kernel completes the handshake before the server accepts: give it
	// time to accept all of them, then wait for VmRSS to settle.
	time.Sleep(time.Second)
	if r.connected, err = stableRSS(t.pid, settle); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "idleconns: %s: %d connections in %v, VmRSS %d KiB; one request on each\n",
		t.name, n, time.Since(start).Round(time.Millisecond), r.connected)

	if err := parallel(n, workers, func(i int) error {
		return roundTrip(conns[i], bufio.NewReaderSize(conns[i], 64), req, want)
	}); err != nil {
		return r, fmt.Errorf("request: %w", err)
	}
	if r.used, err = stableRSS(t.pid, settle); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "idleconns: %s: VmRSS %d KiB after one request per connection\n", t.name, r.used)
	// Still alive and answering with all of them open?
	if err := roundTrip(c, bufio.NewReader(c), req, want); err != nil {
		return r, fmt.Errorf("after %d connections: %w", n, err)
	}
	return r, nil
}

func roundTrip(c net.Conn, br *bufio.Reader, req, want string) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		return err
	}
	if string(got) != want {
		return fmt.Errorf("reply %q, want %q", got, want)
	}
	return nil
}

// parallel runs f(0..n-1) on workers goroutines; the first error wins.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     int
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
