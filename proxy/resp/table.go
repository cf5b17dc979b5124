package resp

import "github.com/dynomite-go/dynomite/proxy/msg"

// The command table, after codis's opTable (pkg/proxy/mapper.go), filled
// with what Netflix Dynomite routes (src/proto/dyn_redis.c) and classified
// by what each command does (checked against Redis 7.0's COMMAND INFO in
// table_test.go). Commands not listed are unsupported.
//
// Classification that differs from upstream (proto/dyn_redis.c redis_parse_req):
//
//   - TTL and PFCOUNT are reads (upstream: writes, so they were sent to every
//     rack and DC).
//   - SUNIONSTORE, ZINTERSTORE and ZUNIONSTORE are writes (upstream: reads,
//     so at DC_ONE their result was never replicated).
//   - SORT, GEORADIUS and GEORADIUSBYMEMBER are writes (upstream: reads):
//     with a STORE option they write, and a per-call class would make the
//     routing depend on option parsing. Writes are the safe side: a plain
//     query is also sent to the other racks and DCs and the client still
//     gets the local answer. Clients that want read routing use SORT_RO,
//     GEORADIUS_RO and GEORADIUSBYMEMBER_RO (added below).
//   - UNLINK is multi-key like DEL and BITPOS is a read; upstream parsed
//     both but could not run them.
//   - Arity follows Redis 7.0, which is looser than upstream in places:
//     HSET with several pairs, LPOP/RPOP/SPOP/SRANDMEMBER with a count,
//     INFO with several sections, CONFIG GET with several parameters.
//
// Commands added beyond upstream (Upstream false), each safe to route by
// its first key or answered by the proxy:
//
//	strings   GETDEL, GETEX, SUBSTR, BITFIELD, BITFIELD_RO
//	keys      UNLINK, EXPIRETIME, PEXPIRETIME, SORT_RO
//	bitmaps   BITPOS
//	hashes    HRANDFIELD
//	lists     LPOS
//	sets      SMISMEMBER
//	zsets     ZRANDMEMBER, ZMSCORE, ZPOPMIN, ZPOPMAX
//	geo       GEOSEARCH, GEORADIUS_RO, GEORADIUSBYMEMBER_RO
//	scripts   EVAL_RO, EVALSHA_RO
//	proxy     ECHO, COMMAND, HELLO (RESP2 only)
//	pub/sub   SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH,
//	          SPUBLISH, PUBSUB (the node's own registry, proxy/pubsub.go)
//
// Commands with two unrelated keys that upstream did not support (RENAME,
// LMOVE, COPY, BITOP, PFMERGE, ZRANGESTORE, SINTERCARD, ...) stay out, as do
// AUTH, SELECT, transactions, blocking commands, streams, FLUSHALL,
// FLUSHDB, DBSIZE, RANDOMKEY, MIGRATE, MOVE, OBJECT, CLIENT and the like.
//
// Stats follows upstream's req_redis_stats (dyn_client.c) for upstream
// commands, with one fix: upstream counts the set-type commands (SADD,
// SREM, SINTER, ...) in redis_req_set, leaving redis_req_sets forever 0;
// here they count in "sets", while SET, SETBIT, SETEX and SETRANGE stay in
// "set". Commands added beyond upstream count in "other".

type keySpec struct{ first, last, step, numKeysAt int }

var (
	noKeys     = keySpec{}
	key1       = keySpec{1, 1, 1, 0}  // KEY ...
	key12      = keySpec{1, 2, 1, 0}  // SRC DST ...
	allKeys    = keySpec{1, -1, 1, 0} // KEY [KEY ...]
	pairKeys   = keySpec{1, -1, 2, 0} // KEY VALUE [KEY VALUE ...]
	keysButEnd = keySpec{1, -2, 1, 0} // KEY [KEY ...] PATH
	scriptKeys = keySpec{0, 0, 0, 2}  // SCRIPT NUMKEYS KEY... ARG...
	storeKeys  = keySpec{1, 1, 1, 2}  // DST NUMKEYS KEY... [options]
)

