package proxy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Hostile input: bytes no well-behaved client or peer sends, fed
// to nodes in front of real redis-server and memcached processes. Every
// input comes from a math/rand seeded with hostileSeed; a failure names the
// input's index and bytes, so it reproduces.
//
// For each input the test predicts, with the same parsers the node uses,
// how many replies the node owes and whether it must close the connection on
// its own (protocol error, request over max_request_bytes, QUIT), then checks
// exactly that. Meanwhile a well-behaved client keeps checking its own reads
// and writes, and a set of keys written beforehand must come out unchanged.

const hostileSeed = 0x5eed_0009

// hostileWorkers is how many hostile connections are open at once.
const hostileWorkers = 8

// outcome is what the node owes one hostile connection.
type outcome struct {
	// replies are the replies owed, in order: "" for any well-formed reply,
	// else the exact bytes.
	replies []string
	// retrieval marks memcache replies that are VALUE blocks ending in END.
	retrieval []bool
	// closes: the node closes the connection by itself after the replies.
	closes bool
}

func (o *outcome) reply(exact string, retrieval bool) {
	o.replies = append(o.replies, exact)
	o.retrieval = append(o.retrieval, retrieval)
}

// exchange sends in on a new connection and reads until the node closes
// it. Unless the node is expected to close by itself, the write side is
// closed after the input (EOF ends any half-sent request). A clean close
// returns a nil error; a reset, or no close within limit, an error.
func exchange(addr string, in []byte, closes bool, limit time.Duration) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		_ = c.SetWriteDeadline(time.Now().Add(limit))
		_, _ = c.Write(in) // the node may close before reading it all
		if !closes {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	got, err := io.ReadAll(c)
	c.Close()
	<-wrote
	return got, err
}

// isReset: the node closed with input still unread, so the kernel sent RST
// and replies not yet read may be lost.
func isReset(err error) bool {
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// checkReplies frames got with parse and compares it with the outcome.
// After a reset only a prefix of the replies may have arrived.
func checkReplies(got []byte, endErr error, want outcome, parse func(b []byte, i int) (int, error)) error {
	var ne net.Error
	if errors.As(endErr, &ne) && ne.Timeout() {
		return fmt.Errorf("the node neither answered nor closed the connection (got %q)", clip(got))
	}
	reset := isReset(endErr)
	i := 0
	for len(got) > 0 {
		if i >= len(want.replies) {
			return fmt.Errorf("reply %d is one too many: %q", i+1, clip(got))
		}
		n, err := parse(got, i)
		if err != nil {
			if reset && proxytest.Incomplete(err) {
				return nil
			}
			return fmt.Errorf("reply %d does not parse (%v): %q", i+1, err, clip(got))
		}
		if w := want.replies[i]; w != "" && string(got[:n]) != w {
			return fmt.Errorf("reply %d is %q, want %q", i+1, got[:n], w)
		}
		got = got[n:]
		i++
	}
	if i != len(want.replies) && !reset {
		return fmt.Errorf("got %d replies before the close, want %d", i, len(want.replies))
	}
	return nil
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "..."...)
	}
	return b
}

// mutator derives hostile inputs from valid ones.
type mutator struct{ rng *rand.Rand }

// lengths that parsers get wrong: negative, zero, at and past every limit,
// past int32 and int64, and not numbers at all.
var hostileNumbers = []string{"-1", "-5", "0", "1", "65535", "65536", "1048577", "300000000",
	"536870912", "536870913", "2147483647", "2147483648", "9999999999", "99999999999999999999",
	"", "+1", "0x10", "1e3", " 3"}

func (m mutator) random(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(m.rng.Uint32())
	}
	return b
}

