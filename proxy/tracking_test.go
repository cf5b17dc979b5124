package proxy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

func invalidation(key string) string {
	return ">2\r\n$10\r\ninvalidate\r\n*1\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n"
}

const flushInvalidation = ">2\r\n$10\r\ninvalidate\r\n_\r\n"

// trackingSession dials node i, switches to RESP3 and turns tracking on
// with opts.
func trackingSession(t *testing.T, tc *proxytest.Cluster, i int, opts ...string) *proxytest.Conn {
	t.Helper()
	c := tc.Client(i, "")
	require.True(t, strings.HasPrefix(c.Do("HELLO", "3"), "%7\r\n"))
	require.Equal(t, "+OK\r\n", c.Do(append([]string{"CLIENT", "TRACKING", "ON"}, opts...)...))
	return c
}

// next reads the session's next frame (a reply or a push).
func next(t *testing.T, c *proxytest.Conn) string {
	t.Helper()
	b, err := c.Read(proxytest.RedisReply)
	require.NoError(t, err)
	return string(b)
}

// landed waits until key has value in node i's datastore.
func landed(t *testing.T, tc *proxytest.Cluster, i int, key, value string) {
	t.Helper()
	want := "$" + strconv.Itoa(len(value)) + "\r\n" + value + "\r\n"
	proxytest.Eventually(t, 10*time.Second, func() bool { return tc.Direct(i, "GET", key) == want }, "%s=%s on node %d", key, value, i)
}

