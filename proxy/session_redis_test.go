package proxy_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// Two racks of two nodes each, real Redis behind every node: transactions
// run as one unit on every replica, keys of different owners are refused,
// SCAN walks both nodes of the rack, scripts reach every node.
func TestRedisSessionFeaturesAcrossTheCluster(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	half := strconv.Itoa(1 << 31)
	specs := []string{"dc1/r1/" + half, "dc1/r1/4294967295", "dc1/r2/" + half, "dc1/r2/4294967295"}
	tc := realCluster(t, specs, func(o *proxy.Options) { o.AllowFlush = false })
	defer tc.Close() // before goleak looks
	c := tc.Client(0, "DC_QUORUM")
	local, other := tc.KeyOwnedBy(0, 0, "{l}"), tc.KeyOwnedBy(0, 1, "{o}")

	t.Run("a transaction runs on every replica of its keys", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", c.Do("SET", other, "1"))
		require.Equal(t, "+QUEUED\r\n", c.Do("INCR", other))
		require.Equal(t, "*2\r\n+OK\r\n:2\r\n", c.Do("EXEC"))
		// node 1 owns it in rack r1, node 3 in rack r2; nodes 0 and 2 do not
		require.Equal(t, "$1\r\n2\r\n", tc.Direct(1, "GET", other))
		require.Equal(t, "$1\r\n2\r\n", tc.Direct(3, "GET", other))
		require.Equal(t, "$-1\r\n", tc.Direct(0, "GET", other))
	})
	t.Run("keys of different owners abort the transaction", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", c.Do("SET", local, "x"))
		got := c.Do("SET", other, "y")
		require.True(t, strings.HasPrefix(got, "-CROSSSLOT"), got)
		require.Contains(t, got, other)
		require.Equal(t, "-EXECABORT Transaction discarded because of previous errors.\r\n", c.Do("EXEC"))
		require.Equal(t, "$-1\r\n", tc.Direct(0, "GET", local), "nothing of an aborted transaction runs")
	})
	t.Run("WATCH aborts when the key changes", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("WATCH", local))
		require.Equal(t, "+OK\r\n", tc.Client(2, "").Do("SET", local, "changed"))
		// node 2 acknowledged it from its own rack; the copy for node 0's
		// datastore, where the WATCH is, may still be on its way
		proxytest.Eventually(t, 5e9, func() bool { return tc.Direct(0, "GET", local) == "$7\r\nchanged\r\n" }, "the write through rack r2 did not reach rack r1")
		require.Equal(t, "+OK\r\n", c.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", c.Do("SET", local, "mine"))
		require.Equal(t, "*-1\r\n", c.Do("EXEC"))
		require.Equal(t, "$7\r\nchanged\r\n", c.Do("GET", local))
		// unchanged: it commits, and the other rack gets the write
		require.Equal(t, "+OK\r\n", c.Do("WATCH", local))
		require.Equal(t, "+OK\r\n", c.Do("MULTI"))
		require.Equal(t, "+QUEUED\r\n", c.Do("SET", local, "mine"))
		require.Equal(t, "*1\r\n+OK\r\n", c.Do("EXEC"))
		proxytest.Eventually(t, 5e9, func() bool { return tc.Direct(2, "GET", local) == "$4\r\nmine\r\n" }, "rack r2 did not get the watched transaction")
		// a key another node of the rack owns cannot be watched here
		require.Contains(t, c.Do("WATCH", other), "WATCH needs this node to own the key")
	})
	t.Run("SCAN, KEYS and DBSIZE cover every node of the rack", func(t *testing.T) {
		for i := range 40 {
			require.Equal(t, "+OK\r\n", c.Do("SET", "scan:"+strconv.Itoa(i), "v"))
		}
		seen := map[string]bool{}
		cursor := "0"
		for range 1000 {
			rc := proxytest.Dial(t, tc.Nodes[0].Addr)
			rc.Send(proxytest.Cmd("SCAN", cursor, "MATCH", "scan:*", "COUNT", "5"))
			b, err := rc.Read(proxytest.RedisReply)
			rc.Close()
			require.NoError(t, err)
			parts := strings.Split(string(b), "\r\n")
			cursor = parts[2]
			for i := 4; i+1 < len(parts); i += 2 {
				seen[parts[i+1]] = true
			}
			if cursor == "0" {
				break
			}
		}
		require.Len(t, seen, 40)
		keys := c.Do("KEYS", "scan:*")
		require.True(t, strings.HasPrefix(keys, "*40\r\n"), keys)
		n0, _ := strconv.Atoi(strings.Trim(tc.Direct(0, "DBSIZE"), ":\r\n"))
		n1, _ := strconv.Atoi(strings.Trim(tc.Direct(1, "DBSIZE"), ":\r\n"))
		require.Equal(t, ":"+strconv.Itoa(n0+n1)+"\r\n", c.Do("DBSIZE"))
		require.True(t, n0 > 0 && n1 > 0, "both nodes of the rack hold keys (%d, %d)", n0, n1)
	})
	t.Run("SCRIPT LOAD reaches every node, EVALSHA works wherever the key lands", func(t *testing.T) {
		sha := c.Do("SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])")
		require.True(t, strings.HasPrefix(sha, "$40\r\n"), sha)
		for i := range tc.Nodes {
			require.Equal(t, "*1\r\n:1\r\n", tc.Direct(i, "SCRIPT", "EXISTS", sha[5:45]))
		}
		require.Equal(t, ":3\r\n", c.Do("EVALSHA", sha[5:45], "1", other)) // 2 from the first transaction
		require.Equal(t, ":1\r\n", c.Do("EVAL", "return 1", "0"))
	})
	t.Run("FLUSHDB is refused with allow_flush off", func(t *testing.T) {
		require.Contains(t, c.Do("FLUSHDB"), "allow_flush")
		require.NotEqual(t, ":0\r\n", c.Do("DBSIZE"))
	})
}

