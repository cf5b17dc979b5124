package proxy_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// redisCommandList is sent both to a Redis directly and to the proxy in
// front of another, fresh Redis; every reply must be byte-identical.
// Set members are integers (intsets are ordered) so that the two servers'
// random hash seeds do not reorder replies.
func redisCommandList() [][]byte {
	var pipeline []byte
	for i := 0; i < 64; i++ {
		pipeline = append(pipeline, proxytest.Cmd("SET", "pk"+strconv.Itoa(i), strconv.Itoa(i))...)
		pipeline = append(pipeline, proxytest.Cmd("INCR", "pk"+strconv.Itoa(i))...)
		pipeline = append(pipeline, proxytest.Cmd("GET", "pk"+strconv.Itoa(i))...)
	}
	mid := bytes.Repeat([]byte("m"), 300<<10)
	big := bytes.Repeat([]byte("0123456789abcdef"), (24<<20)/16) // 24 MiB
	return [][]byte{
		// connection
		proxytest.Cmd("PING"), proxytest.Cmd("PING", "hello"), []byte("PING\r\n"), []byte("set inl ine\r\n"), proxytest.Cmd("GET", "inl"),
		// strings
		proxytest.Cmd("SET", "s", "v"), proxytest.Cmd("GET", "s"), proxytest.Cmd("GET", "missing"), proxytest.Cmd("SETNX", "s", "x"), proxytest.Cmd("SETNX", "s2", "x"),
		proxytest.Cmd("APPEND", "s", "vv"), proxytest.Cmd("STRLEN", "s"), proxytest.Cmd("GETRANGE", "s", "0", "1"), proxytest.Cmd("SETRANGE", "s", "1", "Z"),
		proxytest.Cmd("GETSET", "s", "new"), proxytest.Cmd("GET", "s"), proxytest.Cmd("SET", "n", "10"), proxytest.Cmd("INCR", "n"), proxytest.Cmd("INCRBY", "n", "5"),
		proxytest.Cmd("DECR", "n"), proxytest.Cmd("DECRBY", "n", "3"), proxytest.Cmd("INCRBYFLOAT", "n", "1.5"), proxytest.Cmd("SETBIT", "b", "7", "1"),
		proxytest.Cmd("GETBIT", "b", "7"), proxytest.Cmd("BITCOUNT", "b"), proxytest.Cmd("BITPOS", "b", "1"), proxytest.Cmd("SET", "s", "v", "EX", "100", "NX"),
		proxytest.Cmd("SET", "s", "v", "XX"), proxytest.Cmd("GETDEL", "s2"), proxytest.Cmd("INCR", "s"),
		// multi-key
		proxytest.Cmd("MSET", "a", "1", "b", "2", "c", "3"), proxytest.Cmd("MGET", "a", "b", "c", "zz"), proxytest.Cmd("EXISTS", "a", "b", "zz"),
		proxytest.Cmd("DEL", "a", "b", "zz"), proxytest.Cmd("MGET", "a", "b", "c"), proxytest.Cmd("UNLINK", "c"),
		// expiry
		proxytest.Cmd("SETEX", "e", "100", "v"), proxytest.Cmd("TTL", "e"), proxytest.Cmd("EXPIRE", "e", "200"), proxytest.Cmd("TTL", "e"), proxytest.Cmd("PERSIST", "e"),
		proxytest.Cmd("TTL", "e"), proxytest.Cmd("PTTL", "e"), proxytest.Cmd("TTL", "nokey"), proxytest.Cmd("EXPIREAT", "e", "4102444800"), proxytest.Cmd("TYPE", "e"),
		// hashes
		proxytest.Cmd("HSET", "h", "f1", "v1", "f2", "v2"), proxytest.Cmd("HGET", "h", "f1"), proxytest.Cmd("HMSET", "h", "f3", "v3"),
		proxytest.Cmd("HMGET", "h", "f1", "nf", "f3"), proxytest.Cmd("HINCRBY", "h", "cnt", "4"), proxytest.Cmd("HINCRBYFLOAT", "h", "cnt", "0.5"),
		proxytest.Cmd("HLEN", "h"), proxytest.Cmd("HEXISTS", "h", "f2"), proxytest.Cmd("HSTRLEN", "h", "f2"), proxytest.Cmd("HDEL", "h", "f2"),
		proxytest.Cmd("HGETALL", "h"), proxytest.Cmd("HKEYS", "h"), proxytest.Cmd("HVALS", "h"), proxytest.Cmd("HSETNX", "h", "f1", "x"), proxytest.Cmd("HSCAN", "h", "0"),
		// lists
		proxytest.Cmd("RPUSH", "l", "a", "b", "c"), proxytest.Cmd("LPUSH", "l", "z"), proxytest.Cmd("LRANGE", "l", "0", "-1"), proxytest.Cmd("LLEN", "l"),
		proxytest.Cmd("LINDEX", "l", "1"), proxytest.Cmd("LSET", "l", "1", "A"), proxytest.Cmd("LINSERT", "l", "BEFORE", "c", "bb"), proxytest.Cmd("LREM", "l", "0", "bb"),
		proxytest.Cmd("LTRIM", "l", "0", "2"), proxytest.Cmd("LPOP", "l"), proxytest.Cmd("RPOP", "l"), proxytest.Cmd("RPOPLPUSH", "l", "l"), proxytest.Cmd("LPUSHX", "l", "q"),
		proxytest.Cmd("RPUSHX", "nol", "q"), proxytest.Cmd("LRANGE", "l", "0", "-1"),
		// sets (integers: intset order is deterministic)
		proxytest.Cmd("SADD", "st", "3", "1", "2"), proxytest.Cmd("SADD", "st2", "2", "3", "4"), proxytest.Cmd("SCARD", "st"), proxytest.Cmd("SISMEMBER", "st", "2"),
		proxytest.Cmd("SMEMBERS", "st"), proxytest.Cmd("SINTER", "st", "st2"), proxytest.Cmd("SUNION", "st", "st2"), proxytest.Cmd("SDIFF", "st", "st2"),
		proxytest.Cmd("SINTERSTORE", "st3", "st", "st2"), proxytest.Cmd("SUNIONSTORE", "st4", "st", "st2"), proxytest.Cmd("SDIFFSTORE", "st5", "st", "st2"),
		proxytest.Cmd("SMEMBERS", "st4"), proxytest.Cmd("SMOVE", "st", "st2", "1"), proxytest.Cmd("SREM", "st", "3"), proxytest.Cmd("SMEMBERS", "st"), proxytest.Cmd("SSCAN", "st4", "0"),
		// sorted sets
		proxytest.Cmd("ZADD", "z", "1", "a", "2", "b", "3", "c"), proxytest.Cmd("ZADD", "z2", "5", "b", "6", "d"), proxytest.Cmd("ZRANGE", "z", "0", "-1", "WITHSCORES"),
		proxytest.Cmd("ZREVRANGE", "z", "0", "1"), proxytest.Cmd("ZRANGEBYSCORE", "z", "1", "2"), proxytest.Cmd("ZREVRANGEBYSCORE", "z", "+inf", "2"),
		proxytest.Cmd("ZCARD", "z"), proxytest.Cmd("ZCOUNT", "z", "-inf", "+inf"), proxytest.Cmd("ZINCRBY", "z", "2", "a"), proxytest.Cmd("ZRANK", "z", "a"),
		proxytest.Cmd("ZREVRANK", "z", "a"), proxytest.Cmd("ZSCORE", "z", "a"), proxytest.Cmd("ZUNIONSTORE", "zu", "2", "z", "z2"), proxytest.Cmd("ZINTERSTORE", "zi", "2", "z", "z2"),
		proxytest.Cmd("ZRANGE", "zu", "0", "-1", "WITHSCORES"), proxytest.Cmd("ZRANGE", "zi", "0", "-1", "WITHSCORES"), proxytest.Cmd("ZREM", "z", "b"),
		proxytest.Cmd("ZLEXCOUNT", "z2", "-", "+"), proxytest.Cmd("ZRANGEBYLEX", "z2", "-", "+"), proxytest.Cmd("ZREMRANGEBYRANK", "z2", "0", "0"), proxytest.Cmd("ZSCAN", "z", "0"),
		// hyperloglog, sort, dump
		proxytest.Cmd("PFADD", "hll", "a", "b", "c"), proxytest.Cmd("PFCOUNT", "hll"), proxytest.Cmd("SORT", "st4"), proxytest.Cmd("SORT", "l", "ALPHA"),
		// scripts
		proxytest.Cmd("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "ek", "ev"), proxytest.Cmd("EVAL", "return redis.call('get', KEYS[1])", "1", "ek"),
		proxytest.Cmd("SCRIPT", "LOAD", "return 1"), proxytest.Cmd("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "ek"),
		proxytest.Cmd("EVAL", "return {KEYS[1], ARGV[1], 3}", "1", "k", "a"), proxytest.Cmd("EVAL", "return redis.error_reply('boom')", "1", "k"),
		// errors the datastore produces are passed through
		proxytest.Cmd("GET"), proxytest.Cmd("LPUSH", "s", "x"), proxytest.Cmd("INCR", "l"), proxytest.Cmd("SET", "s"), proxytest.Cmd("ZADD", "z", "notanumber", "a"),
		proxytest.Cmd("CONFIG", "GET", "maxmemory"), proxytest.Cmd("ECHO", "echoed"),
		// RESP3 shapes (compared under HELLO 3 too)
		proxytest.Cmd("ZMSCORE", "z", "a", "nope"), proxytest.Cmd("ZPOPMIN", "z"), proxytest.Cmd("ZPOPMAX", "zu", "2"), proxytest.Cmd("ZPOPMIN", "nozset"),
		proxytest.Cmd("ZSCORE", "z", "nope"), proxytest.Cmd("ZRANGEBYSCORE", "zu", "-inf", "+inf", "WITHSCORES"), proxytest.Cmd("HGETALL", "nohash"),
		proxytest.Cmd("SADD", "one", "7"), proxytest.Cmd("SPOP", "one", "1"), proxytest.Cmd("EVAL", "return nil", "1", "k"),
		proxytest.Cmd("SELECT", "0"), proxytest.Cmd("CLIENT", "SETNAME", "cmp"), proxytest.Cmd("CLIENT", "GETNAME"),
		proxytest.Cmd("MULTI"), proxytest.Cmd("HSET", "th", "f", "1"), proxytest.Cmd("HGETALL", "th"), proxytest.Cmd("ZSCORE", "z", "c"), proxytest.Cmd("GET", "nope"), proxytest.Cmd("EXEC"),
		proxytest.Cmd("MULTI"), proxytest.Cmd("SET", "tx", "1"), proxytest.Cmd("DISCARD"), proxytest.Cmd("GET", "tx"),
		proxytest.Cmd("WATCH", "w"), proxytest.Cmd("MULTI"), proxytest.Cmd("INCR", "w"), proxytest.Cmd("EXEC"), proxytest.Cmd("UNWATCH"),
		proxytest.Cmd("MULTI"), proxytest.Cmd("GET"), proxytest.Cmd("EXEC"), proxytest.Cmd("EXEC"), proxytest.Cmd("DISCARD"),
		// a pipeline of 192 commands in one write
		pipeline,
		// values that span many reads
		proxytest.Cmd("SET", "mid", string(mid)), proxytest.Cmd("GET", "mid"), proxytest.Cmd("SET", "big", string(big)), proxytest.Cmd("STRLEN", "big"), proxytest.Cmd("GET", "big"),
		proxytest.Cmd("APPEND", "mid", "x"), proxytest.Cmd("STRLEN", "mid"),
		// a large value that is not the last argument
		proxytest.Cmd("SET", "bigex", string(big), "EX", "100"), proxytest.Cmd("STRLEN", "bigex"), proxytest.Cmd("TTL", "bigex"),
		proxytest.Cmd("MSET", "b1", string(mid), "b2", string(mid)), proxytest.Cmd("MGET", "b1", "b2"),
		// empty arrays and blank inline lines are skipped, as Redis does
		[]byte("*0\r\n\r\n" + string(proxytest.Cmd("PING", "after-empty"))),
		proxytest.Cmd("QUIT"),
	}
}

func TestRedisRepliesThroughTheProxyAreIdenticalToDirectRedis(t *testing.T) {
	direct := proxytest.StartRedis(t)
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)

	reqs := redisCommandList()
	want := transcript(t, direct.Addr, reqs, proxytest.RedisReply)
	got := transcript(t, n.Addr, reqs, proxytest.RedisReply)
	require.Equal(t, len(want), len(got), "reply counts differ")
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("reply %d differs:\n direct: %.200q\n proxy:  %.200q", i, want[i], got[i])
		}
	}
	require.Equal(t, "+OK\r\n", got[len(got)-1], "QUIT answers +OK")
}