// input returns a mutated seed: one to three bit flips, truncations,
// splices, insertions, replaced numbers or pipelined seeds; or, one time in
// eight, random bytes.
func (m mutator) input(seeds [][]byte) []byte {
	r := m.rng
	if r.IntN(8) == 0 {
		return m.random(1 + r.IntN(512))
	}
	pick := func() []byte { return seeds[r.IntN(len(seeds))] }
	in := bytes.Clone(pick())
	for range 1 + r.IntN(3) {
		switch r.IntN(7) {
		case 0: // bit flips
			for range 1 + r.IntN(4) {
				if len(in) > 0 {
					in[r.IntN(len(in))] ^= 1 << r.IntN(8)
				}
			}
		case 1: // truncation
			if len(in) > 0 {
				in = in[:r.IntN(len(in))]
			}
		case 2: // splice: a prefix of this input, a suffix of another seed
			o, cut := pick(), r.IntN(len(in)+1)
			in = append(in[:cut:cut], o[r.IntN(len(o)+1):]...)
		case 3: // random bytes inserted
			at := r.IntN(len(in) + 1)
			in = append(in[:at:at], append(m.random(1+r.IntN(8)), in[at:]...)...)
		case 4: // a number replaced
			in = m.replaceNumber(in)
		case 5: // another seed pipelined after it
			in = append(in, pick()...)
		case 6: // a framing byte injected
			at := r.IntN(len(in) + 1)
			in = append(in[:at:at], append([]byte{"\r\n*$ \x00"[r.IntN(6)]}, in[at:]...)...)
		}
	}
	return in
}

// replaceNumber swaps one run of digits (with its sign) for one of
// hostileNumbers.
func (m mutator) replaceNumber(in []byte) []byte {
	var runs [][2]int
	for i := 0; i < len(in); {
		if in[i] >= '0' && in[i] <= '9' || in[i] == '-' {
			j := i + 1
			for j < len(in) && in[j] >= '0' && in[j] <= '9' {
				j++
			}
			runs = append(runs, [2]int{i, j})
			i = j
			continue
		}
		i++
	}
	if len(runs) == 0 {
		return in
	}
	run := runs[m.rng.IntN(len(runs))]
	out := append([]byte(nil), in[:run[0]]...)
	out = append(out, hostileNumbers[m.rng.IntN(len(hostileNumbers))]...)
	return append(out, in[run[1]:]...)
}

// hostileRESPSeeds are valid requests. Their keys (h:*) are far from the
// keys the test checks afterwards (keep:*), and none flushes or scans-and-
// deletes: a mutation must not be able to legitimately destroy those.
func hostileRESPSeeds() [][]byte {
	return [][]byte{
		proxytest.Cmd("SET", "h:a", "1"), proxytest.Cmd("GET", "h:a"), proxytest.Cmd("MGET", "h:a", "h:b", "h:c"),
		proxytest.Cmd("MSET", "h:a", "x", "h:b", "y"), proxytest.Cmd("DEL", "h:a", "h:b"), proxytest.Cmd("INCR", "h:n"),
		proxytest.Cmd("HSET", "h:h", "f", "v"), proxytest.Cmd("HGETALL", "h:h"), proxytest.Cmd("LPUSH", "h:l", "a", "b"),
		proxytest.Cmd("LRANGE", "h:l", "0", "-1"), proxytest.Cmd("SADD", "h:s", "m"), proxytest.Cmd("ZADD", "h:z", "1", "m"),
		proxytest.Cmd("EXPIRE", "h:a", "100"), proxytest.Cmd("SETRANGE", "h:r", "10", "abc"), proxytest.Cmd("APPEND", "h:a", "zz"),
		proxytest.Cmd("PING"), proxytest.Cmd("ECHO", "hello"), proxytest.Cmd("EXISTS", "h:a", "h:b"), proxytest.Cmd("GETRANGE", "h:a", "0", "3"),
		[]byte("PING\r\n"), []byte("GET h:a\r\n"), []byte("SET h:q \"quoted value\"\r\n"),
		[]byte("*0\r\n"), []byte("*-1\r\n"), []byte("\r\n"),
	}
}

