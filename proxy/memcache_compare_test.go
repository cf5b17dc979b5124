package proxy_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// mcStep is one memcache request and how many reply units it produces
// (0 for noreply), each framed as a retrieval reply or a single line.
type mcStep struct {
	req       string
	replies   int
	retrieval bool
}

func memcacheCommandList() []mcStep {
	big := strings.Repeat("x", 900<<10)
	var keys []string
	for i := 0; i < 100; i++ {
		keys = append(keys, "mk"+string(rune('a'+i%26))+strings.Repeat("z", i%7))
	}
	return []mcStep{
		{"version\r\n", 1, false},
		{"set k 5 0 3\r\nabc\r\n", 1, false},
		{"get k\r\n", 1, true},
		{"gets k\r\n", 1, true},
		{"get nokey\r\n", 1, true},
		{"add k 0 0 1\r\nz\r\n", 1, false},
		{"add k2 0 0 1\r\nz\r\n", 1, false},
		{"replace k 0 0 2\r\nxy\r\n", 1, false},
		{"replace nokey 0 0 2\r\nxy\r\n", 1, false},
		{"append k 0 0 2\r\n12\r\n", 1, false},
		{"prepend k 0 0 2\r\n00\r\n", 1, false},
		{"get k k2 nokey k\r\n", 1, true},
		{"cas k 0 0 1 999999\r\nq\r\n", 1, false},
		{"cas nokey 0 0 1 1\r\nq\r\n", 1, false},
		{"set n 0 0 2\r\n10\r\n", 1, false},
		{"incr n 5\r\n", 1, false},
		{"decr n 100\r\n", 1, false},
		{"incr k 1\r\n", 1, false},
		{"incr nokey 1\r\n", 1, false},
		{"touch n 100\r\n", 1, false},
		{"touch nokey 100\r\n", 1, false},
		{"delete k2\r\n", 1, false},
		{"delete k2\r\n", 1, false},
		{"set q 0 0 1 noreply\r\na\r\n", 0, false},
		{"get q\r\n", 1, true},
		{"delete q noreply\r\n", 0, false},
		{"get q\r\n", 1, true},
		{"set big 0 0 " + strconv.Itoa(len(big)) + "\r\n" + big + "\r\n", 1, false},
		{"get big\r\n", 1, true},
		{"set " + strings.Join(keys[:1], "") + " 0 0 1\r\n1\r\n", 1, false},
		{"get " + strings.Join(keys, " ") + "\r\n", 1, true},
		// malformed input, answered as memcached answers it
		{"bogus\r\n", 1, false},
		{"set k 0 0 notanumber\r\n", 1, false},
		{"get " + strings.Repeat("k", 251) + "\r\n", 1, false},
		{"set k 0 0 2\r\nabcd\r\n", 1, false},
		{"incr n notanumber\r\n", 1, false},
		{"get k\n", 1, true},
		{"set big 0 0 2000000\r\n" + strings.Repeat("y", 2000000) + "\r\n", 1, false},
		{"get k\r\n", 1, true},
	}
}

func mcTranscript(t *testing.T, addr string, steps []mcStep) []string {
	t.Helper()
	return stepTranscript(t, addr, steps, false, func(st mcStep) proxytest.Framer {
		lim := memcache.DefaultLimits
		return func(b []byte) (int, error) { return memcache.ParseReply(b, st.retrieval, &lim) }
	})
}

// stepTranscript sends each step's request to addr and reads its replies,
// each framed by frame(step); with label, each reply is prefixed with the
// start of its request.
func stepTranscript(t *testing.T, addr string, steps []mcStep, label bool, frame func(mcStep) proxytest.Framer) []string {
	t.Helper()
	rc := proxytest.Dial(t, addr)
	var out []string
	for _, st := range steps {
		rc.Send([]byte(st.req))
		for i := 0; i < st.replies; i++ {
			b, err := rc.Read(frame(st))
			if err != nil {
				out = append(out, "<closed>")
				return out
			}
			if label {
				b = append([]byte(strings.TrimSpace(st.req[:min(len(st.req), 40)])+" -> "), b...)
			}
			out = append(out, string(b))
		}
	}
	return out
}

func TestMemcacheRepliesThroughTheProxyAreIdenticalToDirectMemcached(t *testing.T) {
	direct := proxytest.StartMemcached(t)
	behind := proxytest.StartMemcached(t)
	n := proxytest.StartNode(t, msg.Memcache, behind.Addr, nil)

	steps := memcacheCommandList()
	want := mcTranscript(t, direct.Addr, steps)
	got := mcTranscript(t, n.Addr, steps)
	require.Equal(t, len(want), len(got))
	for i := range want {
		w, g := want[i], got[i]
		if strings.HasPrefix(w, "VALUE") && strings.Contains(w, " ") {
			// gets returns CAS unique numbers, which depend on the server's history.
			w, g = stripCas(w), stripCas(g)
		}
		if w != g {
			t.Errorf("reply %d differs:\n direct: %.200q\n proxy:  %.200q", i, want[i], got[i])
		}
	}
}

// stripCas drops the fifth field of VALUE lines.
func stripCas(s string) string {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(s, "\r\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == "VALUE" {
			line = strings.Join(f[:4], " ") + "\r\n"
		}
		out.WriteString(line)
	}
	return out.String()
}

func TestMemcacheQuitClosesWithoutAReply(t *testing.T) {
	behind := proxytest.StartMemcached(t)
	n := proxytest.StartNode(t, msg.Memcache, behind.Addr, nil)
	rc := proxytest.Dial(t, n.Addr)
	rc.Send([]byte("set a 0 0 1\r\n1\r\nquit\r\n"))
	lim := memcache.DefaultLimits
	b, err := rc.Read(func(b []byte) (int, error) { return memcache.ParseReply(b, false, &lim) })
	require.NoError(t, err)
	require.Equal(t, "STORED\r\n", string(b))
	_, err = rc.Read(func(b []byte) (int, error) { return memcache.ParseReply(b, false, &lim) })
	require.Error(t, err, "quit must close the connection")
}
