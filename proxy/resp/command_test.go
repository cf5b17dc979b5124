package resp

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

func mustLookup(t testing.TB, name string) *Command {
	t.Helper()
	_, c := Lookup([]byte(name))
	require.NotNil(t, c, "command %q is in the table", name)
	return c
}

func TestLookupIgnoresLetterCase(t *testing.T) {
	id, c := Lookup([]byte("get"))
	require.NotZero(t, id)
	require.Equal(t, "get", c.Name)
	for _, name := range []string{"GET", "Get", "gEt"} {
		id2, c2 := Lookup([]byte(name))
		require.Equal(t, id, id2)
		require.Same(t, c, c2)
	}
	require.Same(t, c, CommandByID(id))
	require.Equal(t, "json.arrappend", mustLookup(t, "JSON.ARRAPPEND").Name)
	require.Equal(t, "dyno_config:conn_consistency", mustLookup(t, "DYNO_CONFIG:CONN_CONSISTENCY").Name)
}

func TestLookupReturnsNilForUnsupportedCommands(t *testing.T) {
	for _, name := range []string{
		"", "auth", "blpop", "brpop",
		"brpoplpush", "blmove", "bzpopmin",
		"rename", "renamenx", "migrate", "move",
		"xadd", "xread", "xrange", "lmove", "copy", "bitop", "pfmerge",
		"zrangestore", "sintercard", "touch", "wait", "shutdown", "debug",
		"monitor", "save", "bgsave", "lcs", "smove2",
		"getx", "ge", strings.Repeat("g", 33), "GET\x00",
	} {
		id, c := Lookup([]byte(name))
		require.Zero(t, id, name)
		require.Nil(t, c, name)
	}
	require.Nil(t, CommandByID(0))
	require.Nil(t, CommandByID(60000))
}

func TestLookupDoesNotAllocate(t *testing.T) {
	names := [][]byte{[]byte("GET"), []byte("zremrangebyscore"), []byte("NOPE"), []byte(strings.Repeat("x", 40))}
	allocs := testing.AllocsPerRun(100, func() {
		for _, n := range names {
			Lookup(n)
		}
	})
	require.Zero(t, allocs)
}

// The five commands upstream misfiles (proto/dyn_redis.c redis_parse_req).
func TestClassificationFixesUpstreamMisfilings(t *testing.T) {
	tests := map[string]struct {
		name  string
		class msg.Class
	}{
		"TTL only reads":                        {"ttl", msg.ClassRead},
		"PFCOUNT only reads":                    {"pfcount", msg.ClassRead},
		"SUNIONSTORE writes its destination":    {"sunionstore", msg.ClassWrite},
		"ZINTERSTORE writes its destination":    {"zinterstore", msg.ClassWrite},
		"ZUNIONSTORE writes its destination":    {"zunionstore", msg.ClassWrite},
		"SORT may STORE, so it is a write":      {"sort", msg.ClassWrite},
		"GEORADIUS may STORE, so it is a write": {"georadius", msg.ClassWrite},
		"GEORADIUSBYMEMBER may STORE too":       {"georadiusbymember", msg.ClassWrite},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustLookup(t, tc.name)
			require.Equal(t, tc.class, c.Class)
			require.True(t, c.Upstream)
		})
	}
}