// predictRESP says what a node with the given max_request_bytes owes a
// client that sends in and then (unless it closes first) EOF.
func predictRESP(in []byte, maxRequest int) outcome {
	lim := resp.DefaultLimits()
	var o outcome
	for len(in) > 0 {
		n, args, err := resp.ParseRequest(in, nil, &lim)
		switch {
		case errors.Is(err, resp.ErrIncomplete):
			if n > maxRequest {
				o.reply(string(RedisErrTooLarge), false)
				o.closes = true
			}
			return o
		case err != nil:
			o.reply(string(resp.AppendError(nil, "ERR "+err.Error())), false)
			o.closes = true
			return o
		}
		in = in[n:]
		if len(args) == 0 {
			continue
		}
		if strings.EqualFold(string(args[0]), "quit") {
			o.reply("+OK\r\n", false)
			o.closes = true
			return o
		}
		o.reply("", false)
	}
	return o
}

// goodClient runs SET/GET pairs on its own keys until stop closes and
// checks every reply; it returns how many pairs it ran.
type goodClient struct {
	ops  atomic.Int64
	err  error
	done chan struct{}
}

func startGoodClient(addr string, proto msg.Proto, stop <-chan struct{}) *goodClient {
	g := &goodClient{done: make(chan struct{})}
	go func() {
		defer close(g.done)
		g.err = g.run(addr, proto, stop)
	}()
	return g
}

func (g *goodClient) run(addr string, proto msg.Proto, stop <-chan struct{}) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 4096)
	roundTrip := func(req, want string) error {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(req)); err != nil {
			return err
		}
		got := 0
		for got < len(want) {
			n, err := c.Read(buf[got:])
			if err != nil {
				return fmt.Errorf("after %d good requests, %q: read %q: %w", g.ops.Load(), req, buf[:got+n], err)
			}
			got += n
		}
		if string(buf[:got]) != want {
			return fmt.Errorf("after %d good requests, %q: got %q, want %q", g.ops.Load(), req, buf[:got], want)
		}
		return nil
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		key, val := fmt.Sprintf("good:%d", i%100), fmt.Sprintf("v%d-%d", i, i*7919)
		var err error
		if proto == msg.Redis {
			if err = roundTrip(string(proxytest.Cmd("SET", key, val)), "+OK\r\n"); err == nil {
				err = roundTrip(string(proxytest.Cmd("GET", key)), fmt.Sprintf("$%d\r\n%s\r\n", len(val), val))
			}
		} else {
			if err = roundTrip(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(val), val), "STORED\r\n"); err == nil {
				err = roundTrip("get "+key+"\r\n", fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", key, len(val), val))
			}
		}
		if err != nil {
			return err
		}
		g.ops.Add(1)
	}
}

func (g *goodClient) wait(t *testing.T) int64 {
	t.Helper()
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the well-behaved client is stuck")
	}
	require.NoError(t, g.err, "the well-behaved client must be served correctly throughout")
	require.Positive(t, g.ops.Load())
	return g.ops.Load()
}

// keepKeys writes n keys with random values through addr and returns them.
func keepKeys(t *testing.T, addr string, proto msg.Proto, rng *rand.Rand, n int) map[string]string {
	t.Helper()
	keys := make(map[string]string, n)
	rc := proxytest.Dial(t, addr)
	for i := range n {
		k, v := fmt.Sprintf("keep:%03d", i), fmt.Sprintf("%x", rng.Uint64())
		keys[k] = v
		if proto == msg.Redis {
			require.Equal(t, "+OK\r\n", rc.Do("SET", k, v))
		} else {
			rc.Send([]byte(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(v), v)))
			got, err := rc.Read(mcReplyParser(false))
			require.NoError(t, err)
			require.Equal(t, "STORED\r\n", string(got))
		}
	}
	rc.Close()
	return keys
}

// checkKeys reads every key through addr (the node) and, for the second
// time, straight from the datastore.
func checkKeys(t *testing.T, proto msg.Proto, keys map[string]string, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		rc := proxytest.Dial(t, addr)
		for k, v := range keys {
			if proto == msg.Redis {
				require.Equal(t, fmt.Sprintf("$%d\r\n%s\r\n", len(v), v), rc.Do("GET", k), "%s via %s", k, addr)
				continue
			}
			rc.Send([]byte("get " + k + "\r\n"))
			got, err := rc.Read(mcReplyParser(true))
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(v), v), string(got), "%s via %s", k, addr)
		}
		rc.Close()
	}
}

