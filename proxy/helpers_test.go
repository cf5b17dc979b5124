package proxy_test

import (
	"strconv"
	"strings"
	"testing"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// The tests of this package run nodes from proxytest: in front of its fake
// datastore when their point is routing, failover or consistency, in front
// of real redis-server and memcached processes when it is fidelity to them.

// fakeCluster starts one node per "dc/rack/token" spec, each in front of a
// fake Redis; mod, when set, adjusts every node's options.
func fakeCluster(t *testing.T, specs []string, mod func(*Options)) *proxytest.Cluster {
	t.Helper()
	return startCluster(t, proxytest.FakeDatastore, specs, mod)
}

// realCluster is fakeCluster with a redis-server per node.
func realCluster(t *testing.T, specs []string, mod func(*Options)) *proxytest.Cluster {
	t.Helper()
	return startCluster(t, proxytest.RealDatastore, specs, mod)
}

func startCluster(t *testing.T, store proxytest.Datastore, specs []string, mod func(*Options)) *proxytest.Cluster {
	t.Helper()
	cfg := proxytest.Config{Nodes: proxytest.Placements(t, specs...), Datastore: store}
	if mod != nil {
		cfg.Options = func(_ int, o *Options) { mod(o) }
	}
	return proxytest.StartCluster(t, cfg)
}

// transcript sends each request and collects the replies, marking the point
// where the server closed the connection.
func transcript(t testing.TB, addr string, reqs [][]byte, parse proxytest.Framer) []string {
	t.Helper()
	rc := proxytest.Dial(t, addr)
	var out []string
	for _, req := range reqs {
		rc.Send(req)
		n := expectedReplies(req)
		for i := 0; i < n; i++ {
			b, err := rc.Read(parse)
			if err != nil {
				// logged: a count mismatch then shows what ended it
				t.Logf("transcript with %s ended after %d replies: %v", addr, len(out), err)
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

// bulk is the RESP bulk string of v, the nil bulk for "".
func bulk(v string) string {
	if v == "" {
		return "$-1\r\n"
	}
	return "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
}

// arrayOf is the RESP array of these encoded elements (an MGET reply).
func arrayOf(elems []string) string {
	return "*" + strconv.Itoa(len(elems)) + "\r\n" + strings.Join(elems, "")
}
