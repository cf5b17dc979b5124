package proxy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// metaCommandList: meta commands with their flags, quiet pipelines ended
// by mn, base64 keys and malformed input, with the number of replies
// memcached sends to each chunk.
func metaCommandList() []mcStep {
	long := strings.Repeat("k", 251)
	return []mcStep{
		{"mn\r\n", 1, false},
		{"mg foo v\r\n", 1, false},
		{"ms foo 3\r\nbar\r\n", 1, false},
		{"mg foo v f t c s k O123\r\n", 1, false},
		{"mg foo\r\n", 1, false},
		{"mg  foo   v\r\n", 1, false},
		{"ms foo 3 q\r\nbaz\r\nmn\r\n", 1, false},
		{"mg foo v\r\n", 1, false},
		{"md foo q\r\nmd foo\r\nmn\r\n", 2, false},
		{"mg foo q v\r\nmg foo q k\r\nmn\r\n", 1, false},
		{"ms n 1 T0 F5\r\n5\r\n", 1, false},
		{"mg n q v f k\r\nmg nope q v\r\nmn\r\n", 2, false},
		{"ma n\r\n", 1, false},
		{"ma n v\r\n", 1, false},
		{"ma n q v\r\nma n q\r\nma nope q\r\nmn\r\n", 2, false},
		{"ma n MD D2 v\r\n", 1, false},
		{"ma cnt N0 J5 v\r\n", 1, false},
		{"ma cnt MI D10 v t\r\n", 1, false},
		{"me nokey\r\n", 1, false},
		{"ms Zm9v 2 b\r\nhi\r\n", 1, false},
		{"get foo\r\n", 1, true},
		{"mg Zm9v b v k\r\n", 1, false},
		{"ms k 2 I\r\nab\r\n", 1, false},
		{"md foo I T30\r\n", 1, false},
		{"mg foo v c\r\n", 1, false},
		{"ms x 2 MA\r\nhi\r\n", 1, false},
		{"ms k 2 MA\r\nzz\r\n", 1, false},
		{"mg k v\r\n", 1, false},
		{"ms k 2 C1\r\nzz\r\n", 1, false},
		{"ms k 2 MP q\r\n00\r\nmn\r\n", 1, false},
		{"mg k v s\r\n", 1, false},
		{"mg viv v N30 t\r\n", 1, false},
		{"mg viv v\r\n", 1, false},
		// malformed, answered as memcached answers
		{"mg\r\n", 1, false},
		{"ms\r\n", 1, false},
		{"me\r\n", 1, false},
		{"mg foo zz\r\n", 1, false},
		{"mg n q q\r\n", 1, false},
		{"mg n q zz\r\n", 1, false},
		{"ms foo\r\n", 1, false},
		{"ms foo abc\r\n", 1, false},
		{"ms foo -1\r\nmn\r\n", 2, false},
		{"ms foo 2 zz\r\nhi\r\nmn\r\n", 2, false},
		{"ms foo 2 T1 T2\r\nhi\r\nmn\r\n", 2, false},
		{"ms n 1 q q\r\n1\r\nmn\r\n", 2, false},
		{"ms foo 2\r\nhiX\r\nmn\r\n", 3, false},
		{"ms " + long + " 2\r\nhi\r\nmn\r\n", 3, false},
		{"mg " + long + " v\r\n", 1, false},
		{"me " + long + "\r\n", 1, false},
		{"mg !!!! b\r\n", 1, false},
		{"ms !!!! 2 b\r\nhi\r\nmn\r\n", 2, false},
		{"ms foo 2 MX\r\nhi\r\nmn\r\n", 2, false},
		{"ms foo 2 S2\r\nhi\r\nmn\r\n", 2, false},
		{"mg foo v O12345678901234567890123456789012345\r\n", 1, false},
		{"MG n\r\n", 1, false},
		{"mgx n\r\n", 1, false},
		{"mn extra\r\n", 1, false},
		{"mg foo v\r\n", 1, false},
	}
}

// metaTranscript is mcTranscript for meta replies (VA blocks, one-line
// codes) and, for retrieval steps, classic ones.
func metaTranscript(t *testing.T, addr string, steps []mcStep) []string {
	t.Helper()
	return stepTranscript(t, addr, steps, true, func(st mcStep) proxytest.Framer {
		lim := memcache.DefaultLimits
		return func(b []byte) (int, error) {
			if st.retrieval {
				return memcache.ParseReply(b, true, &lim)
			}
			return memcache.ParseMetaReply(b, &lim)
		}
	})
}

// Every meta command and flag the proxy passes on gets memcached's reply,
// byte for byte; quiet replies are hidden as memcached hides them and mn
// comes after them.
func TestMemcacheMetaCommandsMatchMemcached(t *testing.T) {
	direct := proxytest.StartMemcached(t)
	behind := proxytest.StartMemcached(t)
	n := proxytest.StartNode(t, msg.Memcache, behind.Addr, nil)
	steps := metaCommandList()
	want := metaTranscript(t, direct.Addr, steps)
	got := metaTranscript(t, n.Addr, steps)
	total := 0
	for _, st := range steps {
		total += st.replies
	}
	require.Len(t, want, total, "memcached answered every step")
	require.Contains(t, want, "mg foo v f t c s k O123 -> VA 3 f0 t-1 c1 s3 kfoo O123\r\nbar\r\n")
	require.Equal(t, want, got)

	// me's numbers are the replica's: its shape is memcached's
	rc := proxytest.Dial(t, n.Addr)
	rc.Send([]byte("me n\r\n"))
	lim := memcache.DefaultLimits
	b, err := rc.Read(func(b []byte) (int, error) { return memcache.ParseMetaReply(b, &lim) })
	require.NoError(t, err)
	require.Regexp(t, `^ME n exp=-1 la=\d+ cas=\d+ fetch=(yes|no) cls=\d+ size=\d+\r\n$`, string(b))
}