func TestClassificationOfEveryRoutingClass(t *testing.T) {
	tests := map[msg.Class][]string{
		msg.ClassRead: {
			"get", "strlen", "getrange", "getbit", "bitcount", "bitpos", "pttl", "ttl", "type", "dump",
			"hget", "hexists", "hlen", "hmget", "hstrlen", "hgetall", "hkeys", "hvals", "hscan",
			"lindex", "llen", "lrange", "scard", "sdiff", "sinter", "sunion", "sismember", "smembers",
			"srandmember", "sscan", "zcard", "zcount", "zlexcount", "zrange", "zrangebylex", "zrangebyscore",
			"zrank", "zrevrange", "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscore", "zscan",
			"pfcount", "geodist", "geohash", "geopos", "json.get", "json.type", "json.mget",
			"json.arrlen", "json.objkeys", "json.objlen", "sort_ro", "georadius_ro", "eval_ro",
		},
		msg.ClassWrite: {
			"set", "setnx", "setex", "psetex", "getset", "append", "incr", "incrby", "incrbyfloat",
			"decr", "decrby", "setrange", "setbit", "expire", "expireat", "pexpire", "pexpireat",
			"persist", "restore", "sort", "hset", "hsetnx", "hdel", "hmset", "hincrby", "hincrbyfloat",
			"linsert", "lpop", "lpush", "lpushx", "lrem", "lset", "ltrim", "rpop", "rpoplpush", "rpush",
			"rpushx", "sadd", "sdiffstore", "sinterstore", "smove", "spop", "srem", "sunionstore",
			"zadd", "zincrby", "zinterstore", "zrem", "zremrangebylex", "zremrangebyrank",
			"zremrangebyscore", "zunionstore", "pfadd", "geoadd", "georadius", "georadiusbymember",
			"json.set", "json.del", "json.arrappend", "json.arrinsert", "eval", "evalsha",
			"getdel", "getex", "zpopmin", "zpopmax",
		},
		msg.ClassMultiKey: {"mget", "del", "exists", "mset", "unlink"},
		msg.ClassLocal:    {"ping", "info", "config", "slaveof"},
		msg.ClassAllNodes: {"script", "function"},
		msg.ClassProxy: {"quit", "echo", "command", "hello", "dyno_config:conn_consistency", "keys", "scan",
			"client", "select", "reset", "multi", "exec", "discard", "watch", "unwatch", "dbsize", "randomkey",
			"flushdb", "flushall"},
	}
	for class, names := range tests {
		t.Run(class.String(), func(t *testing.T) {
			for _, name := range names {
				require.Equal(t, class, mustLookup(t, name).Class, name)
			}
		})
	}
	for _, c := range Commands() {
		require.NotEqual(t, msg.ClassUnsupported, c.Class, "%s: unsupported commands are left out of the table", c.Name)
	}
}

// upstreamCommands is every command proto/dyn_redis.c redis_parse_req accepts in
// Netflix Dynomite (SCRIPT LOAD/EXISTS/FLUSH/KILL are the "script" entry).
var upstreamCommands = []string{
	"get", "set", "setnx", "setex", "psetex", "getset", "append", "incr", "incrby", "incrbyfloat",
	"decr", "decrby", "strlen", "getrange", "setrange", "getbit", "setbit", "bitcount",
	"ttl", "pttl", "type", "expire", "expireat", "pexpire", "pexpireat", "persist", "dump", "restore", "sort",
	"mget", "del", "exists", "mset",
	"hget", "hset", "hsetnx", "hdel", "hexists", "hlen", "hmget", "hmset", "hincrby", "hincrbyfloat",
	"hstrlen", "hgetall", "hkeys", "hvals", "hscan",
	"lindex", "linsert", "llen", "lpop", "lpush", "lpushx", "lrange", "lrem", "lset", "ltrim", "rpop",
	"rpoplpush", "rpush", "rpushx",
	"sadd", "scard", "sdiff", "sdiffstore", "sinter", "sinterstore", "sismember", "smembers", "smove",
	"spop", "srandmember", "srem", "sunion", "sunionstore", "sscan",
	"zadd", "zcard", "zcount", "zincrby", "zinterstore", "zunionstore", "zlexcount", "zrange",
	"zrangebylex", "zrangebyscore", "zrank", "zrem", "zremrangebylex", "zremrangebyrank",
	"zremrangebyscore", "zrevrange", "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscore", "zscan",
	"pfadd", "pfcount", "geoadd", "georadius", "geodist", "geohash", "geopos", "georadiusbymember",
	"json.set", "json.get", "json.del", "json.type", "json.mget", "json.arrappend", "json.arrinsert",
	"json.arrlen", "json.objkeys", "json.objlen",
	"eval", "evalsha", "script",
	"ping", "info", "keys", "scan", "config", "slaveof", "quit",
	"dyno_config:conn_consistency",
}

