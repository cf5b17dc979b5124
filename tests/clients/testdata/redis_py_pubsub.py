"""Pub/sub with redis-py (Debian's python3-redis), default settings: a
subscriber on one dynomite node, a publisher on another. Prints one line per
feature, "RESULT<TAB>feature<TAB>ok" or "RESULT<TAB>feature<TAB>error".
Run by pubsub_test.go."""
import os
import sys
import time
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rows import check, result  # noqa: E402

sub_host, sub_port, pub_host, pub_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sub = redis.Redis(host=sub_host, port=sub_port)
pub = redis.Redis(host=pub_host, port=pub_port)
ps = sub.pubsub()


def next_message(p):
    deadline = time.time() + 10
    while time.time() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if m is not None:
            return m
    raise TimeoutError("no message within 10s")


def confirmed(p, n):
    deadline = time.time() + 10
    got = 0
    while got < n and time.time() < deadline:
        m = p.get_message(timeout=1.0)
        if m is not None and m["type"].endswith("subscribe"):
            got += 1
    check(got, n)


def subscribe():
    ps.subscribe("py:news")
    confirmed(ps, 1)
    check(pub.publish("py:news", "hello"), 1)
    m = next_message(ps)
    check((m["type"], m["channel"], m["data"]), ("message", b"py:news", b"hello"))


def psubscribe():
    ps.psubscribe("py:n*")
    confirmed(ps, 1)
    check(pub.publish("py:nx", "p"), 1)
    m = next_message(ps)
    check((m["type"], m["pattern"], m["channel"], m["data"]), ("pmessage", b"py:n*", b"py:nx", b"p"))


def ssubscribe():
    sps = sub.pubsub()
    sps.ssubscribe("py:shard")
    deadline = time.time() + 10
    while time.time() < deadline:
        m = sps.get_sharded_message(timeout=1.0)
        if m is not None and m["type"] == "ssubscribe":
            break
    check(pub.spublish("py:shard", "s"), 1)
    while time.time() < deadline:
        m = sps.get_sharded_message(ignore_subscribe_messages=True, timeout=1.0)
        if m is not None:
            check((m["type"], m["channel"], m["data"]), ("smessage", b"py:shard", b"s"))
            sps.close()
            return
    raise TimeoutError("no smessage within 10s")


def introspection():
    check(pub.pubsub_numsub("py:news"), [(b"py:news", 1)])
    check(pub.pubsub_channels("py:*"), [b"py:news"])
    check(pub.pubsub_numpat(), 1)


def unsubscribe():
    ps.unsubscribe("py:news")
    ps.punsubscribe("py:n*")
    confirmed(ps, 2)
    check(pub.publish("py:news", "gone"), 0)


result("pub/sub: SUBSCRIBE, PUBLISH on another node", subscribe)
result("pub/sub: PSUBSCRIBE", psubscribe)
result("pub/sub: SSUBSCRIBE, SPUBLISH", ssubscribe)
result("pub/sub: PUBSUB NUMSUB, CHANNELS, NUMPAT of the cluster", introspection)
result("pub/sub: UNSUBSCRIBE", unsubscribe)
ps.close()