func TestClientTrackingThreeRacks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := realCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r3/0"}, nil)
	defer tc.Close()
	writer := tc.Client(1, "")
	set := func(key, value string) {
		t.Helper()
		require.Equal(t, "+OK\r\n", writer.Do("SET", key, value))
		landed(t, tc, 0, key, value)
	}

	t.Run("a write through another rack invalidates a key read through node 0", func(t *testing.T) {
		s := trackingSession(t, tc, 0)
		defer s.Close()
		set("k1", "v1")
		require.Equal(t, "$2\r\nv1\r\n", s.Do("GET", "k1"))
		require.Equal(t, "+OK\r\n", writer.Do("SET", "k1", "v2"))
		require.Equal(t, invalidation("k1"), next(t, s))
		// untracked after its invalidation: k1's next change is not
		// sent; k2's, later, is the next frame
		require.Equal(t, "_\r\n", s.Do("GET", "k2"))
		set("k1", "v3")
		require.Equal(t, "+OK\r\n", writer.Do("SET", "k2", "w"))
		require.Equal(t, invalidation("k2"), next(t, s))
		require.Equal(t, "$2\r\nv3\r\n", s.Do("GET", "k1"))
		require.Equal(t, ":1\r\n", tc.Client(2, "").Do("DEL", "k1"))
		require.Equal(t, invalidation("k1"), next(t, s))
	})

	t.Run("OPTIN tracks only reads after CLIENT CACHING YES", func(t *testing.T) {
		s := trackingSession(t, tc, 0, "OPTIN")
		defer s.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "oa"))
		require.Equal(t, "+OK\r\n", s.Do("CLIENT", "CACHING", "YES"))
		require.Equal(t, "_\r\n", s.Do("GET", "ob"))
		require.Equal(t, "_\r\n", s.Do("GET", "oc")) // the flag lasted one command
		set("oa", "1")
		set("oc", "1")
		require.Equal(t, "+OK\r\n", writer.Do("SET", "ob", "1"))
		require.Equal(t, invalidation("ob"), next(t, s))
	})

	t.Run("OPTIN: a cached read in a transaction (rueidis's DoCache) is tracked", func(t *testing.T) {
		s := trackingSession(t, tc, 0, "OPTIN")
		defer s.Close()
		require.Equal(t, "+OK\r\n", s.Do("CLIENT", "CACHING", "YES"))
		require.Equal(t, "+OK\r\n", s.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", s.Do("PTTL", "tx1"))
		require.Equal(t, "+QUEUED\r\n", s.Do("GET", "tx1"))
		require.Equal(t, "*2\r\n:-2\r\n_\r\n", s.Do("EXEC"))
		require.Equal(t, "+OK\r\n", writer.Do("SET", "tx1", "1"))
		require.Equal(t, invalidation("tx1"), next(t, s))
	})

	t.Run("at DC_QUORUM a tracked read is the local datastore's, whose changes the node hears", func(t *testing.T) {
		s := tc.Client(0, "DC_QUORUM")
		defer s.Close()
		s.Do("HELLO", "3")
		// the local copy is ahead of the other racks': a quorum would
		// answer old, and no later change here would invalidate it
		for i := range tc.Nodes {
			require.Equal(t, "+OK\r\n", tc.Direct(i, "SET", "q1", "old"))
		}
		require.Equal(t, "+OK\r\n", tc.Direct(0, "SET", "q1", "new"))
		require.Equal(t, "$3\r\nold\r\n", s.Do("GET", "q1"), "untracked, the read is a quorum's")
		require.Equal(t, "+OK\r\n", s.Do("CLIENT", "TRACKING", "ON"))
		require.Equal(t, "$3\r\nnew\r\n", s.Do("GET", "q1"))
		require.Equal(t, "+OK\r\n", s.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", s.Do("GET", "q1"))
		require.Equal(t, "*1\r\n$3\r\nnew\r\n", s.Do("EXEC"), "a read-only transaction too")
		// a transaction that writes goes at the write consistency: its
		// reads are invalidated at once, after its reply
		require.Equal(t, "+OK\r\n", s.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", s.Do("GET", "q1"))
		require.Equal(t, "+QUEUED\r\n", s.Do("SET", "q1x", "1"))
		require.Contains(t, []string{"*2\r\n$3\r\nnew\r\n+OK\r\n", "*2\r\n$3\r\nold\r\n+OK\r\n"}, s.Do("EXEC"))
		require.Equal(t, invalidation("q1"), next(t, s))
	})

	t.Run("OPTOUT tracks every read but those after CLIENT CACHING NO", func(t *testing.T) {
		s := trackingSession(t, tc, 0, "OPTOUT")
		defer s.Close()
		require.Equal(t, "+OK\r\n", s.Do("CLIENT", "CACHING", "NO"))
		require.Equal(t, "_\r\n", s.Do("GET", "outa"))
		require.Equal(t, "_\r\n", s.Do("GET", "outb"))
		set("outa", "1")
		require.Equal(t, "+OK\r\n", writer.Do("SET", "outb", "1"))
		require.Equal(t, invalidation("outb"), next(t, s))
	})

	t.Run("FLUSHALL on the datastore invalidates everything", func(t *testing.T) {
		s := trackingSession(t, tc, 0)
		defer s.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "fl1"))
		require.Equal(t, "+OK\r\n", tc.Direct(0, "FLUSHALL"))
		require.Equal(t, flushInvalidation, next(t, s))
	})

	// Redis keeps tracking on and sends a RESP2 connection nothing
	// (docs/compatibility.md)
	t.Run("HELLO 2 ends tracking: a RESP2 connection cannot take pushes", func(t *testing.T) {
		s := trackingSession(t, tc, 0)
		defer s.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "h2"))
		require.True(t, strings.HasPrefix(s.Do("HELLO", "2"), "*14\r\n"))
		require.Equal(t, ":-1\r\n", s.Do("CLIENT", "GETREDIR"))
	})

	t.Run("BCAST with a PREFIX gets the changes of matching keys without reading them", func(t *testing.T) {
		s := trackingSession(t, tc, 0, "BCAST", "PREFIX", "user:")
		defer s.Close()
		set("other:1", "x")
		require.Equal(t, "+OK\r\n", writer.Do("SET", "user:1", "y"))
		require.Equal(t, invalidation("user:1"), next(t, s))
		require.Equal(t, "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*1\r\n$5\r\nuser:\r\n",
			s.Do("CLIENT", "TRACKINGINFO"))
	})

	t.Run("tracking off stops the pushes", func(t *testing.T) {
		s := trackingSession(t, tc, 0)
		defer s.Close()
		barrier := trackingSession(t, tc, 0, "BCAST", "PREFIX", "barrier")
		defer barrier.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "off1"))
		require.Equal(t, "+OK\r\n", s.Do("CLIENT", "TRACKING", "OFF"))
		require.Equal(t, "+OK\r\n", writer.Do("SET", "off1", "1"))
		require.Equal(t, "+OK\r\n", writer.Do("SET", "barrier1", "1"))
		require.Equal(t, invalidation("barrier1"), next(t, barrier))
		require.Equal(t, "+PONG\r\n", s.Do("PING"), "no invalidation after CLIENT TRACKING OFF")
		require.Equal(t, ":-1\r\n", s.Do("CLIENT", "GETREDIR"))
	})

	t.Run("a full tracking table evicts a key and sends its invalidation", func(t *testing.T) {
		SetTrackingMaxKeys(tc.Nodes[0].Server, 2)
		defer SetTrackingMaxKeys(tc.Nodes[0].Server, 0)
		s := trackingSession(t, tc, 0)
		defer s.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "full1"))
		require.Equal(t, "_\r\n", s.Do("GET", "full2"))
		require.Equal(t, "_\r\n", s.Do("GET", "full3"))
		got := next(t, s)
		require.Contains(t, []string{invalidation("full1"), invalidation("full2")}, got)
	})

	t.Run("losing the datastore tracking connection invalidates everything", func(t *testing.T) {
		s := trackingSession(t, tc, 0)
		defer s.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "lost1"))
		killTrackingConn(t, tc, 0)
		require.Equal(t, flushInvalidation, next(t, s))
		// and again once reconnected; then tracking works as before
		require.Equal(t, flushInvalidation, next(t, s))
		proxytest.Eventually(t, 10*time.Second, func() bool { return trackingConnID(t, tc, 0) != "" }, "the tracking connection is back")
		require.Equal(t, "_\r\n", s.Do("GET", "lost2"))
		require.Equal(t, "+OK\r\n", writer.Do("SET", "lost2", "1"))
		require.Equal(t, invalidation("lost2"), next(t, s))
	})

	t.Run("a change of the rack's nodes invalidates everything", func(t *testing.T) {
		s := trackingSession(t, tc, 0)
		defer s.Close()
		require.Equal(t, "_\r\n", s.Do("GET", "ring1"))
		srv := tc.Nodes[0].Server
		// a node joins rack r1 (nothing listens at its address: no
		// request is sent to it here) and leaves again
		joined := append(tc.PeersOf(0), Peer{Name: "joiner", Addr: proxytest.FreeAddr(t), DC: tc.Nodes[0].DC, Rack: tc.Nodes[0].Rack, Tokens: []ring.Token{1 << 31}})
		require.NoError(t, srv.UpdatePeers(joined))
		require.Equal(t, flushInvalidation, next(t, s))
		require.NoError(t, srv.UpdatePeers(tc.PeersOf(0)))
		require.Equal(t, flushInvalidation, next(t, s))
		// a change elsewhere (another rack's peer list, unchanged here)
		// does not
		require.NoError(t, srv.UpdatePeers(tc.PeersOf(0)))
		require.Equal(t, "+PONG\r\n", s.Do("PING"))
	})

	t.Run("the datastore tracking connection closes with the last tracking session", func(t *testing.T) {
		proxytest.Eventually(t, 10*time.Second, func() bool { return trackingConnID(t, tc, 0) == "" }, "no tracking connection left")
	})
}

