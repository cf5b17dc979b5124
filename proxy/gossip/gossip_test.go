package gossip

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// freePort returns a port free for both TCP and UDP on 127.0.0.1, as
// memberlist needs both on the same port.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// recorder keeps the last membership OnChange reported.
type recorder struct {
	mu   sync.Mutex
	last []Member
}

func (r *recorder) onChange(ms []Member) { r.mu.Lock(); r.last = ms; r.mu.Unlock() }

func (r *recorder) get() []Member { r.mu.Lock(); defer r.mu.Unlock(); return r.last }

// alive reports name's liveness in the last membership (known false if absent).
func (r *recorder) alive(name string) (alive, known bool) {
	for _, m := range r.get() {
		if m.Name == name {
			return m.Alive, true
		}
	}
	return false, false
}

type node struct {
	g    *Gossip
	rec  *recorder
	port int
	meta Meta
}

// fast is a failure detector for loopback tests: dead within about a second.
func fastConfig(port int, meta Meta, seeds []string) Config {
	return Config{
		BindAddr: "127.0.0.1", BindPort: port, Self: meta, Seeds: seeds,
		Interval:      300 * time.Millisecond,
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		SuspicionMult: 2, GossipInterval: 20 * time.Millisecond, TCPTimeout: time.Second,
	}
}

func startNode(t *testing.T, port int, i int, seeds []string) *node {
	t.Helper()
	meta := Meta{Name: "127.0.0.1:" + strconv.Itoa(8101+10*i), DC: "dc1", Rack: "rack" + strconv.Itoa(i), Tokens: []uint32{uint32(i) * 1000, 4294967295}, State: "NORMAL"}
	n := &node{rec: &recorder{}, port: port, meta: meta}
	cfg := fastConfig(port, meta, seeds)
	cfg.OnChange = n.rec.onChange
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	n.g = g
	return n
}

