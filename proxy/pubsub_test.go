package proxy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// psStep sends cmd on connection conn (nil cmd: send nothing) and reads
// replies frames from it.
type psStep struct {
	conn    int
	cmd     []string
	replies int
}

// pubsubTranscript runs steps over three connections to addr and returns
// every frame read, tagged with its connection.
func pubsubTranscript(t *testing.T, addr string, steps []psStep) []string {
	t.Helper()
	return pubsubSteps(t, []*proxytest.Conn{proxytest.Dial(t, addr), proxytest.Dial(t, addr), proxytest.Dial(t, addr)}, steps)
}

// pubsubSteps runs steps over conns.
func pubsubSteps(t *testing.T, conns []*proxytest.Conn, steps []psStep) []string {
	t.Helper()
	var out []string
	for _, st := range steps {
		c := conns[st.conn]
		if st.cmd != nil {
			c.Send(proxytest.Cmd(st.cmd...))
		}
		for i := 0; i < st.replies; i++ {
			b, err := c.Read(proxytest.RedisReply)
			if err != nil {
				out = append(out, "<closed>")
				break
			}
			out = append(out, string(rune('A'+st.conn))+" "+strings.Join(st.cmd, " ")+" -> "+string(b))
		}
	}
	return out
}

// The pub/sub replies a single node gives are Redis's, byte for byte:
// confirmations and their counts, messages of the three kinds, PING and the
// refusal of other commands in subscribed mode, PUBSUB's subcommands and
// their errors. (Where Redis's order is its hash table's, one name is
// subscribed at a time.)
func TestPubSubRepliesMatchRedis(t *testing.T) {
	const sub, pub, sub2 = 0, 1, 2
	steps := []psStep{
		{sub, []string{"UNSUBSCRIBE"}, 1}, {sub, []string{"PUNSUBSCRIBE"}, 1}, {sub, []string{"SUNSUBSCRIBE"}, 1},
		{sub, []string{"SUBSCRIBE", "a", "b"}, 2}, {sub, []string{"subscribe", "a"}, 1}, {sub, []string{"PSUBSCRIBE", "p*"}, 1},
		{sub, []string{"SSUBSCRIBE", "s1"}, 1},
		{sub, []string{"GET", "x"}, 1}, {sub, []string{"PING"}, 1}, {sub, []string{"PING", "hi"}, 1}, {sub, []string{"PING", "a", "b"}, 1},
		{sub, []string{"ECHO", "x"}, 1}, {sub, []string{"PUBSUB", "CHANNELS"}, 1}, {sub, []string{"PUBLISH", "a", "m"}, 1},
		{sub, []string{"SUBSCRIBE"}, 1}, {sub, []string{"CONFIG", "GET", "maxmemory"}, 1},
		{sub2, []string{"PSUBSCRIBE", "a"}, 1}, {sub2, []string{"SSUBSCRIBE", "s1"}, 1},
		{pub, []string{"PUBLISH", "a", "hello"}, 1}, {pub, []string{"PUBLISH", "pa", "m"}, 1}, {pub, []string{"SPUBLISH", "s1", "x"}, 1},
		{pub, []string{"PUBLISH", "nobody", "x"}, 1}, {pub, []string{"SPUBLISH", "a", "x"}, 1}, {pub, []string{"PUBLISH", "b", ""}, 1},
		{sub, nil, 4}, {sub2, nil, 2},
		{sub, []string{"UNSUBSCRIBE", "b"}, 1}, {sub2, []string{"PUNSUBSCRIBE"}, 1},
		{pub, []string{"PUBSUB", "CHANNELS"}, 1}, {pub, []string{"PUBSUB", "channels", "a*"}, 1}, {pub, []string{"PUBSUB", "CHANNELS", "z*"}, 1},
		{pub, []string{"PUBSUB", "NUMSUB", "a", "zz"}, 1}, {pub, []string{"PUBSUB", "NUMSUB"}, 1}, {pub, []string{"PUBSUB", "NUMPAT"}, 1},
		{pub, []string{"PUBSUB", "SHARDCHANNELS"}, 1}, {pub, []string{"PUBSUB", "SHARDCHANNELS", "s?"}, 1},
		{pub, []string{"PUBSUB", "SHARDNUMSUB", "s1", "x"}, 1}, {pub, []string{"PUBSUB", "SHARDNUMSUB"}, 1}, {pub, []string{"PUBSUB", "HELP"}, 1},
		{pub, []string{"PUBSUB", "Foo"}, 1}, {pub, []string{"PUBSUB", "NUMPAT", "x"}, 1}, {pub, []string{"PUBSUB", "CHANNELS", "a", "b"}, 1},
		{pub, []string{"PUBSUB", "help", "x"}, 1}, {pub, []string{"PUBLISH", "ch"}, 1}, {pub, []string{"PUBSUB"}, 1},
		{sub, []string{"UNSUBSCRIBE", "a", "nope"}, 2}, {sub, []string{"PUNSUBSCRIBE"}, 1}, {sub, []string{"SUNSUBSCRIBE", "zz"}, 1},
		{sub, []string{"GET", "x"}, 1}, {sub, []string{"SUNSUBSCRIBE"}, 1}, {sub, []string{"GET", "x"}, 1}, {sub, []string{"PING"}, 1},
		{pub, []string{"PUBLISH", "a", "x"}, 1}, {pub, []string{"PUBSUB", "NUMPAT"}, 1}, {pub, []string{"PUBSUB", "SHARDCHANNELS"}, 1},
		{sub2, []string{"QUIT"}, 1}, {pub, []string{"PUBSUB", "SHARDNUMSUB", "s1"}, 1},
		{sub, []string{"SUBSCRIBE", "z"}, 1}, {sub, []string{"RESET"}, 1}, {pub, []string{"PUBLISH", "z", "x"}, 1},
		{sub, []string{"GET", "x"}, 1},
	}
	direct := proxytest.StartRedis(t)
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
	want := pubsubTranscript(t, direct.Addr, steps)
	got := pubsubTranscript(t, n.Addr, steps)
	require.Equal(t, want, got)
}