// In a rack of two nodes, a key the other node owns changes in the other
// node's datastore: its read is invalidated at once; a key this node owns
// is tracked as with one node per rack.
func TestClientTrackingTwoNodeRack(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Grid(1, 1, 2), Proto: msg.Redis, Datastore: proxytest.RealDatastore})
	defer tc.Close()
	local, remote := tc.KeyOwnedBy(0, 0, "local"), tc.KeyOwnedBy(0, 1, "remote")
	s := trackingSession(t, tc, 0)
	defer s.Close()
	writer := tc.Client(1, "")
	require.Equal(t, "_\r\n", s.Do("GET", remote))
	require.Equal(t, invalidation(remote), next(t, s), "the other node's key is not kept")
	require.Equal(t, "_\r\n", s.Do("GET", local))
	require.Equal(t, "+OK\r\n", writer.Do("SET", remote, "1"))
	require.Equal(t, "+OK\r\n", writer.Do("SET", local, "1"))
	require.Equal(t, invalidation(local), next(t, s))
}

// A datastore that stops answering (its host gone, a half-open
// connection) is noticed by the idle tracking connection's PING: every
// cache is invalidated.
func TestClientTrackingSilentDatastore(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := realCluster(t, []string{"dc1/r1/0"}, func(o *Options) { o.Timeout = time.Second })
	defer tc.Close()
	SetTrackingHeartbeat(tc.Nodes[0].Server, time.Second)
	s := trackingSession(t, tc, 0)
	defer s.Close()
	require.Equal(t, "_\r\n", s.Do("GET", "silent1"))
	// the connection works (and has been pinged while idle)
	require.Equal(t, "+OK\r\n", tc.Direct(0, "SET", "silent1", "1"))
	require.Equal(t, invalidation("silent1"), next(t, s))
	require.Equal(t, "+OK\r\n", tc.Direct(0, "CLIENT", "PAUSE", "3000", "ALL"))
	require.Equal(t, flushInvalidation, next(t, s))
}

