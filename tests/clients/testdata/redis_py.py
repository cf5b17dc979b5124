"""redis-py (Debian's python3-redis) with its default settings against a
dynomite node: prints one line per feature, "RESULT<TAB>feature<TAB>ok" or
"RESULT<TAB>feature<TAB>error text". Run by clients_test.go."""
import os
import sys
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rows import check, result  # noqa: E402

host, port = sys.argv[1], int(sys.argv[2])
p = "{py}:"


r = redis.Redis(host=host, port=port)


def connect():
    check(r.ping(), True)


def setname():
    check(r.client_setname("py-app"), True)
    check(r.client_getname(), "py-app")
    check(r.execute_command("SELECT", 0), True)


def strings():
    r.set(p + "s", "v")
    check(r.get(p + "s"), b"v")


def hashes():
    r.hset(p + "h", mapping={"a": "1", "b": "2"})
    check(r.hgetall(p + "h"), {b"a": b"1", b"b": b"2"})


def zsets():
    r.zadd(p + "z", {"a": 1, "b": 2.5})
    check(r.zrange(p + "z", 0, -1, withscores=True), [(b"a", 1.0), (b"b", 2.5)])
    check(r.zscore(p + "z", "b"), 2.5)


def plain_pipeline():
    pipe = r.pipeline(transaction=False)
    pipe.set(p + "pp", "1").incr(p + "pp").get(p + "pp")
    check(pipe.execute(), [True, 2, b"2"])


def multi_exec():
    pipe = r.pipeline()  # MULTI/EXEC by default
    pipe.set(p + "t", "1").incr(p + "t").get(p + "t")
    check(pipe.execute(), [True, 2, b"2"])


def watch():
    r.set(p + "w", "5")
    with r.pipeline() as pipe:
        pipe.watch(p + "w")
        v = int(pipe.get(p + "w"))
        pipe.multi()
        pipe.set(p + "w", v + 1)
        pipe.execute()
    check(r.get(p + "w"), b"6")


def scripts():
    sha = r.script_load("return redis.call('incr', KEYS[1])")
    check(r.evalsha(sha, 1, p + "sc"), 1)
    inc = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    check(inc(keys=[p + "sc"], args=[5]), 6)


def scan():
    for i in range(30):
        r.set("%sscan:%d" % (p, i), i)
    keys = set(r.scan_iter(match=p + "scan:*", count=7))
    check(len(keys), 30)


def dbsize():
    if r.dbsize() < 30:
        raise AssertionError("DBSIZE %d, want at least 30" % r.dbsize())


def introspection():
    r.set(p + "i", "12345", ex=3600)
    check(r.type(p + "i"), b"string")
    if r.ttl(p + "i") <= 0:
        raise AssertionError("TTL %r" % r.ttl(p + "i"))
    if r.memory_usage(p + "i") <= 0:
        raise AssertionError("MEMORY USAGE %r" % r.memory_usage(p + "i"))
    check(r.object("encoding", p + "i"), b"int")


def eval_script():
    check(r.eval("return redis.call('incrby', KEYS[1], ARGV[1])", 1, p + "ev", 3), 3)


def keys_randomkey():
    check(len(r.keys(p + "scan:1*")), 11)
    if r.randomkey() is None:
        raise AssertionError("RANDOMKEY found no key")


def flushdb():
    r.flushdb()


def lock():
    lk = r.lock(p + "lock", timeout=5)
    check(lk.acquire(blocking=False), True)
    check(r.lock(p + "lock", timeout=5).acquire(blocking=False), False)
    lk.release()


result("connection: connect with defaults", connect)
result("connection: CLIENT SETNAME, SELECT 0", setname)
result("commands: strings", strings)
result("commands: hashes (HGETALL)", hashes)
result("commands: sorted sets (WITHSCORES, ZSCORE)", zsets)
result("pipeline: without transaction", plain_pipeline)
result("transactions: MULTI/EXEC pipeline", multi_exec)
result("transactions: WATCH", watch)
result("scripts: SCRIPT LOAD, EVALSHA", scripts)
result("keyspace: SCAN iteration", scan)
result("keyspace: DBSIZE", dbsize)
result("locks: the client's lock", lock)
result("commands: introspection (TYPE, TTL, MEMORY USAGE, OBJECT ENCODING)", introspection)
result("scripts: EVAL", eval_script)
result("keyspace: KEYS, RANDOMKEY", keys_randomkey)
result("keyspace: FLUSHDB (allow_flush off: refused)", flushdb)
