package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// needBinary skips when a datastore binary is missing, except under CI=true
// where a missing binary is a failure (CI installs them).
func needBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found in PATH (CI=true): .ci/run installs it", name)
		}
		t.Skipf("%s not found in PATH: apt-get install %s to run this test", name, name)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// datastore is a redis-server or memcached process started for one test.
type datastore struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	bin  string
	args []string
}

func startRedis(t testing.TB) *datastore {
	bin := needBinary(t, "redis-server")
	port := freePort(t)
	d := &datastore{t: t, bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port),
		args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"}}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func startMemcached(t testing.TB) *datastore {
	bin := needBinary(t, "memcached")
	port := freePort(t)
	d := &datastore{t: t, bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port),
		args: []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "64"}}
	if os.Geteuid() == 0 {
		d.args = append(d.args, "-u", "root")
	}
	d.start()
	t.Cleanup(d.stop)
	return d
}

func (d *datastore) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, d.args...)
	// Stdout and Stderr stay nil (/dev/null): no copying goroutines.
	require.NoError(d.t, d.cmd.Start())
	require.Eventually(d.t, func() bool {
		c, err := net.DialTimeout("tcp", d.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "%s did not start on %s", d.bin, d.addr)
}

func (d *datastore) stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
		d.cmd = nil
	}
}

// node is an in-process proxy in front of a datastore.
type node struct {
	s      *Server
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startNode(t testing.TB, proto msg.Proto, datastore string, mod func(*Options)) *node {
	t.Helper()
	o := Options{Proto: proto, Listen: "127.0.0.1:0", Datastore: datastore, DatastoreConns: 2,
		Timeout: 2 * time.Second, RetryTimeout: 500 * time.Millisecond, Preconnect: true, FailureLimit: 3}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	require.NoError(t, err)
	require.NoError(t, s.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{s: s, addr: s.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- s.Serve(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	require.Eventually(t, s.Backend().Up, 10*time.Second, 10*time.Millisecond, "proxy never connected to its datastore")
	return n
}

func (n *node) stop(t testing.TB) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("proxy did not stop within 15s")
	}
}

// rawConn sends raw bytes and reads whole replies, framed by our parsers.
type rawConn struct {
	t   testing.TB
	c   net.Conn
	buf []byte
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

func (rc *rawConn) send(b []byte) {
	rc.t.Helper()
	_ = rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := rc.c.Write(b)
	require.NoError(rc.t, err)
}

// read returns one reply framed by parse, or the error that ended the
// stream (io.EOF when the server closed the connection).
func (rc *rawConn) read(parse func([]byte) (int, error)) ([]byte, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	tmp := make([]byte, 64<<10)
	for {
		if len(rc.buf) > 0 {
			n, err := parse(rc.buf)
			if err == nil {
				out := append([]byte(nil), rc.buf[:n]...)
				rc.buf = rc.buf[n:]
				return out, nil
			}
			if !isIncomplete(err) {
				return nil, err
			}
		}
		k, err := rc.c.Read(tmp)
		rc.buf = append(rc.buf, tmp[:k]...)
		if err != nil && k == 0 {
			return nil, err
		}
	}
}

func isIncomplete(err error) bool {
	return err == resp.ErrIncomplete || err == memcache.ErrIncomplete
}

func redisReply(b []byte) (int, error) {
	lim := resp.DefaultLimits()
	return resp.ParseReply(b, &lim)
}

// cmd encodes a command as a RESP array.
func cmd(args ...string) []byte {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return resp.AppendCommand(nil, bs)
}

// transcript sends each request and collects the replies, marking the point
// where the server closed the connection.
func transcript(t testing.TB, addr string, reqs [][]byte, parse func([]byte) (int, error)) []string {
	t.Helper()
	rc := dial(t, addr)
	var out []string
	for _, req := range reqs {
		rc.send(req)
		n := expectedReplies(req)
		for i := 0; i < n; i++ {
			b, err := rc.read(parse)
			if err != nil {
				out = append(out, "<closed>")
				return out
			}
			out = append(out, string(b))
		}
	}
	return out
}

// expectedReplies counts the requests in a pipelined chunk (RESP arrays only).
func expectedReplies(b []byte) int {
	lim := resp.DefaultLimits()
	n := 0
	for len(b) > 0 {
		k, args, err := resp.ParseRequest(b, nil, &lim)
		if err != nil || k == 0 {
			return max(n, 1)
		}
		if len(args) > 0 {
			n++
		}
		b = b[k:]
	}
	return max(n, 1)
}

func lines(s string) string {
	var sb strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		sb.WriteString(sc.Text())
		sb.WriteByte('|')
	}
	return sb.String()
}

var _ = bytes.Equal

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