// A RESP3 client (HELLO 3) gets confirmations and messages as push
// frames, null names as RESP3 nulls, and no subscribed-mode restriction,
// as from Redis.
func TestPubSubPushesToRESP3ClientsMatchRedis(t *testing.T) {
	steps := []psStep{
		{0, []string{"UNSUBSCRIBE"}, 1}, {0, []string{"SUBSCRIBE", "ch"}, 1}, {0, []string{"PSUBSCRIBE", "c*"}, 1},
		{0, []string{"SSUBSCRIBE", "sh"}, 1}, {0, []string{"GET", "x"}, 1}, {0, []string{"PING"}, 1},
		{1, []string{"PUBLISH", "ch", "hello"}, 1}, {1, []string{"SPUBLISH", "sh", "v"}, 1},
		{0, nil, 3}, {0, []string{"PUBSUB", "NUMPAT"}, 1},
		{0, []string{"UNSUBSCRIBE", "ch", "zz"}, 2}, {0, []string{"PUNSUBSCRIBE"}, 1}, {0, []string{"SUNSUBSCRIBE"}, 1},
		{0, []string{"SUBSCRIBE", "again"}, 1}, {0, []string{"RESET"}, 1}, {1, []string{"PUBLISH", "again", "x"}, 1},
	}
	resp3Transcript := func(addr string) []string {
		rc := proxytest.Dial(t, addr)
		require.Contains(t, rc.Do("HELLO", "3"), "proto")
		return pubsubSteps(t, []*proxytest.Conn{rc, proxytest.Dial(t, addr)}, steps)
	}
	direct := proxytest.StartRedis(t)
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
	require.Equal(t, resp3Transcript(direct.Addr), resp3Transcript(n.Addr))
}

// Inside MULTI a pub/sub command is refused and the transaction aborted
// (Redis queues it; a transaction unit runs on the datastores, which hold
// no subscriptions).
func TestPubSubInsideMultiIsRefused(t *testing.T) {
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, nil)
	c := proxytest.Dial(t, n.Addr)
	require.Equal(t, "+OK\r\n", c.Do("MULTI"))
	require.Equal(t, "-ERR Dynomite: SUBSCRIBE inside MULTI is not supported\r\n", c.Do("SUBSCRIBE", "ch"))
	require.True(t, strings.HasPrefix(c.Do("EXEC"), "-EXECABORT"))
	require.Equal(t, ":0\r\n", c.Do("PUBLISH", "ch", "m"), "the connection is not subscribed")
}

// A subscriber's QUIT leaves its channels before the OK is written, as in
// Redis: a PUBSUB NUMSUB sent after the OK never counts it.
func TestQuitLeavesChannelsBeforeItsReply(t *testing.T) {
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
	pub := proxytest.Dial(t, n.Addr)
	for i := range 50 {
		sub := proxytest.Dial(t, n.Addr)
		sub.Send(proxytest.Cmd("SUBSCRIBE", "q"))
		_, err := sub.Read(proxytest.RedisReply)
		require.NoError(t, err)
		sub.Send(proxytest.Cmd("QUIT"))
		b, err := sub.Read(proxytest.RedisReply)
		require.NoError(t, err)
		require.Equal(t, "+OK\r\n", string(b))
		require.Equal(t, "*2\r\n$1\r\nq\r\n:0\r\n", pub.Do("PUBSUB", "NUMSUB", "q"), "round %d", i)
	}
}