func TestEveryUpstreamCommandIsInTheTable(t *testing.T) {
	for _, name := range upstreamCommands {
		c := mustLookup(t, name)
		require.True(t, c.Upstream, "%s is marked Upstream", name)
	}
	var extra []string
	for _, c := range Commands() {
		if c.Upstream {
			require.Contains(t, upstreamCommands, c.Name, "only upstream's commands are marked Upstream")
		} else {
			extra = append(extra, c.Name)
		}
	}
	slices.Sort(extra)
	require.Equal(t, []string{
		"bitfield", "bitfield_ro", "bitpos", "client", "command", "dbsize", "discard", "echo", "eval_ro",
		"evalsha_ro", "exec", "expiretime", "fcall", "fcall_ro", "flushall", "flushdb", "function",
		"georadius_ro", "georadiusbymember_ro", "geosearch", "getdel", "getex", "hello", "hrandfield",
		"lpos", "memory", "multi", "object", "pexpiretime", "psubscribe", "publish", "pubsub",
		"punsubscribe", "randomkey", "reset", "select", "smismember", "sort_ro", "spublish",
		"ssubscribe", "subscribe", "substr", "sunsubscribe", "unlink", "unsubscribe", "unwatch", "watch",
		"zmscore", "zpopmax", "zpopmin", "zrandmember",
	}, extra, "commands beyond upstream are the ones table.go documents")
}

func TestLocalRackOnlyIsUpstreamsList(t *testing.T) {
	var got []string
	for _, c := range Commands() {
		if c.Flags.Has(msg.FlagLocalRackOnly) {
			got = append(got, c.Name)
			require.Equal(t, msg.ClassRead, c.Class)
		}
	}
	require.ElementsMatch(t, []string{"hgetall", "hkeys", "hvals", "hscan", "sscan", "zscan"}, got)
}

func TestStatsGroupsFollowUpstream(t *testing.T) {
	groups := []string{"get", "set", "del", "incr_decr", "keys", "mget", "scan", "sort", "lreqm",
		"sunion", "ping", "lists", "sets", "hashes", "sortedsets", "other"}
	for _, c := range Commands() {
		require.Contains(t, groups, c.Stats, c.Name)
		if c.StatsAlso != "" {
			require.Contains(t, groups, c.StatsAlso, c.Name)
		}
		if !c.Upstream {
			require.Equal(t, "other", c.Stats, "%s: commands beyond upstream count in other", c.Name)
		}
	}
	tests := map[string]struct{ name, stats, also string }{
		"GET has its own counter":               {"get", "get", ""},
		"SETEX counts as a set":                 {"setex", "set", ""},
		"INCR and DECR share a counter":         {"decr", "incr_decr", ""},
		"INCRBY is not in incr_decr upstream":   {"incrby", "other", ""},
		"LREM counts twice, as upstream does":   {"lrem", "lreqm", "lists"},
		"SUNION counts twice, as upstream does": {"sunion", "sunion", "sets"},
		"SADD counts in sets, not set":          {"sadd", "sets", ""},
		"LPUSH is other upstream":               {"lpush", "other", ""},
		"ZADD counts in sortedsets":             {"zadd", "sortedsets", ""},
		"HSET counts in hashes":                 {"hset", "hashes", ""},
		"HGET is other upstream":                {"hget", "other", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustLookup(t, tc.name)
			require.Equal(t, tc.stats, c.Stats)
			require.Equal(t, tc.also, c.StatsAlso)
		})
	}
}

func TestKeyReturnsTheRoutingKey(t *testing.T) {
	tests := map[string]struct {
		args []string
		key  string // "<nil>" for none
	}{
		"GET routes by its key":                    {args: []string{"GET", "k"}, key: "k"},
		"a too short GET has no key":               {args: []string{"GET"}, key: "<nil>"},
		"SET routes by its key":                    {args: []string{"SET", "k", "v", "EX", "10"}, key: "k"},
		"MSET routes by its first key":             {args: []string{"MSET", "a", "1", "b", "2"}, key: "a"},
		"SMOVE routes by its source":               {args: []string{"SMOVE", "src", "dst", "m"}, key: "src"},
		"ZUNIONSTORE routes by its destination":    {args: []string{"ZUNIONSTORE", "d", "2", "a", "b"}, key: "d"},
		"EVAL routes by KEYS[1]":                   {args: []string{"EVAL", "return 1", "2", "a", "b", "x"}, key: "a"},
		"EVALSHA routes by KEYS[1]":                {args: []string{"EVALSHA", "abc", "1", "k"}, key: "k"},
		"EVAL without keys has no key":             {args: []string{"EVAL", "return 1", "0"}, key: "<nil>"},
		"EVAL with a malformed numkeys has no key": {args: []string{"EVAL", "return 1", "x", "k"}, key: "<nil>"},
		"EVAL with a negative numkeys has no key":  {args: []string{"EVAL", "return 1", "-1", "k"}, key: "<nil>"},
		"EVAL with too large a numkeys has no key": {args: []string{"EVAL", "return 1", "3", "a", "b"}, key: "<nil>"},
		"EVAL without numkeys has no key":          {args: []string{"EVAL", "return 1"}, key: "<nil>"},
		"PING has no key":                          {args: []string{"PING"}, key: "<nil>"},
		"SCRIPT LOAD has no key":                   {args: []string{"SCRIPT", "LOAD", "return 1"}, key: "<nil>"},
		"an empty key is still a key":              {args: []string{"GET", ""}, key: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k := mustLookup(t, tc.args[0]).Key(args(tc.args...))
			if tc.key == "<nil>" {
				require.Nil(t, k)
			} else {
				require.NotNil(t, k)
				require.Equal(t, tc.key, string(k))
			}
		})
	}
}