// The bits of def's flags argument; def turns them into Command fields.
// Read, write and keyless follow from the class and the key spec; the
// others are set here.
const (
	up        = 1 << iota // Upstream
	localRack             // msg.FlagLocalRackOnly
	del                   // msg.FlagDelete
	script                // msg.FlagScript
	rd                    // a multi-key read: msg.FlagRead
	wr                    // a multi-key write: msg.FlagWrite
	array                 // msg.CoalesceArray
	sum                   // msg.CoalesceSum
	status                // msg.CoalesceStatus
)

const (
	read     = msg.ClassRead
	write    = msg.ClassWrite
	multiKey = msg.ClassMultiKey
	local    = msg.ClassLocal
	allNodes = msg.ClassAllNodes
	proxy    = msg.ClassProxy
)

func def(name string, class msg.Class, arity int, ks keySpec, flags int, stats string) Command {
	return Command{
		Name: name, Class: class, Arity: arity,
		FirstKey: ks.first, LastKey: ks.last, KeyStep: ks.step, NumKeysAt: ks.numKeysAt,
		Flags:    routingFlags(class, ks, flags),
		Upstream: flags&up != 0,
		Stats:    stats,
	}
}

func routingFlags(class msg.Class, ks keySpec, flags int) msg.Flags {
	var f msg.Flags
	switch class {
	case msg.ClassRead:
		f |= msg.FlagRead
	case msg.ClassWrite:
		f |= msg.FlagWrite
	case msg.ClassMultiKey:
		f |= msg.FlagMultiKey
	}
	if ks == noKeys {
		f |= msg.FlagKeyless
	}
	for _, b := range [...]struct {
		bit  int
		flag msg.Flags
	}{
		{localRack, msg.FlagLocalRackOnly}, {del, msg.FlagDelete}, {script, msg.FlagScript},
		{rd, msg.FlagRead}, {wr, msg.FlagWrite},
		{array, msg.FlagCoalesceArray}, {sum, msg.FlagCoalesceSum}, {status, msg.FlagCoalesceStatus},
	} {
		if flags&b.bit != 0 {
			f |= b.flag
		}
	}
	return f
}

// answeredAs sets what the proxy does with a command it answers itself.
func answeredAs(c Command, a Answer) Command {
	c.Answer = a
	return c
}

func withCheck(c Command, check func(*Command, [][]byte) error) Command {
	c.check = check
	return c
}

func also(c Command, stats string) Command {
	c.StatsAlso = stats
	return c
}