// trackingConnID is the id of node i's datastore tracking connection, ""
// when there is none.
func trackingConnID(t *testing.T, tc *proxytest.Cluster, i int) string {
	list := tc.Direct(i, "CLIENT", "LIST")
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name=dynomite-tracking ") {
			f := strings.Fields(line)
			for _, kv := range f {
				if id, ok := strings.CutPrefix(kv, "id="); ok {
					return id
				}
			}
		}
	}
	return ""
}

func killTrackingConn(t *testing.T, tc *proxytest.Cluster, i int) {
	t.Helper()
	id := trackingConnID(t, tc, i)
	require.NotEmpty(t, id, "node %d has a datastore tracking connection", i)
	require.Equal(t, ":1\r\n", tc.Direct(i, "CLIENT", "KILL", "ID", id))
}

func TestClientTrackingRefusals(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("a rack of two nodes refuses BCAST, naming the rack", func(t *testing.T) {
		tc := proxytest.StartCluster(t, proxytest.Config{Nodes: proxytest.Grid(1, 1, 2), Proto: msg.Redis})
		defer tc.Close()
		c := tc.Client(0, "")
		c.Do("HELLO", "3")
		got := c.Do("CLIENT", "TRACKING", "ON", "BCAST")
		require.True(t, strings.HasPrefix(got, "-ERR Dynomite: CLIENT TRACKING BCAST needs this node to be the only node of its rack (rack r1 has 2)"), got)
		require.Equal(t, "+PONG\r\n", c.Do("PING"))
	})
	t.Run("RESP2 and REDIRECT are refused with errors naming them", func(t *testing.T) {
		behind := proxytest.StartRedis(t)
		n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
		c := proxytest.Dial(t, n.Addr)
		defer c.Close()
		require.Contains(t, c.Do("CLIENT", "TRACKING", "ON"), "needs RESP3 (HELLO 3)")
		c.Do("HELLO", "3")
		require.Contains(t, c.Do("CLIENT", "TRACKING", "ON", "REDIRECT", "7"), "CLIENT TRACKING REDIRECT is not supported")
		many := []string{"CLIENT", "TRACKING", "ON", "BCAST"}
		for i := 0; i <= 1000; i++ {
			many = append(many, "PREFIX", "p"+strconv.Itoa(i)+":")
		}
		require.Equal(t, "-ERR Dynomite: at most 1000 BCAST prefixes per client\r\n", c.Do(many...))
		require.Equal(t, "+PONG\r\n", c.Do("PING"))
	})
}