func TestClusterJoinsPropagatesMetaAndDetectsDeath(t *testing.T) {
	ports := []int{freePort(t), freePort(t), freePort(t), freePort(t)}
	seed := []string{"127.0.0.1:" + strconv.Itoa(ports[0])}
	// Nodes 1..3 start first and retry until the seed, node 0, is up.
	nodes := make([]*node, 4)
	for i := 1; i < 4; i++ {
		nodes[i] = startNode(t, ports[i], i, seed)
	}
	time.Sleep(300 * time.Millisecond)
	nodes[0] = startNode(t, ports[0], 0, nil)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				require.NoError(t, n.g.Shutdown())
			}
		}
	}()

	require.Eventually(t, func() bool {
		for _, n := range nodes {
			ms := n.rec.get()
			if len(ms) != 4 {
				return false
			}
			for _, m := range ms {
				if !m.Alive {
					return false
				}
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "every node sees four alive members")

	// Metadata arrives intact everywhere.
	for _, n := range nodes {
		for _, want := range nodes {
			var got Member
			for _, m := range n.rec.get() {
				if m.Name == want.meta.Name {
					got = m
				}
			}
			require.Equal(t, want.meta, got.Meta)
		}
	}
	require.Greater(t, nodes[1].g.Metrics().JoinFailures.Load(), uint64(0), "node 1 retried before the seed was up")

	// A state change spreads.
	require.NoError(t, nodes[2].g.SetState("WRITES_ONLY"))
	require.Eventually(t, func() bool {
		for _, m := range nodes[0].rec.get() {
			if m.Name == nodes[2].meta.Name {
				return m.State == "WRITES_ONLY"
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond)

	// Node 3 dies without a word: the others declare it dead and keep it.
	victim := nodes[3]
	require.NoError(t, victim.g.Shutdown())
	nodes[3] = nil
	require.Eventually(t, func() bool {
		for _, n := range nodes[:3] {
			if alive, known := n.rec.alive(victim.meta.Name); alive || !known {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the others mark the killed node dead")
	require.EqualValues(t, 3, nodes[0].g.Metrics().Alive.Load())
	require.EqualValues(t, 1, nodes[0].g.Metrics().Dead.Load())
	require.GreaterOrEqual(t, nodes[0].g.Metrics().Leaves.Load(), uint64(1))

	// It restarts on the same address and comes back alive.
	// The counters are checked in the same wait: they and the recorder are
	// updated by separate goroutines, and under load the fast failure
	// detector may suspect the newcomer once more before it settles.
	nodes[3] = startNode(t, victim.port, 3, seed)
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if alive, _ := n.rec.alive(victim.meta.Name); !alive {
				return false
			}
		}
		m := nodes[0].g.Metrics()
		return m.Alive.Load() == 4 && m.Dead.Load() == 0
	}, 10*time.Second, 20*time.Millisecond, "the restarted node is alive again everywhere, and counted alive")

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, RegisterMetrics(reg, nodes[0].g.Metrics))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP dynomite_gossip_members Members gossip knows, this node included, by liveness.
# TYPE dynomite_gossip_members gauge
dynomite_gossip_members{state="alive"} 4
dynomite_gossip_members{state="dead"} 0
`), "dynomite_gossip_members"))
}

func TestLeaveIsSeenAsNotAlive(t *testing.T) {
	p0, p1 := freePort(t), freePort(t)
	a := startNode(t, p0, 0, nil)
	defer a.g.Shutdown()
	b := startNode(t, p1, 1, []string{a.g.Addr()})
	require.Eventually(t, func() bool { alive, _ := a.rec.alive(b.meta.Name); return alive }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, b.g.Leave(time.Second))
	require.Eventually(t, func() bool { alive, known := a.rec.alive(b.meta.Name); return known && !alive }, 5*time.Second, 10*time.Millisecond)
}

func TestReplacedDeadMemberIsDropped(t *testing.T) {
	// A dead member whose tokens a live one of the same rack now holds was
	// replaced (upstream: a known token with a new address replaces the node).
	g := &Gossip{members: map[string]*member{}}
	old := time.Now().Add(-time.Minute)
	g.members["a"] = &member{Member: Member{Meta: Meta{Name: "a", DC: "d", Rack: "r", Tokens: []uint32{1}}, Alive: false}, changed: old}
	g.members["b"] = &member{Member: Member{Meta: Meta{Name: "b", DC: "d", Rack: "r", Tokens: []uint32{1}}, Alive: true}, changed: time.Now()}
	g.members["c"] = &member{Member: Member{Meta: Meta{Name: "c", DC: "d", Rack: "r2", Tokens: []uint32{1}}, Alive: false}, changed: old}
	var names []string
	for _, m := range g.Members() {
		names = append(names, m.Name)
	}
	require.Equal(t, []string{"b", "c"}, names)
}

func TestMetaEncoding(t *testing.T) {
	for name, tc := range map[string]struct {
		meta Meta
		err  string
	}{
		"a typical node round-trips":    {meta: Meta{Name: "10.0.0.1:8101", DC: "us-east-1", Rack: "us-east-1a", Tokens: []uint32{0, 4294967295, 12345}, State: "NORMAL"}},
		"every upstream state is known": {meta: Meta{Name: "n:1", State: "JOINING"}},
		"an empty name is refused":      {meta: Meta{DC: "d"}, err: "name"},
		"an unknown state is refused":   {meta: Meta{Name: "n:1", State: "SLEEPY"}, err: `unknown node state "SLEEPY"`},
		"too many tokens are refused, naming them": {
			meta: Meta{Name: "n:1", Tokens: manyTokens(120)}, err: "the 120 tokens take",
		},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := tc.meta.encode()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.LessOrEqual(t, len(b), 512)
			got, err := decodeMeta(b)
			require.NoError(t, err)
			require.Equal(t, tc.meta, got)
		})
	}
	_, err := New(Config{BindAddr: "127.0.0.1", Self: Meta{Name: "n:1", Tokens: manyTokens(200)}}, nil)
	require.ErrorContains(t, err, "over memberlist's limit of 512")
}

func manyTokens(n int) []uint32 {
	ts := make([]uint32, n)
	for i := range ts {
		ts[i] = 4000000000 + uint32(i)
	}
	return ts
}

func TestDecodeMetaRejectsGarbage(t *testing.T) {
	good, err := Meta{Name: "n:1", DC: "d", Rack: "r", Tokens: []uint32{7}}.encode()
	require.NoError(t, err)
	for i := range len(good) {
		_, err := decodeMeta(good[:i])
		require.Error(t, err, "truncated to %d bytes", i)
	}
	_, err = decodeMeta(append(bytes.Clone(good), 0))
	require.ErrorContains(t, err, "trailing")
	_, err = decodeMeta([]byte{2, 4})
	require.Error(t, err)
}

func FuzzDecodeMeta(f *testing.F) {
	good, _ := Meta{Name: "n:1", DC: "d", Rack: "r", Tokens: []uint32{7, 8}}.encode()
	f.Add(good)
	f.Add([]byte{1, 4, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (possibly more compactly) to the same
		// metadata.
		again, err := m.encode()
		if err == nil {
			m2, err := decodeMeta(again)
			require.NoError(t, err)
			require.Equal(t, m, m2)
		}
	})
}

func TestLogAdapterLevels(t *testing.T) {
	var buf bytes.Buffer
	l := newStdLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("[ERR] memberlist: Failed to send ping: boom")
	l.Printf("[WARN] memberlist: Was able to connect to x but other probes failed")
	l.Printf("[DEBUG] memberlist: Stream connection from=127.0.0.1:1")
	l.Printf("[INFO] memberlist: Marking n:1 as failed")
	out := buf.String()
	require.Contains(t, out, `level=ERROR msg="Failed to send ping: boom"`)
	require.Contains(t, out, `level=WARN msg="Was able to connect`)
	require.Contains(t, out, `level=DEBUG msg="Stream connection from=127.0.0.1:1"`)
	require.Contains(t, out, `level=INFO msg="Marking n:1 as failed"`)
	require.NotContains(t, out, "memberlist:")
}