// table is indexed by command id; id 0 is "no command".
var table = [...]Command{
	{},

	// strings
	def("get", read, 2, key1, up, "get"),
	def("set", write, -3, key1, up, "set"),
	def("setnx", write, 3, key1, up, "other"),
	def("setex", write, 4, key1, up, "set"),
	def("psetex", write, 4, key1, up, "other"),
	def("getset", write, 3, key1, up, "other"),
	def("append", write, 3, key1, up, "other"),
	def("incr", write, 2, key1, up, "incr_decr"),
	def("incrby", write, 3, key1, up, "other"),
	def("incrbyfloat", write, 3, key1, up, "other"),
	def("decr", write, 2, key1, up, "incr_decr"),
	def("decrby", write, 3, key1, up, "other"),
	def("strlen", read, 2, key1, up, "other"),
	def("getrange", read, 4, key1, up, "other"),
	def("setrange", write, 4, key1, up, "set"),
	def("getbit", read, 3, key1, up, "other"),
	def("setbit", write, 4, key1, up, "set"),
	def("bitcount", read, -2, key1, up, "other"),
	def("bitpos", read, -3, key1, 0, "other"),
	def("getdel", write, 2, key1, 0, "other"),
	def("getex", write, -2, key1, 0, "other"),
	def("substr", read, 4, key1, 0, "other"),
	def("bitfield", write, -2, key1, 0, "other"),
	def("bitfield_ro", read, -2, key1, 0, "other"),

	// keys
	def("ttl", read, 2, key1, up, "other"), // upstream: write
	def("pttl", read, 2, key1, up, "other"),
	def("type", read, 2, key1, up, "other"),
	def("expire", write, -3, key1, up, "other"),
	def("expireat", write, -3, key1, up, "other"),
	def("pexpire", write, -3, key1, up, "other"),
	def("pexpireat", write, -3, key1, up, "other"),
	def("persist", write, 2, key1, up, "other"),
	def("dump", read, 2, key1, up, "other"),
	def("restore", write, -4, key1, up, "other"),
	def("sort", write, -2, key1, up, "sort"), // upstream: read; STORE writes
	def("expiretime", read, 2, key1, 0, "other"),
	def("pexpiretime", read, 2, key1, 0, "other"),
	def("sort_ro", read, -2, key1, 0, "other"),

	// multi-key: fragmented per owner and coalesced
	def("mget", multiKey, -2, allKeys, up|rd|array, "mget"),
	withCheck(def("mset", multiKey, -3, pairKeys, up|wr|status, "other"), checkPairs),
	def("del", multiKey, -2, allKeys, up|wr|sum|del, "del"),
	def("exists", multiKey, -2, allKeys, up|rd|sum, "other"),
	def("unlink", multiKey, -2, allKeys, wr|sum, "other"), // upstream: parsed, unusable

	// hashes
	def("hget", read, 3, key1, up, "other"),
	def("hset", write, -4, key1, up, "hashes"),
	def("hsetnx", write, 4, key1, up, "hashes"),
	def("hdel", write, -3, key1, up, "other"),
	def("hexists", read, 3, key1, up, "other"),
	def("hlen", read, 2, key1, up, "other"),
	def("hmget", read, -3, key1, up, "other"),
	def("hmset", write, -4, key1, up, "other"),
	def("hincrby", write, 4, key1, up, "hashes"),
	def("hincrbyfloat", write, 4, key1, up, "hashes"),
	def("hstrlen", read, 3, key1, up, "other"),
	def("hgetall", read, 2, key1, up|localRack, "other"),
	def("hkeys", read, 2, key1, up|localRack, "other"),
	def("hvals", read, 2, key1, up|localRack, "other"),
	def("hscan", read, -3, key1, up|localRack, "other"),
	def("hrandfield", read, -2, key1, 0, "other"),

	// lists
	def("lindex", read, 3, key1, up, "lists"),
	def("linsert", write, 5, key1, up, "other"),
	def("llen", read, 2, key1, up, "other"),
	def("lpop", write, -2, key1, up, "other"),
	def("lpush", write, -3, key1, up, "other"),
	def("lpushx", write, -3, key1, up, "lists"),
	def("lrange", read, 4, key1, up, "lists"),
	also(def("lrem", write, 4, key1, up, "lreqm"), "lists"),
	def("lset", write, 4, key1, up, "lists"),
	def("ltrim", write, 4, key1, up, "lists"),
	def("rpop", write, -2, key1, up, "other"),
	def("rpoplpush", write, 3, key12, up, "other"),
	def("rpush", write, -3, key1, up, "other"),
	def("rpushx", write, -3, key1, up, "other"),
	def("lpos", read, -3, key1, 0, "other"),

	// sets
	def("sadd", write, -3, key1, up, "sets"),
	def("scard", read, 2, key1, up, "other"),
	def("sdiff", read, -2, allKeys, up, "sets"),
	def("sdiffstore", write, -3, allKeys, up, "sets"),
	def("sinter", read, -2, allKeys, up, "sets"),
	def("sinterstore", write, -3, allKeys, up, "sets"),
	def("sismember", read, 3, key1, up, "other"),
	def("smembers", read, 2, key1, up, "other"),
	def("smove", write, 4, key12, up, "other"),
	def("spop", write, -2, key1, up, "other"),
	def("srandmember", read, -2, key1, up, "other"),
	def("srem", write, -3, key1, up, "sets"),
	also(def("sunion", read, -2, allKeys, up, "sunion"), "sets"),
	def("sunionstore", write, -3, allKeys, up, "sets"), // upstream: read
	def("sscan", read, -3, key1, up|localRack, "sets"),
	def("smismember", read, -3, key1, 0, "other"),

	// sorted sets
	def("zadd", write, -4, key1, up, "sortedsets"),
	def("zcard", read, 2, key1, up, "other"),
	def("zcount", read, 4, key1, up, "sortedsets"),
	def("zincrby", write, 4, key1, up, "sortedsets"),
	def("zinterstore", write, -4, storeKeys, up, "sortedsets"), // upstream: read
	def("zlexcount", read, 4, key1, up, "sortedsets"),
	def("zrange", read, -4, key1, up, "sortedsets"),
	def("zrangebylex", read, -4, key1, up, "sortedsets"),
	def("zrangebyscore", read, -4, key1, up, "sortedsets"),
	def("zrank", read, 3, key1, up, "other"),
	def("zrem", write, -3, key1, up, "sortedsets"),
	def("zremrangebylex", write, 4, key1, up, "sortedsets"),
	def("zremrangebyrank", write, 4, key1, up, "sortedsets"),
	def("zremrangebyscore", write, 4, key1, up, "sortedsets"),
	def("zrevrange", read, -4, key1, up, "sortedsets"),
	def("zrevrangebylex", read, -4, key1, up, "sortedsets"),
	def("zrevrangebyscore", read, -4, key1, up, "sortedsets"),
	def("zrevrank", read, 3, key1, up, "other"),
	def("zscore", read, 3, key1, up, "other"),
	def("zunionstore", write, -4, storeKeys, up, "sortedsets"), // upstream: read
	def("zscan", read, -3, key1, up|localRack, "sortedsets"),
	def("zrandmember", read, -2, key1, 0, "other"),
	def("zmscore", read, -3, key1, 0, "other"),
	def("zpopmin", write, -2, key1, 0, "other"),
	def("zpopmax", write, -2, key1, 0, "other"),

	// hyperloglog: several PFCOUNT keys must share a node
	def("pfadd", write, -2, key1, up, "other"),
	def("pfcount", read, -2, allKeys, up, "other"), // upstream: write

	// geo
	def("geoadd", write, -5, key1, up, "other"),
	def("geodist", read, -4, key1, up, "other"),
	def("geohash", read, -2, key1, up, "other"),
	def("geopos", read, -2, key1, up, "other"),
	def("georadius", write, -6, key1, up, "other"),         // upstream: read; STORE writes
	def("georadiusbymember", write, -5, key1, up, "other"), // upstream: read; STORE writes
	def("geosearch", read, -7, key1, 0, "other"),
	def("georadius_ro", read, -6, key1, 0, "other"),
	def("georadiusbymember_ro", read, -5, key1, 0, "other"),

	// RedisJSON (a module; arities from its documentation, lenient where
	// versions differ: the module checks its own arguments)
	def("json.set", write, -4, key1, up, "other"),
	def("json.get", read, -2, key1, up, "other"),
	def("json.del", write, -2, key1, up, "other"),
	def("json.type", read, -2, key1, up, "other"),
	def("json.mget", read, -3, keysButEnd, up, "other"),
	def("json.arrappend", write, -3, key1, up, "other"), // the path is optional in RedisJSON 2
	def("json.arrinsert", write, -5, key1, up, "other"),
	def("json.arrlen", read, -2, key1, up, "other"),
	def("json.objkeys", read, -2, key1, up, "other"),
	def("json.objlen", read, -2, key1, up, "other"),

	// scripts: routed by KEYS[1]; every key must map to one node
	withCheck(def("eval", write, -3, scriptKeys, up|script, "other"), checkEval),
	withCheck(def("fcall", write, -3, scriptKeys, script, "other"), checkEval),
	withCheck(def("fcall_ro", read, -3, scriptKeys, script, "other"), checkEval),
	withCheck(def("function", allNodes, -2, noKeys, 0, "other"), checkFunction),
	withCheck(def("evalsha", write, -3, scriptKeys, up|script, "other"), checkEval),
	withCheck(def("eval_ro", read, -3, scriptKeys, script, "other"), checkEval),
	withCheck(def("evalsha_ro", read, -3, scriptKeys, script, "other"), checkEval),
	withCheck(def("script", allNodes, -2, noKeys, up, "other"), checkScript),

	// the local datastore only
	def("ping", local, -1, noKeys, up, "ping"),
	def("info", local, -1, noKeys, up, "other"),
	answeredAs(def("keys", proxy, 2, noKeys, up, "keys"), AnswerKeys),
	answeredAs(def("scan", proxy, -2, noKeys, up, "scan"), AnswerScan),
	withCheck(def("config", local, -2, noKeys, up, "other"), checkConfig),
	def("slaveof", local, 3, noKeys, up, "other"),

	// answered by the proxy
	answeredAs(def("quit", proxy, -1, noKeys, up, "other"), AnswerQuit),
	answeredAs(def("echo", proxy, 2, noKeys, 0, "other"), AnswerEcho),
	answeredAs(def("command", proxy, -1, noKeys, 0, "other"), AnswerCommand),
	answeredAs(withCheck(def("hello", proxy, -1, noKeys, 0, "other"), checkHello), AnswerHello),
	// DYNO_CONFIG:CONN_CONSISTENCY <level> sets the connection's read and
	// write consistency (dyn_message.c msg_apply_config).
	answeredAs(def("dyno_config:conn_consistency", proxy, 2, noKeys, up, "other"), AnswerConnConsistency),

	// Connection state, transactions and the keyspace of the whole rack,
	// answered by the client's session (proxy/session_redis.go,
	// proxy/keyspace.go).
	withCheck(answeredAs(def("client", proxy, -2, noKeys, 0, "other"), AnswerClient), checkClient),
	answeredAs(def("select", proxy, 2, noKeys, 0, "other"), AnswerSelect),
	answeredAs(def("reset", proxy, 1, noKeys, 0, "other"), AnswerReset),
	answeredAs(def("multi", proxy, 1, noKeys, 0, "other"), AnswerMulti),
	answeredAs(def("exec", proxy, 1, noKeys, 0, "other"), AnswerExec),
	answeredAs(def("discard", proxy, 1, noKeys, 0, "other"), AnswerDiscard),
	answeredAs(def("watch", proxy, -2, noKeys, 0, "other"), AnswerWatch), // keys: args[1:], the session's
	answeredAs(def("unwatch", proxy, 1, noKeys, 0, "other"), AnswerUnwatch),
	answeredAs(def("dbsize", proxy, 1, noKeys, 0, "other"), AnswerDBSize),
	answeredAs(def("randomkey", proxy, 1, noKeys, 0, "other"), AnswerRandomKey),
	answeredAs(def("flushdb", proxy, -1, noKeys, 0, "other"), AnswerFlush),
	answeredAs(def("flushall", proxy, -1, noKeys, 0, "other"), AnswerFlush),
	// introspection of one key, routed by it (MEMORY USAGE key, OBJECT
	// ENCODING key...)
	withCheck(def("memory", read, -3, keySpec{2, 2, 1, 0}, 0, "other"), checkMemory),
	withCheck(def("object", read, -3, keySpec{2, 2, 1, 0}, 0, "other"), checkObject),

	// pub/sub: every node keeps its clients' subscriptions and publishes
	// reach every node (proxy/pubsub.go)
	answeredAs(def("subscribe", proxy, -2, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("psubscribe", proxy, -2, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("ssubscribe", proxy, -2, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("unsubscribe", proxy, -1, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("punsubscribe", proxy, -1, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("sunsubscribe", proxy, -1, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("publish", proxy, 3, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("spublish", proxy, 3, noKeys, 0, "other"), AnswerPubSub),
	answeredAs(def("pubsub", proxy, -2, noKeys, 0, "other"), AnswerPubSub),
}
