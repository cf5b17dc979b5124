package proxy_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// push is the RESP2 frame of a pub/sub message or confirmation.
func push(elems ...string) string {
	out := "*" + strconv.Itoa(len(elems)) + "\r\n"
	for _, e := range elems {
		if len(e) > 0 && e[0] == ':' {
			out += e + "\r\n"
			continue
		}
		out += bulk(e)
	}
	return out
}

func readFrame(t *testing.T, c *proxytest.Conn) string {
	t.Helper()
	b, err := c.Read(proxytest.RedisReply)
	require.NoError(t, err)
	return string(b)
}

// Subscribers on nodes of two racks of two datacenters each get a message
// published on any node once: the publishing node delivers to its own and
// sends one copy to every other node, which delivers and sends it nowhere.
// PUBLISH counts the deliveries of the whole cluster, and PUBSUB's counts
// and lists are the cluster's.
func TestPublishReachesEverySubscriberOfTheClusterOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := realCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc2/r1/0", "dc2/r2/0"}, nil)
	defer c.Close()
	subs := make([]*proxytest.Conn, len(c.Nodes))
	for i := range c.Nodes {
		subs[i] = proxytest.Dial(t, c.Nodes[i].Addr)
		require.Equal(t, push("subscribe", "news", ":1"), subs[i].Do("SUBSCRIBE", "news"))
	}
	require.Equal(t, push("psubscribe", "n*", ":2"), subs[1].Do("PSUBSCRIBE", "n*"))
	require.Equal(t, push("psubscribe", "n*", ":2"), subs[3].Do("PSUBSCRIBE", "n*"))
	require.Equal(t, push("ssubscribe", "orders", ":1"), subs[2].Do("SSUBSCRIBE", "orders"))

	pub := proxytest.Dial(t, c.Nodes[3].Addr) // dc2
	require.Equal(t, ":6\r\n", pub.Do("PUBLISH", "news", "hello"), "4 channel and 2 pattern subscriptions")
	require.Equal(t, ":1\r\n", proxytest.Dial(t, c.Nodes[0].Addr).Do("SPUBLISH", "orders", "o1"))
	require.Equal(t, ":0\r\n", pub.Do("PUBLISH", "zzz", "x"))
	require.Equal(t, ":2\r\n", pub.Do("PUBLISH", "nx", "p"), "the pattern subscriptions of both datacenters")
	require.Equal(t, ":6\r\n", pub.Do("PUBLISH", "news", "end"))
	for i, s := range subs {
		want := []string{push("message", "news", "hello")}
		if i == 1 || i == 3 {
			want = append(want, push("pmessage", "n*", "news", "hello"))
		}
		if i == 2 {
			want = append(want, push("smessage", "orders", "o1"))
		}
		if i == 1 || i == 3 {
			want = append(want, push("pmessage", "n*", "nx", "p"))
		}
		// "end" follows at once: nothing was delivered twice
		want = append(want, push("message", "news", "end"))
		if i == 1 || i == 3 {
			want = append(want, push("pmessage", "n*", "news", "end"))
		}
		var got []string
		for range want {
			got = append(got, readFrame(t, s))
		}
		require.Equal(t, want, got, "subscriber on node %d (%s/%s)", i, c.Nodes[i].DC, c.Nodes[i].Rack)
	}

	q := proxytest.Dial(t, c.Nodes[2].Addr)
	require.Equal(t, "*4\r\n$4\r\nnews\r\n:4\r\n$4\r\nnone\r\n:0\r\n", q.Do("PUBSUB", "NUMSUB", "news", "none"))
	require.Equal(t, ":1\r\n", q.Do("PUBSUB", "NUMPAT"), "one pattern, subscribed on two nodes")
	require.Equal(t, "*1\r\n$4\r\nnews\r\n", q.Do("PUBSUB", "CHANNELS"))
	require.Equal(t, "*0\r\n", q.Do("PUBSUB", "CHANNELS", "x*"))
	require.Equal(t, "*1\r\n$6\r\norders\r\n", q.Do("PUBSUB", "SHARDCHANNELS"))
	require.Equal(t, "*2\r\n$6\r\norders\r\n:1\r\n", q.Do("PUBSUB", "SHARDNUMSUB", "orders"))

	// unsubscribing on one node shows in the others' counts
	require.Equal(t, push("unsubscribe", "news", ":1"), subs[3].Do("UNSUBSCRIBE", "news"))
	require.Equal(t, push("punsubscribe", "n*", ":0"), subs[3].Do("PUNSUBSCRIBE"))
	require.Equal(t, "*2\r\n$4\r\nnews\r\n:3\r\n", q.Do("PUBSUB", "NUMSUB", "news"))
	require.Equal(t, ":4\r\n", pub.Do("PUBLISH", "news", "again"))
	require.Equal(t, push("message", "news", "again"), readFrame(t, subs[0]))

	// a subscriber that leaves is forgotten
	subs[0].Close()
	proxytest.Eventually(t, 10*time.Second, func() bool {
		return q.Do("PUBSUB", "NUMSUB", "news") == "*2\r\n$4\r\nnews\r\n:2\r\n"
	}, "node 0 forgets its closed subscriber")
	for _, s := range subs[1:] {
		s.Close()
	}
	pub.Close()
	q.Close()
}