// mcDo sends req to addr and reads one meta reply.
func mcDo(t *testing.T, c *proxytest.Conn, req string) string {
	t.Helper()
	c.Send([]byte(req))
	lim := memcache.DefaultLimits
	b, err := c.Read(func(b []byte) (int, error) { return memcache.ParseMetaReply(b, &lim) })
	require.NoError(t, err, "reply to %q", req)
	return string(b)
}

// ms, md and ma are writes: they reach every rack of every datacenter; mg
// reads; a base64 key is routed (and stored) as its decoded self; quiet
// requests are answered only where memcached would answer them.
func TestMemcacheMetaWritesReplicateToEveryRack(t *testing.T) {
	c := proxytest.StartCluster(t, proxytest.Config{Proto: msg.Memcache, Datastore: proxytest.RealDatastore,
		Nodes: proxytest.Placements(t, "dc1/r1/0", "dc1/r2/0", "dc2/r1/0")})
	cl := proxytest.Dial(t, c.Nodes[0].Addr)
	direct := func(i int, req string) string {
		d := proxytest.Dial(t, c.Nodes[i].DatastoreAddr)
		defer d.Close()
		return mcDo(t, d, req)
	}
	everywhere := func(req, want string) {
		t.Helper()
		for i := range c.Nodes {
			proxytest.Eventually(t, 10*time.Second, func() bool { return direct(i, req) == want },
				"node %d's memcached answers %q to %q", i, want, req)
		}
	}
	require.Equal(t, "HD\r\n", mcDo(t, cl, "ms mk 3 T0 F7\r\nabc\r\n"))
	everywhere("mg mk v f\r\n", "VA 3 f7\r\nabc\r\n")
	require.Equal(t, "VA 3 f7\r\nabc\r\n", mcDo(t, proxytest.Dial(t, c.Nodes[2].Addr), "mg mk v f\r\n"))

	require.Equal(t, "HD\r\n", mcDo(t, cl, "ms cnt 2\r\n10\r\n"))
	require.Equal(t, "VA 2\r\n15\r\n", mcDo(t, cl, "ma cnt D5 v\r\n"))
	everywhere("mg cnt v\r\n", "VA 2\r\n15\r\n")

	require.Equal(t, "HD\r\n", mcDo(t, cl, "ms Zm9v 2 b\r\nhi\r\n"))
	everywhere("mg foo v\r\n", "VA 2\r\nhi\r\n")

	// quiet: the successes vanish, the miss and mn do not
	cl.Send([]byte("md mk q\r\nmd mk q\r\nms q1 1 q\r\nx\r\nmn\r\n"))
	lim := memcache.DefaultLimits
	var got []string
	for range 2 {
		b, err := cl.Read(func(b []byte) (int, error) { return memcache.ParseMetaReply(b, &lim) })
		require.NoError(t, err)
		got = append(got, string(b))
	}
	require.Equal(t, []string{"NF\r\n", "MN\r\n"}, got)
	everywhere("mg mk v\r\n", "EN\r\n")
	everywhere("mg q1 v\r\n", "VA 1\r\nx\r\n")
}

// A noreply write replicated to other racks leaves every connection in
// step: no replica answers it, and no copy waits for an answer (a copy
// that did took the next request's reply for its own).
func TestMemcacheNoreplyWritesKeepConnectionsInStep(t *testing.T) {
	c := proxytest.StartCluster(t, proxytest.Config{Proto: msg.Memcache, Datastore: proxytest.RealDatastore,
		Nodes: proxytest.Placements(t, "dc1/r1/0", "dc1/r2/0", "dc1/r3/0")})
	cl := proxytest.Dial(t, c.Nodes[0].Addr)
	lim := memcache.DefaultLimits
	for i := range 20 {
		v := strings.Repeat("v", i+1)
		cl.Send([]byte("set nr 0 0 " + strconv.Itoa(len(v)) + " noreply\r\n" + v + "\r\nget nr\r\n"))
		b, err := cl.Read(func(b []byte) (int, error) { return memcache.ParseReply(b, true, &lim) })
		require.NoError(t, err)
		require.Equal(t, "VALUE nr 0 "+strconv.Itoa(len(v))+"\r\n"+v+"\r\nEND\r\n", string(b), "round %d", i)
	}
	// a noreply write's copies are answered by nobody: the other racks
	// get the last one when it lands, not before the client's next reply
	want := "VA 20\r\n" + strings.Repeat("v", 20) + "\r\n"
	for i := range c.Nodes {
		d := proxytest.Dial(t, c.Nodes[i].DatastoreAddr)
		proxytest.Eventually(t, 5*time.Second, func() bool { return mcDo(t, d, "mg nr v\r\n") == want },
			"rack %d never got the last noreply write", i+1)
		d.Close()
	}
}