func mcReplyParser(retrieval bool) func([]byte) (int, error) {
	return func(b []byte) (int, error) { return memcache.ParseReply(b, retrieval, nil) }
}

// fuzzCounts tally the inputs of a run: those the node had to close by
// itself, those whose last reply was an exact (error) reply, and those that
// ended with a reset (where replies may be lost, so fewer are checked).
type fuzzCounts struct{ closed, errored, resets atomic.Int64 }

// fuzzConnections runs count hostile inputs, hostileWorkers at a time, and
// fails the test with the first few inputs whose outcome was wrong.
func fuzzConnections(t *testing.T, addr string, inputs [][]byte, predict func([]byte) outcome,
	parse func(b []byte, want outcome, i int) (int, error)) *fuzzCounts {
	t.Helper()
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
		next     atomic.Int64
		counts   fuzzCounts
	)
	for range hostileWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(inputs) {
					return
				}
				want := predict(inputs[i])
				got, err := exchange(addr, inputs[i], want.closes, 20*time.Second)
				if want.closes {
					counts.closed.Add(1)
				}
				if len(want.replies) > 0 && want.replies[len(want.replies)-1] != "" {
					counts.errored.Add(1)
				}
				if isReset(err) {
					counts.resets.Add(1)
				}
				if cerr := checkReplies(got, err, want, func(b []byte, k int) (int, error) { return parse(b, want, k) }); cerr != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("input %d %q: %v", i, clip(inputs[i]), cerr))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 5 {
		failures = append(failures[:5], fmt.Sprintf("... and %d more", len(failures)-5))
	}
	require.Empty(t, failures, "seed %#x", hostileSeed)
	return &counts
}

// attack runs inputs against addr while a well-behaved client works
// through goodAddr, and logs what happened under name.
func attack(t *testing.T, name, addr, goodAddr string, proto msg.Proto, inputs [][]byte, predict func([]byte) outcome,
	parse func(b []byte, want outcome, i int) (int, error)) (closed, errored int) {
	t.Helper()
	stop := make(chan struct{})
	good := startGoodClient(goodAddr, proto, stop)
	start := time.Now()
	c := fuzzConnections(t, addr, inputs, predict, parse)
	close(stop)
	ops := good.wait(t)
	closed, errored = int(c.closed.Load()), int(c.errored.Load())
	t.Logf("hostile %s: %d inputs in %v: %d ended with an error reply, %d closed by the node, %d reset; %d good writes and reads meanwhile",
		name, len(inputs), time.Since(start).Round(time.Millisecond), errored, closed, c.resets.Load(), ops)
	return closed, errored
}

// hostileClients attacks the client port of a node in front of datastore
// with count mutations of seeds, then checks that keys written before are
// intact and every hostile session is gone.
func hostileClients(t *testing.T, proto msg.Proto, datastore string, maxRequest int, stream uint64, seeds [][]byte, count int,
	predict func([]byte, int) outcome, parse func(b []byte, want outcome, i int) (int, error)) {
	t.Helper()
	n := proxytest.StartNode(t, proto, datastore, func(o *Options) { o.MaxRequestBytes = maxRequest })
	rng := rand.New(rand.NewPCG(hostileSeed, stream))
	keys := keepKeys(t, n.Addr, proto, rng, 100)
	m := mutator{rng}
	inputs := make([][]byte, count)
	for i := range inputs {
		inputs[i] = m.input(seeds)
	}
	_, errored := attack(t, proto.String(), n.Addr, n.Addr, proto, inputs,
		func(in []byte) outcome { return predict(in, maxRequest) }, parse)
	require.Greater(t, errored, count/4, "the mutations should provoke protocol errors")

	checkKeys(t, proto, keys, n.Addr, datastore)
	require.Eventually(t, func() bool { return n.Server.ClientConnections() == 0 }, 10*time.Second, 10*time.Millisecond,
		"every hostile session ended")
	n.Stop()
}