// A subscriber that does not read is disconnected once its buffer passes
// the hard limit (or stays above the soft limit too long), and counted;
// the publisher and a subscriber that reads are never held up by it.
func TestSlowSubscriberIsDisconnectedWithoutBlockingThePublisher(t *testing.T) {
	tests := map[string]struct {
		limits PubSubLimits
		count  func(LimitStats) uint64
	}{
		"over the hard limit": {PubSubLimits{Hard: 256 << 10, Soft: -1}, func(l LimitStats) uint64 { return l.PubSubHard }},
		"above the soft limit for its duration": {PubSubLimits{Hard: -1, Soft: 128 << 10, SoftFor: time.Millisecond},
			func(l LimitStats) uint64 { return l.PubSubSoft }},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			rd := proxytest.StartRedis(t)
			n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) { o.PubSubLimits = tt.limits })
			defer n.Stop()

			nc, err := net.Dial("tcp", n.Addr)
			require.NoError(t, err)
			defer nc.Close()
			_ = nc.(*net.TCPConn).SetReadBuffer(4 << 10)
			slow := proxytest.NewConn(t, nc)
			require.Equal(t, push("subscribe", "feed", ":1"), slow.Do("SUBSCRIBE", "feed"))
			// from here the slow subscriber reads nothing

			fast := proxytest.Dial(t, n.Addr)
			require.Equal(t, push("subscribe", "feed", ":1"), fast.Do("SUBSCRIBE", "feed"))
			payload := strings.Repeat("x", 32<<10)
			// the reading subscriber confirms each message, and the next is
			// published only then: its own buffer never holds more than one,
			// so only the slow subscriber can reach a limit
			got := make(chan error, 1)
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					b, err := fast.Read(proxytest.RedisReply)
					switch {
					case err != nil:
						got <- err
						return
					case strings.HasSuffix(string(b), "$4\r\ndone\r\n"):
						return
					case !strings.HasSuffix(string(b), payload+"\r\n"):
						got <- errors.New("unexpected frame " + string(b[:min(len(b), 40)]))
						return
					}
					got <- nil
				}
			})

			// publish until the node closes the slow subscriber: every
			// PUBLISH is answered meanwhile
			pub := proxytest.Dial(t, n.Addr)
			published := 0
			for tt.count(n.Server.Stats().Limits) == 0 {
				require.Less(t, published, 20000, "the slow subscriber is still connected")
				reply := pub.Do("PUBLISH", "feed", payload)
				require.Contains(t, []string{":2\r\n", ":1\r\n"}, reply, "publish %d", published)
				published++
				require.NoError(t, <-got, "the reading subscriber's message %d", published)
			}
			pub.Do("PUBLISH", "feed", "done")
			wg.Wait()
			require.Equal(t, uint64(1), tt.count(n.Server.Stats().Limits), "the slow subscriber is counted once")
			// the slow subscriber finds its connection closed after what
			// was already on its way
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 64<<10)
			for {
				if _, err := nc.Read(buf); err != nil {
					var ne net.Error
					require.False(t, errors.As(err, &ne) && ne.Timeout(), "the connection is closed, not idle: %v", err)
					break
				}
			}
			proxytest.Eventually(t, 10*time.Second, func() bool {
				return pub.Do("PUBSUB", "NUMSUB", "feed") == "*2\r\n$4\r\nfeed\r\n:1\r\n"
			}, "the slow subscriber's subscription is gone")
			pub.Close()
			fast.Close()
			n.Stop()
		})
	}
}