// TestRedisProxyDocumentedDifferences pins each place where the proxy
// answers differently from Redis (docs/compatibility.md).
func TestRedisProxyDocumentedDifferences(t *testing.T) {
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
	cases := []struct {
		name string
		req  []byte
		want []string
	}{
		{"an unsupported command gets an error naming it and the connection stays open",
			append(proxytest.Cmd("BLPOP", "l", "0"), proxytest.Cmd("PING")...), []string{"-ERR unsupported command 'BLPOP'\r\n", "+PONG\r\n"}},
		{"only database 0 exists",
			append(proxytest.Cmd("SELECT", "3"), proxytest.Cmd("PING")...), []string{"-ERR Dynomite: only database 0 exists (SELECT 3)\r\n", "+PONG\r\n"}},
		{"CONFIG SET is refused, CONFIG GET is not",
			append(proxytest.Cmd("CONFIG", "SET", "maxmemory", "1"), proxytest.Cmd("PING")...), nil},
		{"FLUSHDB is refused unless allow_flush is on",
			append(proxytest.Cmd("FLUSHDB"), proxytest.Cmd("PING")...), nil},
		{"client-side caching needs RESP3: CLIENT TRACKING on a RESP2 connection is refused (tracking.go)",
			append(proxytest.Cmd("CLIENT", "TRACKING", "ON", "OPTIN"), proxytest.Cmd("PING")...), nil},
		{"COMMAND COUNT counts the proxy's command table",
			proxytest.Cmd("COMMAND", "COUNT"), []string{":" + strconv.Itoa(len(resp.Commands())) + "\r\n"}},
		{"a name with control characters is sanitised in the error",
			proxytest.Cmd("BAD\x01NAME"), []string{"-ERR unsupported command 'BAD?NAME'\r\n"}},
		{"a protocol error is answered and the connection closed",
			[]byte("*1\r\n$x\r\n"), []string{"-ERR Protocol error: invalid bulk length\r\n", "<closed>"}},
		{"an invalid multibulk length is answered and the connection closed",
			[]byte("*abc\r\n"), []string{"-ERR Protocol error: invalid multibulk length\r\n", "<closed>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := proxytest.Dial(t, n.Addr)
			rc.Send(tc.req)
			var got []string
			for i := 0; i < 2; i++ {
				b, err := rc.Read(proxytest.RedisReply)
				if err != nil {
					got = append(got, "<closed>")
					break
				}
				got = append(got, string(b))
				if tc.want != nil && len(got) == len(tc.want) {
					break
				}
			}
			if tc.want != nil {
				require.Equal(t, tc.want, got)
				return
			}
			require.Len(t, got, 2)
			require.True(t, strings.HasPrefix(got[0], "-"), "want an error, got %q", got[0])
			require.Equal(t, "+PONG\r\n", got[1], "the connection must stay usable")
		})
	}
}