func TestHostileRESPClients(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hostileClients(t, msg.Redis, proxytest.StartRedis(t).Addr, 1<<20, 1, hostileRESPSeeds(), 5000, predictRESP,
		func(b []byte, _ outcome, _ int) (int, error) { return proxytest.RedisReply(b) })
}

// hostileMemcacheSeeds are valid memcache requests on h:* keys.
func hostileMemcacheSeeds() [][]byte {
	return [][]byte{
		[]byte("set h:a 0 0 1\r\n1\r\n"), []byte("get h:a h:b\r\n"), []byte("gets h:a\r\n"),
		[]byte("add h:b 5 0 2\r\nxx\r\n"), []byte("replace h:a 0 0 3\r\nabc\r\n"),
		[]byte("append h:a 0 0 1\r\nz\r\n"), []byte("prepend h:a 0 0 1\r\ny\r\n"),
		[]byte("cas h:a 0 0 1 12345\r\nq\r\n"), []byte("incr h:n 5\r\n"), []byte("decr h:n 1\r\n"),
		[]byte("delete h:c\r\n"), []byte("touch h:a 100\r\n"), []byte("gat 100 h:a h:b\r\n"),
		[]byte("set h:c 0 0 3 noreply\r\nabc\r\n"), []byte("version\r\n"), []byte("get h:a\n"),
		[]byte("get " + strings.Repeat("h:k ", 600) + "\r\n"),   // a get line may pass 2048 bytes
		[]byte("touch " + strings.Repeat("k", 2100) + " 1\r\n"), // no other line may
		[]byte("quit\r\n"),
	}
}

// predictMemcache says what a memcache node owes a client, using the codec's
// rules: a malformed line gets memcached's reply (or none), then the node
// either closes or swallows the data block that followed.
func predictMemcache(in []byte, maxRequest int) outcome {
	var o outcome
	var m memcache.Request
	for len(in) > 0 {
		n, err := memcache.ParseRequest(in, &m, nil)
		var ce *memcache.ClientError
		switch {
		case errors.Is(err, memcache.ErrIncomplete):
			if n > maxRequest {
				o.reply(string(McErrTooLarge), false)
				o.closes = true
			}
			return o
		case errors.As(err, &ce):
			if ce.Reply != "" {
				o.reply(ce.Reply, false)
			}
			if ce.Close {
				o.closes = true
				return o
			}
			in = in[min(n+ce.Skip, len(in)):]
			continue
		case err != nil:
			o.closes = true
			return o
		}
		in = in[n:]
		if m.Cmd == memcache.CmdQuit {
			o.closes = true
			return o
		}
		if !m.NoReply {
			o.reply("", m.Retrieval)
		}
	}
	return o
}

func TestHostileMemcacheClients(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hostileClients(t, msg.Memcache, proxytest.StartMemcached(t).Addr, 64<<10, 2, hostileMemcacheSeeds(), 3000, predictMemcache,
		func(b []byte, want outcome, i int) (int, error) {
			return memcache.ParseReply(b, want.retrieval[i], nil)
		})
}

