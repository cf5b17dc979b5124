package proxy

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// redisCommandList is sent both to a Redis directly and to the proxy in
// front of another, fresh Redis; every reply must be byte-identical.
// Set members are integers (intsets are ordered) so that the two servers'
// random hash seeds do not reorder replies.
func redisCommandList() [][]byte {
	var pipeline []byte
	for i := 0; i < 64; i++ {
		pipeline = append(pipeline, cmd("SET", "pk"+strconv.Itoa(i), strconv.Itoa(i))...)
		pipeline = append(pipeline, cmd("INCR", "pk"+strconv.Itoa(i))...)
		pipeline = append(pipeline, cmd("GET", "pk"+strconv.Itoa(i))...)
	}
	mid := bytes.Repeat([]byte("m"), 300<<10)
	big := bytes.Repeat([]byte("0123456789abcdef"), (24<<20)/16) // 24 MiB
	return [][]byte{
		// connection
		cmd("PING"), cmd("PING", "hello"), []byte("PING\r\n"), []byte("set inl ine\r\n"), cmd("GET", "inl"),
		// strings
		cmd("SET", "s", "v"), cmd("GET", "s"), cmd("GET", "missing"), cmd("SETNX", "s", "x"), cmd("SETNX", "s2", "x"),
		cmd("APPEND", "s", "vv"), cmd("STRLEN", "s"), cmd("GETRANGE", "s", "0", "1"), cmd("SETRANGE", "s", "1", "Z"),
		cmd("GETSET", "s", "new"), cmd("GET", "s"), cmd("SET", "n", "10"), cmd("INCR", "n"), cmd("INCRBY", "n", "5"),
		cmd("DECR", "n"), cmd("DECRBY", "n", "3"), cmd("INCRBYFLOAT", "n", "1.5"), cmd("SETBIT", "b", "7", "1"),
		cmd("GETBIT", "b", "7"), cmd("BITCOUNT", "b"), cmd("BITPOS", "b", "1"), cmd("SET", "s", "v", "EX", "100", "NX"),
		cmd("SET", "s", "v", "XX"), cmd("GETDEL", "s2"), cmd("INCR", "s"),
		// multi-key
		cmd("MSET", "a", "1", "b", "2", "c", "3"), cmd("MGET", "a", "b", "c", "zz"), cmd("EXISTS", "a", "b", "zz"),
		cmd("DEL", "a", "b", "zz"), cmd("MGET", "a", "b", "c"), cmd("UNLINK", "c"),
		// expiry
		cmd("SETEX", "e", "100", "v"), cmd("TTL", "e"), cmd("EXPIRE", "e", "200"), cmd("TTL", "e"), cmd("PERSIST", "e"),
		cmd("TTL", "e"), cmd("PTTL", "e"), cmd("TTL", "nokey"), cmd("EXPIREAT", "e", "4102444800"), cmd("TYPE", "e"),
		// hashes
		cmd("HSET", "h", "f1", "v1", "f2", "v2"), cmd("HGET", "h", "f1"), cmd("HMSET", "h", "f3", "v3"),
		cmd("HMGET", "h", "f1", "nf", "f3"), cmd("HINCRBY", "h", "cnt", "4"), cmd("HINCRBYFLOAT", "h", "cnt", "0.5"),
		cmd("HLEN", "h"), cmd("HEXISTS", "h", "f2"), cmd("HSTRLEN", "h", "f2"), cmd("HDEL", "h", "f2"),
		cmd("HGETALL", "h"), cmd("HKEYS", "h"), cmd("HVALS", "h"), cmd("HSETNX", "h", "f1", "x"), cmd("HSCAN", "h", "0"),
		// lists
		cmd("RPUSH", "l", "a", "b", "c"), cmd("LPUSH", "l", "z"), cmd("LRANGE", "l", "0", "-1"), cmd("LLEN", "l"),
		cmd("LINDEX", "l", "1"), cmd("LSET", "l", "1", "A"), cmd("LINSERT", "l", "BEFORE", "c", "bb"), cmd("LREM", "l", "0", "bb"),
		cmd("LTRIM", "l", "0", "2"), cmd("LPOP", "l"), cmd("RPOP", "l"), cmd("RPOPLPUSH", "l", "l"), cmd("LPUSHX", "l", "q"),
		cmd("RPUSHX", "nol", "q"), cmd("LRANGE", "l", "0", "-1"),
		// sets (integers: intset order is deterministic)
		cmd("SADD", "st", "3", "1", "2"), cmd("SADD", "st2", "2", "3", "4"), cmd("SCARD", "st"), cmd("SISMEMBER", "st", "2"),
		cmd("SMEMBERS", "st"), cmd("SINTER", "st", "st2"), cmd("SUNION", "st", "st2"), cmd("SDIFF", "st", "st2"),
		cmd("SINTERSTORE", "st3", "st", "st2"), cmd("SUNIONSTORE", "st4", "st", "st2"), cmd("SDIFFSTORE", "st5", "st", "st2"),
		cmd("SMEMBERS", "st4"), cmd("SMOVE", "st", "st2", "1"), cmd("SREM", "st", "3"), cmd("SMEMBERS", "st"), cmd("SSCAN", "st4", "0"),
		// sorted sets
		cmd("ZADD", "z", "1", "a", "2", "b", "3", "c"), cmd("ZADD", "z2", "5", "b", "6", "d"), cmd("ZRANGE", "z", "0", "-1", "WITHSCORES"),
		cmd("ZREVRANGE", "z", "0", "1"), cmd("ZRANGEBYSCORE", "z", "1", "2"), cmd("ZREVRANGEBYSCORE", "z", "+inf", "2"),
		cmd("ZCARD", "z"), cmd("ZCOUNT", "z", "-inf", "+inf"), cmd("ZINCRBY", "z", "2", "a"), cmd("ZRANK", "z", "a"),
		cmd("ZREVRANK", "z", "a"), cmd("ZSCORE", "z", "a"), cmd("ZUNIONSTORE", "zu", "2", "z", "z2"), cmd("ZINTERSTORE", "zi", "2", "z", "z2"),
		cmd("ZRANGE", "zu", "0", "-1", "WITHSCORES"), cmd("ZRANGE", "zi", "0", "-1", "WITHSCORES"), cmd("ZREM", "z", "b"),
		cmd("ZLEXCOUNT", "z2", "-", "+"), cmd("ZRANGEBYLEX", "z2", "-", "+"), cmd("ZREMRANGEBYRANK", "z2", "0", "0"), cmd("ZSCAN", "z", "0"),
		// hyperloglog, sort, dump
		cmd("PFADD", "hll", "a", "b", "c"), cmd("PFCOUNT", "hll"), cmd("SORT", "st4"), cmd("SORT", "l", "ALPHA"),
		// scripts
		cmd("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "ek", "ev"), cmd("EVAL", "return redis.call('get', KEYS[1])", "1", "ek"),
		cmd("SCRIPT", "LOAD", "return 1"), cmd("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "ek"),
		cmd("EVAL", "return {KEYS[1], ARGV[1], 3}", "1", "k", "a"), cmd("EVAL", "return redis.error_reply('boom')", "1", "k"),
		// errors the datastore produces are passed through
		cmd("GET"), cmd("LPUSH", "s", "x"), cmd("INCR", "l"), cmd("SET", "s"), cmd("ZADD", "z", "notanumber", "a"),
		cmd("CONFIG", "GET", "maxmemory"), cmd("ECHO", "echoed"), cmd("COMMAND", "COUNT"),
		// a pipeline of 192 commands in one write
		pipeline,
		// values that span many reads
		cmd("SET", "mid", string(mid)), cmd("GET", "mid"), cmd("SET", "big", string(big)), cmd("STRLEN", "big"), cmd("GET", "big"),
		cmd("APPEND", "mid", "x"), cmd("STRLEN", "mid"),
		// a large value that is not the last argument
		cmd("SET", "bigex", string(big), "EX", "100"), cmd("STRLEN", "bigex"), cmd("TTL", "bigex"),
		cmd("MSET", "b1", string(mid), "b2", string(mid)), cmd("MGET", "b1", "b2"),
		// empty arrays and blank inline lines are skipped, as Redis does
		[]byte("*0\r\n\r\n" + string(cmd("PING", "after-empty"))),
		cmd("QUIT"),
	}
}

func TestRedisRepliesThroughTheProxyAreIdenticalToDirectRedis(t *testing.T) {
	direct := startRedis(t)
	behind := startRedis(t)
	n := startNode(t, msg.Redis, behind.addr, nil)

	reqs := redisCommandList()
	want := transcript(t, direct.addr, reqs, redisReply)
	got := transcript(t, n.addr, reqs, redisReply)
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
	behind := startRedis(t)
	n := startNode(t, msg.Redis, behind.addr, nil)
	cases := []struct {
		name string
		req  []byte
		want []string
	}{
		{"an unsupported command gets an error naming it and the connection stays open",
			append(cmd("MULTI"), cmd("PING")...), []string{"-ERR unsupported command 'MULTI'\r\n", "+PONG\r\n"}},
		{"commands that would change shared datastore connections are refused",
			append(cmd("SELECT", "1"), cmd("PING")...), []string{"-ERR unsupported command 'SELECT'\r\n", "+PONG\r\n"}},
		{"CONFIG SET is refused, CONFIG GET is not",
			append(cmd("CONFIG", "SET", "maxmemory", "1"), cmd("PING")...), nil},
		{"HELLO 3 is refused because datastore connections speak RESP2",
			append(cmd("HELLO", "3"), cmd("PING")...), nil},
		{"a name with control characters is sanitised in the error",
			cmd("BAD\x01NAME"), []string{"-ERR unsupported command 'BAD?NAME'\r\n"}},
		{"a protocol error is answered and the connection closed",
			[]byte("*1\r\n$x\r\n"), []string{"-ERR Protocol error: invalid bulk length\r\n", "<closed>"}},
		{"an invalid multibulk length is answered and the connection closed",
			[]byte("*abc\r\n"), []string{"-ERR Protocol error: invalid multibulk length\r\n", "<closed>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dial(t, n.addr)
			rc.send(tc.req)
			var got []string
			for i := 0; i < 2; i++ {
				b, err := rc.read(redisReply)
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

func TestRedisProtocolErrorsMatchRedisWording(t *testing.T) {
	direct := startRedis(t)
	behind := startRedis(t)
	n := startNode(t, msg.Redis, behind.addr, nil)
	for _, bad := range []string{"*1\r\n$x\r\n", "*abc\r\n", "*2\r\n$3\r\nGET\r\n:1\r\n", "*1\r\n$-2\r\n"} {
		want := transcript(t, direct.addr, [][]byte{[]byte(bad)}, redisReply)
		got := transcript(t, n.addr, [][]byte{[]byte(bad)}, redisReply)
		require.Equal(t, want, got, "input %q", bad)
	}
}
