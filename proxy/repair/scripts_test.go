package repair_test

import (
	"strconv"
	"testing"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/repair"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// redisFor starts a redis-server and returns a connection to it.
func redisFor(t *testing.T) *proxytest.Conn {
	t.Helper()
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	p := proxytest.StartRedis(t)
	c := proxytest.Dial(t, p.Addr)
	t.Cleanup(c.Close)
	return c
}

// write runs a metadata write at score and returns its reply.
func write(t *testing.T, c *proxytest.Conn, score float64, a ...string) string {
	t.Helper()
	op := repair.OpOf(lower(a[0]))
	b, ok := repair.AppendWrite(nil, op, args(a...), score)
	if !ok {
		t.Fatalf("AppendWrite refused %q", a)
	}
	return c.DoRaw(b)
}

// read runs a read script and returns its raw reply.
func read(t *testing.T, c *proxytest.Conn, a ...string) string {
	t.Helper()
	b, ok := repair.AppendRead(nil, repair.OpOf(lower(a[0])), args(a...))
	if !ok {
		t.Fatalf("AppendRead refused %q", a)
	}
	return c.DoRaw(b)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func TestKeyScriptsKeepUpstreamsLayoutAndSkipOlderWrites(t *testing.T) {
	c := redisFor(t)
	expect(t, "SET at 100", write(t, c, 100, "SET", "k", "v1"), "+OK\r\n")
	expect(t, "._add-set score", c.Do("ZSCORE", "._add-set", "k"), "$3\r\n100\r\n")
	expect(t, "older SET answers OK", write(t, c, 50, "set", "k", "old"), "+OK\r\n")
	expect(t, "older SET did not apply", c.Do("GET", "k"), "$2\r\nv1\r\n")
	expect(t, "read", read(t, c, "GET", "k"), "*3\r\n$1\r\nE\r\n$3\r\n100\r\n$2\r\nv1\r\n")
	expect(t, "SET with EX", write(t, c, 100.5, "SET", "k", "v2", "EX", "100"), "+OK\r\n")
	expect(t, "fractional score", c.Do("ZSCORE", "._add-set", "k"), "$5\r\n100.5\r\n")
	expect(t, "SET NX on an existing key", write(t, c, 101, "SET", "k", "v3", "NX"), "$-1\r\n")
	expect(t, "a SET NX that did nothing records nothing", c.Do("ZSCORE", "._add-set", "k"), "$5\r\n100.5\r\n")

	expect(t, "DEL at 200", write(t, c, 200, "DEL", "k", "never"), ":1\r\n")
	expect(t, "tombstone", c.Do("ZSCORE", "._rem-set", "k"), "$3\r\n200\r\n")
	expect(t, "a key never written gets a tombstone too", c.Do("ZSCORE", "._rem-set", "never"), "$3\r\n200\r\n")
	expect(t, "no add entry after the delete", c.Do("ZSCORE", "._add-set", "k"), "$-1\r\n")
	expect(t, "SET older than the delete", write(t, c, 150, "SET", "k", "zombie"), "+OK\r\n")
	expect(t, "the delete holds", read(t, c, "GET", "k"), "*3\r\n$1\r\nR\r\n$3\r\n200\r\n$-1\r\n")
	expect(t, "DEL older than a write", write(t, c, 10, "DEL", "k"), ":0\r\n")
	expect(t, "SET newer than the delete", write(t, c, 300, "SET", "k", "back"), "+OK\r\n")
	expect(t, "tombstone gone", c.Do("ZSCORE", "._rem-set", "k"), "$-1\r\n")
	expect(t, "read after", read(t, c, "GET", "k"), "*3\r\n$1\r\nE\r\n$3\r\n300\r\n$4\r\nback\r\n")
	expect(t, "no metadata", read(t, c, "GET", "other"), "*3\r\n$1\r\nX\r\n$1\r\n0\r\n$-1\r\n")
	c.Do("LPUSH", "list", "a")
	if got := read(t, c, "GET", "list"); got[0] != '-' || !contains(got, "WRONGTYPE") {
		t.Errorf("GET of a list: got %q, want the WRONGTYPE error", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestFieldScripts(t *testing.T) {
	c := redisFor(t)
	expect(t, "HSET", write(t, c, 100, "HSET", "h", "f1", "a", "f2", "b"), ":2\r\n")
	expect(t, "field score", c.Do("ZSCORE", "._add-set_h", "f1"), "$3\r\n100\r\n")
	expect(t, "key score", c.Do("ZSCORE", "._add-set", "h"), "$3\r\n100\r\n")
	expect(t, "older HMSET", write(t, c, 90, "HMSET", "h", "f1", "old", "f3", "c"), "+OK\r\n")
	expect(t, "older field kept", c.Do("HGET", "h", "f1"), "$1\r\na\r\n")
	expect(t, "new field of the older HMSET applied", c.Do("HGET", "h", "f3"), "$1\r\nc\r\n")
	expect(t, "key score does not go back", c.Do("ZSCORE", "._add-set", "h"), "$3\r\n100\r\n")
	expect(t, "HDEL", write(t, c, 110, "HDEL", "h", "f1", "nope"), ":1\r\n")
	expect(t, "field tombstone", c.Do("ZSCORE", "._rem-set_h", "f1"), "$3\r\n110\r\n")
	expect(t, "HGET removed", read(t, c, "HGET", "h", "f1"), "*3\r\n$1\r\nR\r\n$3\r\n110\r\n$-1\r\n")
	expect(t, "HGET exists", read(t, c, "HGET", "h", "f2"), "*3\r\n$1\r\nE\r\n$3\r\n100\r\n$1\r\nb\r\n")
	expect(t, "HSET older than the HDEL", write(t, c, 105, "HSET", "h", "f1", "zombie"), ":0\r\n")
	expect(t, "the HDEL holds", c.Do("HEXISTS", "h", "f1"), ":0\r\n")

	expect(t, "SADD", write(t, c, 100, "SADD", "s", "m1", "m2"), ":2\r\n")
	expect(t, "SISMEMBER", read(t, c, "SISMEMBER", "s", "m1"), "*3\r\n$1\r\nE\r\n$3\r\n100\r\n:1\r\n")
	expect(t, "SREM", write(t, c, 120, "SREM", "s", "m1"), ":1\r\n")
	expect(t, "SISMEMBER removed", read(t, c, "SISMEMBER", "s", "m1"), "*3\r\n$1\r\nR\r\n$3\r\n120\r\n:0\r\n")

	expect(t, "ZADD", write(t, c, 100, "ZADD", "z", "1.5", "a", "2", "b"), ":2\r\n")
	expect(t, "ZADD CH", write(t, c, 101, "ZADD", "z", "XX", "CH", "3", "a", "4", "c"), ":1\r\n")
	expect(t, "ZADD INCR", write(t, c, 102, "ZADD", "z", "INCR", "1", "b"), "$1\r\n3\r\n")
	expect(t, "ZSCORE", read(t, c, "ZSCORE", "z", "b"), "*3\r\n$1\r\nE\r\n$3\r\n102\r\n$1\r\n3\r\n")
	expect(t, "XX skipped c: no metadata", c.Do("ZSCORE", "._add-set_z", "c"), "$-1\r\n")
	expect(t, "ZREM", write(t, c, 130, "ZREM", "z", "a"), ":1\r\n")
	expect(t, "ZSCORE removed", read(t, c, "ZSCORE", "z", "a"), "*3\r\n$1\r\nR\r\n$3\r\n130\r\n$-1\r\n")

	expect(t, "DEL of the hash", write(t, c, 200, "DEL", "h"), ":1\r\n")
	expect(t, "field metadata dropped", c.Do("EXISTS", "._add-set_h", "._rem-set_h"), ":0\r\n")
	expect(t, "HGET after the key's delete", read(t, c, "HGET", "h", "f2"), "*3\r\n$1\r\nR\r\n$3\r\n200\r\n$-1\r\n")
	expect(t, "HSET older than the key's delete", write(t, c, 150, "HSET", "h", "f2", "zombie"), ":0\r\n")
	expect(t, "HSET newer than the key's delete", write(t, c, 250, "HSET", "h", "f2", "new"), ":1\r\n")
	expect(t, "the key lives again", c.Do("ZSCORE", "._rem-set", "h"), "$-1\r\n")
}

func TestCleanupRemovesOnlyTombstonesNotNewerThanTheDelete(t *testing.T) {
	c := redisFor(t)
	write(t, c, 100, "DEL", "a", "b")
	write(t, c, 300, "DEL", "b")
	clean, ok := repair.AppendCleanup(nil, repair.Del, args("DEL", "a", "b"), 100)
	if !ok {
		t.Fatal("AppendCleanup refused DEL")
	}
	expect(t, "cleanup", c.DoRaw(clean), ":1\r\n")
	expect(t, "a's tombstone", c.Do("ZSCORE", "._rem-set", "a"), "$-1\r\n")
	expect(t, "b's newer tombstone", c.Do("ZSCORE", "._rem-set", "b"), "$3\r\n300\r\n")

	write(t, c, 100, "SREM", "s", "x", "y")
	clean, _ = repair.AppendCleanup(nil, repair.SRem, args("SREM", "s", "x", "y"), 100)
	expect(t, "field cleanup", c.DoRaw(clean), ":2\r\n")
	expect(t, "field tombstones", c.Do("EXISTS", "._rem-set_s"), ":0\r\n")
	if _, ok := repair.AppendCleanup(nil, repair.SAdd, args("SADD", "s", "x"), 1); ok {
		t.Error("AppendCleanup accepted SADD")
	}
}

// AppendCleanupOf reads the cleanup back from the delete's own script: the
// same request AppendCleanup builds from the command's arguments.
func TestAppendCleanupOfReadsTheDeleteBack(t *testing.T) {
	for _, a := range [][]string{{"DEL", "a"}, {"DEL", "a", "b", "c"}, {"HDEL", "h", "f"}, {"SREM", "s", "x", "y"}, {"ZREM", "z", "m"}} {
		op := repair.OpOf(lower(a[0]))
		w, _ := repair.AppendWrite(nil, op, args(a...), 1764934290123.5)
		got, ok := repair.AppendCleanupOf(nil, w)
		want, _ := repair.AppendCleanup(nil, op, args(a...), 1764934290123.5)
		if !ok || string(got) != string(want) {
			t.Errorf("%q: AppendCleanupOf = %q, %v; want %q", a, got, ok, want)
		}
	}
	for _, a := range [][]string{{"SET", "k", "v"}, {"HSET", "h", "f", "v"}, {"SADD", "s", "m"}, {"ZADD", "z", "1", "m"}} {
		w, _ := repair.AppendWrite(nil, repair.OpOf(lower(a[0])), args(a...), 1)
		if _, ok := repair.AppendCleanupOf(nil, w); ok {
			t.Errorf("AppendCleanupOf accepted %q", a)
		}
	}
	if _, ok := repair.AppendCleanupOf(nil, []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")); ok {
		t.Error("AppendCleanupOf accepted a GET")
	}
}

func TestAppendWriteRefusesShapesTheScriptsDoNotTake(t *testing.T) {
	for _, a := range [][]string{
		{"SET", "k"}, {"SET", "k", "v", "GET"}, {"DEL"}, {"HSET", "h", "f"}, {"HMSET", "h", "f", "v", "g"},
		{"SADD", "s"}, {"ZADD", "z", "1"}, {"ZADD", "z", "NX", "1"}, {"ZADD", "z", "INCR", "1", "a", "2", "b"},
		{"GET", "k"},
	} {
		if _, ok := repair.AppendWrite(nil, repair.OpOf(lower(a[0])), args(a...), 1); ok {
			t.Errorf("AppendWrite accepted %q", a)
		}
	}
	for _, a := range [][]string{{"GET"}, {"GET", "k", "x"}, {"HGET", "h"}, {"SET", "k", "v"}} {
		if _, ok := repair.AppendRead(nil, repair.OpOf(lower(a[0])), args(a...)); ok {
			t.Errorf("AppendRead accepted %q", a)
		}
	}
}

// FuzzAppendWrite: whatever the arguments, a rewrite AppendWrite accepts is
// one well-formed EVAL whose keys and arguments are the command's.
func FuzzAppendWrite(f *testing.F) {
	f.Add("SET", "k", "v", "EX", "10", uint8(5))
	f.Add("ZADD", "z", "NX", "1", "m", uint8(5))
	f.Add("HMSET", "h", "f", "v", "", uint8(3))
	f.Add("DEL", "a", "b", "c", "d", uint8(5))
	f.Add("GET", "k", "", "", "", uint8(2))
	f.Fuzz(func(t *testing.T, name, a1, a2, a3, a4 string, n uint8) {
		all := [][]byte{[]byte(name), []byte(a1), []byte(a2), []byte(a3), []byte(a4)}
		in := all[:int(n)%(len(all)+1)]
		if len(in) == 0 {
			return
		}
		op := repair.OpOf(lower(name))
		lim := resp.DefaultLimits()
		for _, build := range []func() ([]byte, bool){
			func() ([]byte, bool) { return repair.AppendWrite(nil, op, in, 1764934290123.5) },
			func() ([]byte, bool) { return repair.AppendRead(nil, op, in) },
			func() ([]byte, bool) { return repair.AppendCleanup(nil, op, in, 7) },
		} {
			out, ok := build()
			if !ok {
				if len(out) != 0 {
					t.Fatalf("refused, but wrote %q", out)
				}
				continue
			}
			n, args, err := resp.ParseRequest(out, nil, &lim)
			if err != nil || n != len(out) {
				t.Fatalf("%q: not one RESP request (%d of %d bytes): %v", out, n, len(out), err)
			}
			if string(args[0]) != "EVAL" || len(args) < 4 {
				t.Fatalf("not an EVAL with a key: %q", args)
			}
			nk, err := strconv.Atoi(string(args[2]))
			if err != nil || nk < 1 || 3+nk > len(args) || string(args[3]) != string(in[1]) {
				t.Fatalf("numkeys %q, first key %q, want %q", args[2], args[3], in[1])
			}
		}
		if w, ok := repair.AppendWrite(nil, op, in, 3); ok {
			back, okBack := repair.AppendCleanupOf(nil, w)
			want, okWant := repair.AppendCleanup(nil, op, in, 3)
			if okBack != okWant || string(back) != string(want) {
				t.Fatalf("%q: AppendCleanupOf = %q, %v; AppendCleanup = %q, %v", in, back, okBack, want, okWant)
			}
		}
	})
}