// heapAlloc is the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func TestHostileHugeDeclaredLengths(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := proxytest.StartRedis(t)
	// stock limits: max_request_bytes 512 MiB + 64 KiB
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	small := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.MaxRequestBytes = 1 << 20 })

	cases := []struct {
		name, addr string
		in         string
		want       string // the reply, exactly
		closes     bool
	}{
		{"an array of 2^31-1 elements", n.Addr, "*2147483647\r\n",
			"-ERR Protocol error: invalid multibulk length (2147483647 > MaxArrayLen 1048576)\r\n", true},
		{"a bulk of 9999999999 bytes", n.Addr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9999999999\r\n",
			"-ERR Protocol error: invalid bulk length (9999999999 > MaxBulkLen 536870912)\r\n", true},
		{"a length past int64", n.Addr, "*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n",
			"-ERR Protocol error: invalid bulk length\r\n", true},
		{"a negative bulk length", n.Addr, "*2\r\n$3\r\nGET\r\n$-5\r\n",
			"-ERR Protocol error: invalid bulk length\r\n", true},
		{"a negative array length is an empty request, as in Redis", n.Addr, "*-5\r\n*1\r\n$4\r\nPING\r\n",
			"+PONG\r\n", false},
		{"a bulk longer than max_request_bytes", small.Addr, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\nxx",
			"-ERR Protocol error: request larger than the proxy's limit\r\n", true},
		{"an inline line past 64 KiB", n.Addr, "GET " + strings.Repeat("k", 70000),
			"-ERR Protocol error: too big inline request (> MaxInlineLen 65536)\r\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := exchange(tc.addr, []byte(tc.in), tc.closes, 20*time.Second)
			require.False(t, err != nil && !isReset(err), "the node must answer and close: %v", err)
			require.Equal(t, tc.want, string(got))
		})
	}
	rc := proxytest.Dial(t, n.Addr)
	require.Equal(t, "$-1\r\n", rc.Do("GET", "k"), "nothing was stored")
	rc.Close()

	t.Run("a declared length is not an allocation", func(t *testing.T) {
		// Each connection promises a 300 MB value and sends 1 KiB of it. A
		// reader that sized its buffer from the header would hold 1.2 GB.
		const conns, declared = 4, 300_000_000
		require.Eventually(t, func() bool { return n.Server.ClientConnections() == 0 }, 10*time.Second, 10*time.Millisecond)
		before := heapAlloc()
		var cs []*proxytest.Conn
		for range conns {
			c := proxytest.Dial(t, n.Addr)
			c.Send([]byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$%d\r\n%s", declared, strings.Repeat("v", 1024))))
			cs = append(cs, c)
		}
		require.Eventually(t, func() bool { return n.Server.ClientConnections() == conns }, 10*time.Second, 10*time.Millisecond)
		time.Sleep(300 * time.Millisecond)
		during := heapAlloc()
		grown := int64(during) - int64(before)
		t.Logf("huge declared lengths: %d connections declaring %d MB each: heap %+.1f MiB", conns, declared/1_000_000, float64(grown)/(1<<20))
		require.Less(t, grown, int64(16<<20), "the heap grew by %d bytes", grown)
		for _, c := range cs {
			c.Close()
		}
		require.Eventually(t, func() bool { return n.Server.ClientConnections() == 0 }, 10*time.Second, 10*time.Millisecond)
	})

	t.Run("memcache: an item over the size limit and a line too long", func(t *testing.T) {
		mc := proxytest.StartMemcached(t)
		mn := proxytest.StartNode(t, msg.Memcache, mc.Addr, nil)
		got, err := exchange(mn.Addr, []byte("set k 0 0 2000000\r\n"), false, 20*time.Second)
		require.NoError(t, err)
		require.Equal(t, "SERVER_ERROR object too large for cache\r\n", string(got))
		got, err = exchange(mn.Addr, []byte("set k 0 0 99999999999999999999\r\n"), false, 20*time.Second)
		require.NoError(t, err)
		require.Equal(t, "CLIENT_ERROR bad command line format\r\n", string(got))
		// memcached closes a non-get line past 2048 bytes without a word
		got, err = exchange(mn.Addr, []byte("set "+strings.Repeat("k", 4000)), true, 20*time.Second)
		require.True(t, err == nil || isReset(err), "closed: %v", err)
		require.Empty(t, got)
		mn.Stop()
	})
	n.Stop()
	small.Stop()
}

