package proxytest

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NeedBinary returns the path of an external program. A missing one skips
// the test, except under CI=true where it is a failure (CI installs it);
// pkg names the Debian package that provides it.
func NeedBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found in PATH (CI=true): .ci/run must install the Debian package %s", name, pkg)
		}
		t.Skipf("%s not found in PATH: apt-get install %s to run this test", name, pkg)
	}
	return p
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call,
// for a listener whose address must be known before it starts (a node's
// peer listener, which the other nodes are configured with; a datastore
// process). It picks ports below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range): the kernel never hands those
// out for port 0 or outgoing connections, so another test process binding
// port 0 between this call and the caller's listen cannot take it, which
// happened when packages ran in parallel. Only another random pick of the
// same port can, one chance in several thousand. Within one process no
// port is handed out twice: a port given to one caller is free until that
// caller listens on it, and a second pick of it in between (another node of
// the same cluster, a test running in parallel) made two listeners collide.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		if !claim(port) {
			continue
		}
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			ln.Close()
			return port
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// handedOut holds the ports FreePort has returned in this process.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// claim records port as handed out; false when it already was.
func claim(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default 32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 12000 {
		return 32768
	}
	return low
}

// FreeAddr is FreePort as "127.0.0.1:port".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// Process is a real datastore (redis-server or memcached) started for one
// test on a loopback port of its own. Stop and Start again keep the port, so
// a node in front of it sees its datastore go away and come back (empty: the
// processes run without persistence).
type Process struct {
	// Addr is host:port of the datastore.
	Addr string

	t    testing.TB
	bin  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartRedis starts a redis-server without persistence on a free loopback
// port; it stops with the test. Without redis-server in PATH the test is
// skipped (NeedBinary).
func StartRedis(t testing.TB) *Process {
	t.Helper()
	bin := NeedBinary(t, "redis-server", "redis-server")
	port := strconv.Itoa(FreePort(t))
	return startProcess(t, bin, port, "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--protected-mode", "no")
}

// StartMemcached starts a memcached (TCP only, 64 MiB) on a free loopback
// port; it stops with the test.
func StartMemcached(t testing.TB) *Process {
	t.Helper()
	bin := NeedBinary(t, "memcached", "memcached")
	port := strconv.Itoa(FreePort(t))
	args := []string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root without -u
	}
	return startProcess(t, bin, port, args...)
}

func startProcess(t testing.TB, bin, port string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, bin: bin, args: args, Addr: "127.0.0.1:" + port}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Start (re)starts the process on its port and waits until it accepts
// connections.
func (p *Process) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	cmd := exec.Command(p.bin, p.args...)
	// Stdout and Stderr stay nil (/dev/null): no copying goroutines to leak.
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", p.bin, err)
	}
	p.cmd = cmd
	WaitListening(p.t, p.Addr, p.bin)
}

// Stop kills the process (only the one this Process started) and reaps it.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// WaitListening polls addr until it accepts a TCP connection; after 10
// seconds it fails the test naming what did not start.
func WaitListening(t testing.TB, addr, what string) {
	t.Helper()
	Eventually(t, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "%s did not start on %s", what, addr)
}

// Eventually polls cond every 10ms until it holds; after d it fails the test
// with the message. It is for states the test cannot be told about (a
// process listening, a peer connected), never a substitute for a reply.
func Eventually(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