// On the peer port, a pub/sub frame is delivered to the node's own
// subscribers and answered from its registry; a pub/sub command in any
// other frame, or another command in a pub/sub frame, is refused and the
// link goes on.
func TestPeerPubSubFrames(t *testing.T) {
	c := realCluster(t, []string{"dc1/r1/0", "dc1/r2/0"}, nil)
	sub := proxytest.Dial(t, c.Nodes[1].Addr)
	require.Equal(t, push("subscribe", "ch", ":1"), sub.Do("SUBSCRIBE", "ch"))
	require.Equal(t, push("psubscribe", "c*", ":2"), sub.Do("PSUBSCRIBE", "c*"))

	peer := proxytest.Dial(t, c.Nodes[1].Server.PeerAddr().String())
	hdr := func(id uint64) string {
		return string(dnode.AppendHeader(nil, dnode.Header{ID: id, Type: dnode.TypeRes, Version: 1, SameDC: true}))
	}
	for _, tc := range []struct {
		frame []byte
		want  string
	}{
		{peerFrame(1, dnode.TypeReq, proxytest.Cmd("PUBLISH", "ch", "m")), "-ERR Dynomite: pub/sub commands travel between nodes as pub/sub frames only\r\n"},
		{peerFrame(2, dnode.TypeReqForward, proxytest.Cmd("SUBSCRIBE", "ch")), "-ERR Dynomite: pub/sub commands travel between nodes as pub/sub frames only\r\n"},
		{peerFrame(3, dnode.TypePubSub, proxytest.Cmd("SET", "k", "v")), "-ERR Dynomite: a pub/sub frame must carry PUBLISH, SPUBLISH or PUBSUB\r\n"},
		{peerFrame(4, dnode.TypePubSub, proxytest.Cmd("SUBSCRIBE", "ch")), "-ERR Dynomite: a pub/sub frame must carry PUBLISH, SPUBLISH or PUBSUB\r\n"},
		{peerFrame(5, dnode.TypePubSub, proxytest.Cmd("PUBLISH", "ch", "from-peer")), ":2\r\n"},
		{peerFrame(6, dnode.TypePubSub, proxytest.Cmd("PUBSUB", "NUMPAT")), "*1\r\n$2\r\nc*\r\n"},
		{peerFrame(7, dnode.TypePubSub, proxytest.Cmd("PUBSUB", "NUMSUB", "ch")), "*2\r\n$2\r\nch\r\n:1\r\n"},
	} {
		peer.Send(tc.frame)
		b, err := peer.Read(peerReply)
		require.NoError(t, err)
		var h dnode.Header
		_, err = dnode.ParseHeader(b, &h, nil)
		require.NoError(t, err)
		require.Equal(t, hdr(h.ID)+tc.want, string(b), "frame %q", tc.frame)
	}
	// the peer's publish reached the subscriber once, and only it
	require.Equal(t, push("message", "ch", "from-peer"), readFrame(t, sub))
	require.Equal(t, push("pmessage", "c*", "ch", "from-peer"), readFrame(t, sub))
	require.Equal(t, ":2\r\n", proxytest.Dial(t, c.Nodes[0].Addr).Do("PUBLISH", "ch", "next"))
	require.Equal(t, push("message", "ch", "next"), readFrame(t, sub))
}