func TestHostileDeepNesting(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	deep := []byte(strings.Repeat("*1\r\n", 100_000) + "$4\r\nPING\r\n")

	got, err := exchange(n.Addr, deep, true, 20*time.Second)
	require.True(t, err == nil || isReset(err), "the node must answer and close: %v", err)
	require.Equal(t, "-ERR Protocol error: expected '$', got '*'\r\n", string(got), "requests are flat arrays of bulks")

	// replies may nest, up to MaxDepth; deeper is an error, not a stack overflow
	_, err = resp.ParseReply(deep, nil)
	var pe *resp.ProtocolError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "MaxDepth", pe.Limit)
	ping := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", ping.Do("PING"))
	ping.Close()
	n.Stop()
}

func TestHostileSlowloris(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) {
		o.ClientReadTimeout = time.Second
		o.ClientIdleTimeout = 2 * time.Second
	})
	stop := make(chan struct{})
	good := startGoodClient(n.Addr, msg.Redis, stop)

	// One byte every 100 ms of a request of a million one-byte arguments:
	// every argument arrives within client_read_timeout, but the request as
	// a whole takes longer, so the node must close it.
	slow := proxytest.Dial(t, n.Addr)
	slowDone := make(chan error, 1)
	go func() {
		req := []byte("*1000000\r\n" + strings.Repeat("$1\r\na\r\n", 1000))
		for _, b := range req {
			_ = slow.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := slow.NetConn().Write([]byte{b}); err != nil {
				slowDone <- err
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		slowDone <- errors.New("sent the whole slow request without being cut off")
	}()
	idle := proxytest.Dial(t, n.Addr)
	// A slow but finished request within client_read_timeout is served.
	patient := proxytest.Dial(t, n.Addr)
	for _, b := range proxytest.Cmd("PING") {
		patient.Send([]byte{b})
		time.Sleep(10 * time.Millisecond)
	}
	got, err := patient.Read(proxytest.RedisReply)
	require.NoError(t, err)
	require.Equal(t, "+PONG\r\n", string(got))

	start := time.Now()
	select {
	case err := <-slowDone:
		require.Error(t, err)
		require.NotContains(t, err.Error(), "without being cut off")
	case <-time.After(30 * time.Second):
		t.Fatal("the slowloris connection was never closed")
	}
	reaped := time.Since(start)
	_, err = idle.Read(proxytest.RedisReply)
	require.ErrorIs(t, err, io.EOF, "an idle connection is closed after client_idle_timeout")
	close(stop)
	ops := good.wait(t)
	t.Logf("slowloris: reaped after %v, idle reaped too; %d good SET+GET meanwhile", reaped.Round(10*time.Millisecond), ops)
	lim := n.Server.Stats().Limits
	require.GreaterOrEqual(t, lim.ClientReadTimeout, uint64(1), "the slowloris connection counts as a read timeout")
	require.GreaterOrEqual(t, lim.ClientIdleTimeout, uint64(1), "the idle one as an idle timeout")
	n.Stop()
}

// peerFrame is a dnode request frame carrying payload.
func peerFrame(id uint64, typ dnode.Type, payload []byte) []byte {
	return append(dnode.AppendHeader(nil, dnode.Header{ID: id, Type: typ, Version: 1, SameDC: true}), payload...)
}

// predictPeer says what a peer listener owes a connection: one type 5 frame
// per request frame; a header it cannot parse, an encrypted payload, a frame
// type it does not serve, or a malformed payload closes the link.
func predictPeer(in []byte, maxRequest int) outcome {
	lim := resp.DefaultLimits()
	dlim := dnode.DefaultLimits()
	var o outcome
	var h dnode.Header
	for len(in) > 0 {
		n, err := dnode.ParseHeader(in, &h, &dlim)
		var args [][]byte
		if errors.Is(err, dnode.ErrIncomplete) {
			return o
		}
		if err != nil || h.Encrypted() {
			o.closes = true
			return o
		}
		in = in[n:]
		switch h.Type {
		case dnode.TypeReq, dnode.TypeReqForward, dnode.TypePubSub:
		case dnode.TypeGossipSyn:
			continue
		default:
			o.closes = true
			return o
		}
		n, args, err = resp.ParseRequest(in, nil, &lim)
		if errors.Is(err, resp.ErrIncomplete) {
			o.closes = n > maxRequest
			return o
		}
		if err != nil {
			hdr := dnode.AppendHeader(nil, dnode.Header{ID: h.ID, Type: dnode.TypeRes, Version: 1, SameDC: true})
			o.reply(string(resp.AppendError(hdr, "ERR "+err.Error())), false)
			o.closes = true
			return o
		}
		in = in[n:]
		if len(args) > 0 { // an empty array is a frame with nothing to answer
			o.reply("", false)
		}
	}
	return o
}

// peerReply frames one type 5 response.
func peerReply(b []byte) (int, error) {
	var h dnode.Header
	n, err := dnode.ParseHeader(b, &h, nil)
	if err != nil {
		if errors.Is(err, dnode.ErrIncomplete) {
			return 0, resp.ErrIncomplete
		}
		return 0, err
	}
	if h.Type != dnode.TypeRes {
		return 0, fmt.Errorf("frame type %v, want a response", h.Type)
	}
	k, err := proxytest.RedisReply(b[n:])
	return n + k, err
}

func TestHostilePeerPort(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := realCluster(t, []string{"dc1/r1/0", "dc1/r2/0"}, nil)
	target := tc.Nodes[1]
	rng := rand.New(rand.NewPCG(hostileSeed, 3))
	keys := keepKeys(t, tc.Nodes[0].Addr, msg.Redis, rng, 50)
	for k, v := range keys {
		require.Equal(t, fmt.Sprintf("$%d\r\n%s\r\n", len(v), v), tc.Direct(1, "GET", k), "replicated to rack 2")
	}

	var seeds [][]byte
	for i, p := range hostileRESPSeeds() {
		seeds = append(seeds, peerFrame(uint64(i+1), dnode.TypeReq, p), peerFrame(uint64(i+100), dnode.TypeReqForward, p))
	}
	seeds = append(seeds,
		[]byte("   $2014$ 7 7 0 1 1 *1 a *0\r\n"),                                                                                // gossip
		[]byte("   $2014$ 8 3 1 1 1 *1 d *16\r\n0123456789abcdef"),                                                               // upstream-encrypted
		[]byte("   $2014$ 9 5 0 1 1 *1 d *0\r\n+OK\r\n"),                                                                         // a response, unasked
		append(peerFrame(10, dnode.TypeReq, proxytest.Cmd("PING")), peerFrame(11, dnode.TypeReq, proxytest.Cmd("ECHO", "e"))...), // pipelined
	)
	m := mutator{rng}
	inputs := make([][]byte, 2000)
	for i := range inputs {
		inputs[i] = m.input(seeds)
	}

	// a client of rack 1 writes to both racks while rack 2's peer port is
	// under attack
	closed, _ := attack(t, "peer port", target.DynAddr, tc.Nodes[0].Addr, msg.Redis, inputs,
		func(in []byte) outcome { return predictPeer(in, target.Server.MaxRequestBytes()) },
		func(b []byte, _ outcome, _ int) (int, error) { return peerReply(b) })
	require.Greater(t, closed, len(inputs)/4)

	checkKeys(t, msg.Redis, keys, tc.Nodes[0].Addr, target.Addr, tc.Nodes[0].DatastoreAddr, target.DatastoreAddr)
	// replication between the real peers still works, both ways
	c0, c1 := tc.Client(0, "DC_QUORUM"), tc.Client(1, "DC_QUORUM")
	require.Equal(t, "+OK\r\n", c0.Do("SET", "after:0", "a"))
	require.Equal(t, "+OK\r\n", c1.Do("SET", "after:1", "b"))
	require.Equal(t, "$1\r\na\r\n", tc.Direct(1, "GET", "after:0"))
	require.Equal(t, "$1\r\nb\r\n", tc.Direct(0, "GET", "after:1"))
	for _, tn := range tc.Nodes {
		for _, p := range tn.Server.Peers() {
			require.True(t, p.Up, "peer link %s is up", p.Name)
		}
	}
	c0.Close()
	c1.Close()
	for i := range tc.Nodes {
		tc.Stop(i)
	}
}