func TestKeysReturnsEveryKey(t *testing.T) {
	tests := map[string]struct {
		args []string
		keys []string
	}{
		"MGET's arguments are all keys":               {args: []string{"MGET", "a", "b", "c"}, keys: []string{"a", "b", "c"}},
		"MSET's keys are every other argument":        {args: []string{"MSET", "a", "1", "b", "2"}, keys: []string{"a", "b"}},
		"DEL's arguments are all keys":                {args: []string{"DEL", "a"}, keys: []string{"a"}},
		"SMOVE has two keys":                          {args: []string{"SMOVE", "s", "d", "m"}, keys: []string{"s", "d"}},
		"SUNIONSTORE's arguments are all keys":        {args: []string{"SUNIONSTORE", "d", "a", "b"}, keys: []string{"d", "a", "b"}},
		"ZUNIONSTORE has its destination and numkeys": {args: []string{"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}, keys: []string{"d", "a", "b"}},
		"JSON.MGET's last argument is a path":         {args: []string{"JSON.MGET", "a", "b", "$"}, keys: []string{"a", "b"}},
		"EVAL's keys are the numkeys after it":        {args: []string{"EVAL", "s", "2", "a", "b", "x"}, keys: []string{"a", "b"}},
		"EVAL with a malformed numkeys has none":      {args: []string{"EVAL", "s", "9", "a"}, keys: []string{}},
		"GET has one key":                             {args: []string{"GET", "k"}, keys: []string{"k"}},
		"a too short GET has none":                    {args: []string{"GET"}, keys: []string{}},
		"INFO has none":                               {args: []string{"INFO", "server"}, keys: []string{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dst := args("stale")
			got := mustLookup(t, tc.args[0]).Keys(args(tc.args...), dst)
			require.Equal(t, tc.keys, strs(got))
		})
	}
}

func TestAllowedChecksArityAndSubcommands(t *testing.T) {
	tests := map[string]struct {
		args []string
		err  string // "" when allowed
	}{
		"GET with its key":                     {args: []string{"get", "k"}},
		"GET without a key":                    {args: []string{"GET"}, err: "ERR wrong number of arguments for 'get' command"},
		"GET with two keys":                    {args: []string{"get", "a", "b"}, err: "ERR wrong number of arguments for 'get' command"},
		"SET with options":                     {args: []string{"set", "k", "v", "NX", "EX", "1"}},
		"SET without a value":                  {args: []string{"set", "k"}, err: "ERR wrong number of arguments for 'set' command"},
		"MSET with whole pairs":                {args: []string{"mset", "a", "1", "b", "2"}},
		"MSET with half a pair":                {args: []string{"mset", "a", "1", "b"}, err: "ERR wrong number of arguments for 'mset' command"},
		"CONFIG GET":                           {args: []string{"config", "GET", "maxmemory"}},
		"CONFIG GET of several parameters":     {args: []string{"CONFIG", "get", "a", "b"}},
		"CONFIG GET without a parameter":       {args: []string{"config", "get"}, err: "ERR wrong number of arguments for 'config|get' command"},
		"CONFIG SET is refused":                {args: []string{"config", "SET", "maxmemory", "1"}, err: "ERR unsupported command 'config|set'"},
		"CONFIG REWRITE is refused":            {args: []string{"config", "rewrite"}, err: "ERR unsupported command 'config|rewrite'"},
		"CONFIG without a subcommand":          {args: []string{"config"}, err: "ERR wrong number of arguments for 'config' command"},
		"SCRIPT LOAD":                          {args: []string{"script", "load", "return 1"}},
		"SCRIPT EXISTS of several scripts":     {args: []string{"script", "exists", "a", "b"}},
		"SCRIPT FLUSH":                         {args: []string{"script", "flush"}},
		"SCRIPT FLUSH ASYNC":                   {args: []string{"script", "flush", "async"}},
		"SCRIPT KILL":                          {args: []string{"SCRIPT", "KILL"}},
		"SCRIPT KILL with an argument":         {args: []string{"script", "kill", "x"}, err: "ERR wrong number of arguments for 'script|kill' command"},
		"SCRIPT LOAD without a script":         {args: []string{"script", "load"}, err: "ERR wrong number of arguments for 'script|load' command"},
		"SCRIPT DEBUG is refused":              {args: []string{"script", "debug", "yes"}, err: "ERR unsupported command 'script|debug'"},
		"a binary subcommand is quoted safely": {args: []string{"script", "x'\r\n"}, err: "ERR unsupported command 'script|x???'"},
		"EVAL with one key":                    {args: []string{"eval", "return 1", "1", "k"}},
		"EVAL without keys is allowed":         {args: []string{"eval", "return 1", "0"}},
		"EVAL with a malformed numkeys":        {args: []string{"eval", "return 1", "x"}, err: "ERR value is not an integer or out of range"},
		"EVAL with a negative numkeys":         {args: []string{"eval", "return 1", "-1"}, err: "ERR Number of keys can't be negative"},
		"EVAL with too many keys":              {args: []string{"eval", "return 1", "2", "a"}, err: "ERR Number of keys can't be greater than number of args"},
		"EVALSHA_RO with one key":              {args: []string{"evalsha_ro", "abc", "1", "k"}},
		"HELLO without a version":              {args: []string{"hello"}},
		"HELLO 2":                              {args: []string{"hello", "2", "SETNAME", "x"}},
		"HELLO 3 is allowed":                   {args: []string{"hello", "3"}},
		"HELLO 4 is refused":                   {args: []string{"hello", "4"}, err: "NOPROTO unsupported protocol version"},
		"HELLO with a malformed version":       {args: []string{"hello", "two"}, err: "ERR Protocol version is not an integer or out of range"},
		"PING with a message":                  {args: []string{"ping", "hi"}},
		"QUIT":                                 {args: []string{"quit"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mustLookup(t, tc.args[0]).Allowed(args(tc.args...))
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			var cerr *CommandError
			require.ErrorAs(t, err, &cerr)
			require.Equal(t, tc.err, err.Error())
		})
	}
}

func TestAllowedDoesNotAllocate(t *testing.T) {
	get := mustLookup(t, "get")
	eval := mustLookup(t, "eval")
	ok := args("GET", "k")
	short := args("GET")
	script := args("EVAL", "return 1", "1", "k")
	allocs := testing.AllocsPerRun(100, func() {
		_ = get.Allowed(ok)
		_ = get.Allowed(short)
		_ = eval.Allowed(script)
		_ = get.Key(ok)
		_ = eval.Key(script)
	})
	require.Zero(t, allocs)
}

func TestCommandTableIsWellFormed(t *testing.T) {
	for id, c := range Commands() {
		require.Equal(t, strings.ToLower(c.Name), c.Name)
		gotID, got := Lookup([]byte(c.Name))
		require.Same(t, c, got)
		require.Equal(t, uint16(id+1), gotID)
		require.NotZero(t, c.Arity, c.Name)
		if c.FirstKey > 0 {
			require.Positive(t, c.KeyStep, c.Name)
			require.LessOrEqual(t, c.FirstKey, max(-c.Arity, c.Arity)-1, "%s: the first key fits the arity", c.Name)
		}
		switch c.Class {
		case msg.ClassRead, msg.ClassWrite, msg.ClassMultiKey:
			require.True(t, c.FirstKey > 0 || c.NumKeysAt > 0, "%s: a routed command has a key", c.Name)
		default:
			require.Zero(t, c.FirstKey, c.Name)
			require.Zero(t, c.NumKeysAt, c.Name)
		}
	}
}