// The replies of CLIENT TRACKING, CACHING, TRACKINGINFO and GETREDIR are
// Redis 7's, errors included.
func TestClientTrackingRepliesAreRedis(t *testing.T) {
	direct := proxytest.StartRedis(t)
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
	var reqs [][]byte
	for _, line := range []string{
		"HELLO 3", "CLIENT TRACKINGINFO", "CLIENT GETREDIR", "CLIENT CACHING YES",
		"CLIENT TRACKING ON OPTIN", "CLIENT TRACKINGINFO", "CLIENT GETREDIR", "CLIENT CACHING YES", "CLIENT TRACKINGINFO",
		"CLIENT CACHING NO", "CLIENT CACHING MAYBE", "PING", "CLIENT TRACKINGINFO",
		"CLIENT TRACKING ON BCAST", "CLIENT TRACKING ON OPTOUT", "CLIENT TRACKING OFF",
		"CLIENT TRACKING ON OPTOUT", "CLIENT CACHING NO", "CLIENT TRACKINGINFO", "CLIENT CACHING YES", "CLIENT TRACKING OFF",
		"CLIENT TRACKING ON OPTIN OPTOUT", "CLIENT TRACKING ON PREFIX a", "CLIENT TRACKING ON BCAST OPTIN",
		"CLIENT TRACKING MAYBE", "CLIENT TRACKING ON FOO", "CLIENT TRACKING ON PREFIX",
		"CLIENT TRACKING ON BCAST PREFIX a PREFIX ab", "CLIENT TRACKING ON BCAST PREFIX a PREFIX b NOLOOP", "CLIENT TRACKINGINFO",
		"CLIENT TRACKING ON BCAST PREFIX ax", "CLIENT TRACKING ON BCAST PREFIX c", "CLIENT TRACKINGINFO", "CLIENT TRACKING OFF",
		"CLIENT TRACKING ON BCAST", "CLIENT TRACKINGINFO", "CLIENT TRACKING ON BCAST PREFIX x", "CLIENT TRACKING OFF",
		"CLIENT TRACKING ON", "CLIENT TRACKING ON OPTIN", "CLIENT TRACKINGINFO", "CLIENT TRACKING OFF", "CLIENT TRACKINGINFO",
		"CLIENT TRACKING", "CLIENT CACHING", "CLIENT TRACKINGINFO x", "CLIENT GETREDIR x",
		"CLIENT TRACKING ON OPTIN", "CLIENT CACHING YES", "RESET", "CLIENT TRACKINGINFO",
		"HELLO 3", "CLIENT TRACKING ON BCAST PREFIX p NOLOOP", "CLIENT TRACKINGINFO", "RESET", "CLIENT TRACKINGINFO",
	} {
		reqs = append(reqs, proxytest.Cmd(strings.Fields(line)...))
	}
	want := transcript(t, direct.Addr, reqs, proxytest.RedisReply)
	got := transcript(t, n.Addr, reqs, proxytest.RedisReply)
	require.Equal(t, len(want), len(got), "reply counts differ")
	for i := 1; i < len(want); i++ {
		if want[i] != got[i] && !strings.Contains(string(reqs[i]), "HELLO") { // version, id
			t.Errorf("reply %d to %q differs:\n direct: %q\n proxy:  %q", i, reqs[i], want[i], got[i])
		}
	}
}