// A node that is down counts 0 and does not hold the publish up beyond the
// peer timeout; the subscribers of the nodes that are up get the message.
func TestPublishWithANodeDownCountsTheOthers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := realCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc2/r1/0"}, nil)
	defer c.Close()
	sub := proxytest.Dial(t, c.Nodes[1].Addr)
	require.Equal(t, push("subscribe", "ch", ":1"), sub.Do("SUBSCRIBE", "ch"))
	down := proxytest.Dial(t, c.Nodes[2].Addr)
	require.Equal(t, push("subscribe", "ch", ":1"), down.Do("SUBSCRIBE", "ch"))
	pub := proxytest.Dial(t, c.Nodes[0].Addr)
	require.Equal(t, ":2\r\n", pub.Do("PUBLISH", "ch", "both"))
	require.Equal(t, push("message", "ch", "both"), readFrame(t, sub))

	c.Stop(2)
	require.Equal(t, ":1\r\n", pub.Do("PUBLISH", "ch", "one"), "the stopped node counts 0")
	require.Equal(t, push("message", "ch", "one"), readFrame(t, sub))
	require.Equal(t, "*2\r\n$2\r\nch\r\n:1\r\n", pub.Do("PUBSUB", "NUMSUB", "ch"))
	sub.Close()
	down.Close()
	pub.Close()
}

// The coordinator's reader of the nodes' answers (integers, arrays of bulk
// strings and integers) never panics, and what it accepts is exactly what
// it read: encoding it again gives the input back.
func FuzzPubSubAnswer(f *testing.F) {
	for _, s := range []string{":0\r\n", ":-3\r\n", "*0\r\n", "*2\r\n$2\r\nch\r\n:4\r\n", "*1\r\n$0\r\n\r\n", "*2\r\n$1\r\na\r\n",
		"-ERR x\r\n", "*1\r\n$5\r\nab\r\n", "*-1\r\n", ":\r\n", "*1\r\n$-1\r\n", "*99999999999\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, ok := FlatReplyRoundTrip(b)
		if ok {
			require.Equal(t, string(b), string(out))
		}
	})
}

// A client's publishes reach a subscriber in another datacenter in the
// order it sent them, pipelined or not: its copies to a peer share one
// connection.
func TestPublishesKeepTheirOrderAcrossDatacenters(t *testing.T) {
	c := realCluster(t, []string{"dc1/r1/0", "dc2/r1/0"}, func(o *Options) { o.RemotePeerConns = 4 })
	sub := proxytest.Dial(t, c.Nodes[1].Addr)
	require.Equal(t, push("subscribe", "seq", ":1"), sub.Do("SUBSCRIBE", "seq"))
	pub := proxytest.Dial(t, c.Nodes[0].Addr)
	// The cluster is up when every peer pool has a connection up; this
	// client's copies go on one of the four, which may still be dialling:
	// publish until one arrives, then skip what the warm-up delivered.
	proxytest.Eventually(t, 10*time.Second, func() bool { return pub.Do("PUBLISH", "seq", "warm") == ":1\r\n" },
		"a publish through node 0 never reached the subscriber on node 1")
	require.Equal(t, ":1\r\n", pub.Do("PUBLISH", "seq", "ready"))
	for f := readFrame(t, sub); f != push("message", "seq", "ready"); f = readFrame(t, sub) {
		require.Equal(t, push("message", "seq", "warm"), f)
	}
	var pipeline []byte
	const n = 200
	for i := range n {
		pipeline = append(pipeline, proxytest.Cmd("PUBLISH", "seq", strconv.Itoa(i))...)
	}
	pub.Send(pipeline)
	for i := range n {
		b, err := pub.Read(proxytest.RedisReply)
		require.NoError(t, err)
		require.Equal(t, ":1\r\n", string(b), "publish %d", i)
	}
	for i := range n {
		require.Equal(t, push("message", "seq", strconv.Itoa(i)), readFrame(t, sub))
	}
}
