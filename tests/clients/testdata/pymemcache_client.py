"""pymemcache (Debian's python3-pymemcache), default settings: writes through
one dynomite node, reads through another. Prints one line per feature,
"RESULT<TAB>feature<TAB>ok" or "RESULT<TAB>feature<TAB>error". Run by
memcache_test.go."""
import os
import sys
import time
from pymemcache.client.base import Client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rows import check, result  # noqa: E402

w = Client((sys.argv[1], int(sys.argv[2])))
r = Client((sys.argv[3], int(sys.argv[4])))


def set_get():
    check(w.set("pm:a", "1", noreply=False), True)
    check(r.get("pm:a"), b"1")


def multi_get():
    check(w.set("pm:b", "2", noreply=False), True)
    check(r.get_many(["pm:a", "pm:b", "pm:missing"]), {"pm:a": b"1", "pm:b": b"2"})


def storage():
    check(w.add("pm:a", "x", noreply=False), False)
    check(w.replace("pm:a", "r", noreply=False), True)
    check(w.append("pm:a", ">", noreply=False), True)
    check(w.prepend("pm:a", "<", noreply=False), True)
    check(r.get("pm:a"), b"<r>")


def arithmetic():
    check(w.set("pm:n", "10", noreply=False), True)
    check(w.incr("pm:n", 5), 15)
    check(w.decr("pm:n", 3), 12)
    check(r.get("pm:n"), b"12")


def cas():
    value, token = w.gets("pm:b")
    check(value, b"2")
    check(w.cas("pm:b", "3", token, noreply=False), True)
    check(r.get("pm:b"), b"3")


def touch_delete():
    check(w.touch("pm:b", 100, noreply=False), True)
    check(w.delete("pm:b", noreply=False), True)
    check(r.get("pm:b"), None)


def noreply():
    w.set("pm:q", "quiet")  # pymemcache's default: noreply
    # nothing tells the client when its write is done: look until it is
    deadline = time.time() + 5
    while r.get("pm:q") != b"quiet" and time.time() < deadline:
        time.sleep(0.05)
    check(r.get("pm:q"), b"quiet")


result("memcached: set, get", set_get)
result("memcached: multi-get", multi_get)
result("memcached: add, replace, append, prepend", storage)
result("memcached: incr, decr", arithmetic)
result("memcached: gets, cas", cas)
result("memcached: touch, delete", touch_delete)
result("memcached: noreply", noreply)