// Session commands with odd arguments get an error reply and the
// connection keeps serving; FLUSHDB works when allow_flush is on.
func TestRedisSessionCommandsSurviveBadInput(t *testing.T) {
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *proxy.Options) { o.AllowFlush = true; o.MaxRequestBytes = 64 << 10 })
	c := proxytest.Dial(t, n.Addr)
	for _, args := range [][]string{
		{"HELLO", "4"}, {"HELLO", "x"}, {"HELLO", "3", "SETNAME"}, {"HELLO", "3", "AUTH", "u"}, {"HELLO", "2", "BOGUS"},
		{"CLIENT", "SETNAME", "a b"}, {"CLIENT", "KILL", "x"}, {"CLIENT", "SETINFO", "lib-foo", "x"}, {"CLIENT", "NO-EVICT", "maybe"},
		{"SELECT", "-1"}, {"SELECT", "x"}, {"SELECT", "1", "2"}, {"EXEC"}, {"DISCARD"}, {"UNWATCH", "x"},
		{"COMMAND", "GETKEYS"}, {"COMMAND", "GETKEYS", "nosuch"}, {"COMMAND", "GETKEYS", "eval", "x", "9"}, {"COMMAND", "NOPE"},
		{"SCAN", "x"}, {"SCAN", "-1"}, {"SCAN", "99999999999999999999"}, {"MEMORY", "DOCTOR"}, {"OBJECT", "HELP"},
		{"FUNCTION", "DUMP"},
	} {
		got := c.Do(args...)
		require.True(t, strings.HasPrefix(got, "-"), "%v answered %q", args, got)
		require.Equal(t, "+PONG\r\n", c.Do("PING"), "after %v", args)
	}
	// inside MULTI: refused commands, then EXEC aborts
	require.Equal(t, "+OK\r\n", c.Do("MULTI"))
	for _, args := range [][]string{{"MULTI"}, {"WATCH", "k"}, {"SCRIPT", "FLUSH"}, {"DBSIZE"}, {"HELLO", "3"}, {"NOSUCH"}} {
		got := c.Do(args...)
		require.True(t, strings.HasPrefix(got, "-"), "%v in MULTI answered %q", args, got)
	}
	require.Equal(t, "+QUEUED\r\n", c.Do("PING"))
	require.Contains(t, c.Do("EXEC"), "EXECABORT")
	require.Equal(t, "+PONG\r\n", c.Do("PING"))
	// a transaction over max_request_bytes is refused, not buffered
	require.Equal(t, "+OK\r\n", c.Do("MULTI"))
	big := strings.Repeat("v", 40<<10)
	require.Equal(t, "+QUEUED\r\n", c.Do("SET", "a", big))
	require.Contains(t, c.Do("SET", "b", big), "max_request_bytes")
	require.Contains(t, c.Do("EXEC"), "EXECABORT")

	require.Equal(t, "+OK\r\n", c.Do("SET", "k", "v"))
	require.Equal(t, ":1\r\n", c.Do("DBSIZE"))
	require.Equal(t, "+OK\r\n", c.Do("FLUSHDB"))
	require.Equal(t, ":0\r\n", c.Do("DBSIZE"))
	require.Equal(t, "+RESET\r\n", c.Do("RESET"))
}