// The same commands from a RESP3 client (HELLO 3): the proxy converts the
// datastore's RESP2 replies into what Redis answers a RESP3 connection.
func TestRESP3RepliesThroughTheProxyAreIdenticalToDirectRedis(t *testing.T) {
	direct := proxytest.StartRedis(t)
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)

	// HELLO's own reply differs (version, connection id): compared below
	reqs := append([][]byte{proxytest.Cmd("HELLO", "3")}, redisCommandList()...)
	want := transcript(t, direct.Addr, reqs, proxytest.RedisReply)
	got := transcript(t, n.Addr, reqs, proxytest.RedisReply)
	require.Equal(t, len(want), len(got), "reply counts differ")
	for i := 1; i < len(want); i++ {
		if want[i] != got[i] {
			t.Errorf("reply %d differs:\n direct: %.200q\n proxy:  %.200q", i, want[i], got[i])
		}
	}
	for _, field := range []string{"server", "version", "proto", "id", "mode", "role", "modules"} {
		require.Contains(t, got[0], "$"+strconv.Itoa(len(field))+"\r\n"+field+"\r\n")
	}
	require.True(t, strings.HasPrefix(got[0], "%7\r\n"), "HELLO 3 answers a map: %q", got[0])
	require.Contains(t, got[0], "$5\r\nproto\r\n:3\r\n")

	// INFO's text differs between two servers; its type must not: Redis
	// answers a RESP3 client verbatim text
	info := [][]byte{proxytest.Cmd("HELLO", "3"), proxytest.Cmd("INFO", "server"), proxytest.Cmd("CLIENT", "INFO")}
	want = transcript(t, direct.Addr, info, proxytest.RedisReply)
	got = transcript(t, n.Addr, info, proxytest.RedisReply)
	for i := 1; i < len(want); i++ {
		w, g := want[i], got[i]
		require.Equal(t, w[:1], g[:1], "reply %d: %.60q vs %.60q", i, w, g)
		require.Equal(t, w[strings.Index(w, "\r\n"):][:6], g[strings.Index(g, "\r\n"):][:6], "reply %d: the txt: format", i)
	}
}

func TestRedisProtocolErrorsMatchRedisWording(t *testing.T) {
	direct := proxytest.StartRedis(t)
	behind := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, behind.Addr, nil)
	for _, bad := range []string{"*1\r\n$x\r\n", "*abc\r\n", "*2\r\n$3\r\nGET\r\n:1\r\n", "*1\r\n$-2\r\n"} {
		want := transcript(t, direct.Addr, [][]byte{[]byte(bad)}, proxytest.RedisReply)
		got := transcript(t, n.Addr, [][]byte{[]byte(bad)}, proxytest.RedisReply)
		require.Equal(t, want, got, "input %q", bad)
	}
}
