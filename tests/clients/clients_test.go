package clients

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/valkey-io/valkey-go"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// Every client library against one three-rack cluster, each with its
// default settings: the features an application uses on day one. Each
// client uses keys of its own hash tag ({gr}, {py}...).
func TestClients(t *testing.T) {
	c := startCluster(t, clusterConfig{})
	addr := c.Addrs[0]
	t.Run("go-redis", func(t *testing.T) { goRedis(t, addr) })
	t.Run("rueidis", func(t *testing.T) { rueidisClient(t, addr, c.Addrs[1]) })
	t.Run("valkey-go", func(t *testing.T) { valkeyClient(t, addr, c.Addrs[1]) })
	host, port, _ := net.SplitHostPort(addr)
	t.Run("redis-py", func(t *testing.T) {
		// Debian's python3-redis is for Debian's python3
		if _, err := os.Stat("/usr/bin/python3"); err != nil {
			proxytest.NeedBinary(t, "/usr/bin/python3", "python3-redis")
		}
		runScript(t, "redis-py", nil, []string{"/usr/bin/python3", "testdata/redis_py.py", host, port})
	})
	t.Run("node-redis", func(t *testing.T) {
		node := proxytest.NeedBinary(t, "node", "node-redis")
		runScript(t, "node-redis", []string{"NODE_PATH=/usr/share/nodejs"}, []string{node, "testdata/node_redis.js", host, port})
	})
	t.Run("ruby-redis", func(t *testing.T) {
		ruby := proxytest.NeedBinary(t, "ruby", "ruby-redis")
		runScript(t, "ruby-redis", nil, []string{ruby, "testdata/ruby_redis.rb", host, port})
	})
	t.Run("php-redis", func(t *testing.T) {
		php := proxytest.NeedBinary(t, "php", "php-redis")
		runScript(t, "php-redis", nil, []string{php, "testdata/php_redis.php", host, port})
	})
}

// runScript runs a client's script, which prints one RESULT line per
// feature, and records them.
func runScript(t *testing.T, client string, env, argv []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	results := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 || f[0] != "RESULT" {
			continue
		}
		results++
		var ferr error
		if f[2] != "ok" {
			ferr = errors.New(f[2])
		}
		record(t, client, f[1], ferr)
	}
	if err != nil || results == 0 {
		if strings.Contains(stderr.String(), "No module named") || strings.Contains(stderr.String(), "Cannot find module") ||
			strings.Contains(stderr.String(), "cannot load such file") || strings.Contains(stderr.String(), "Class \"Redis\" not found") {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true): %s", client, stderr.String())
			}
			t.Skipf("%s is not installed: %s", client, stderr.String())
		}
		t.Fatalf("%s: %v after %d results\n%s%s", strings.Join(argv, " "), err, results, out, stderr.String())
	}
}

func check(got, want any) error {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

func goRedis(t *testing.T, addr string) {
	const client = "go-redis"
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	p := "{gr}:"
	record(t, client, "connection: connect with defaults", rdb.Ping(ctx).Err())
	record(t, client, "connection: CLIENT SETNAME, SELECT 0", func() error {
		conn := rdb.Conn()
		defer conn.Close()
		if err := conn.ClientSetName(ctx, "gr-app").Err(); err != nil {
			return err
		}
		name, err := conn.ClientGetName(ctx).Result()
		if err != nil {
			return err
		}
		if err := check(name, "gr-app"); err != nil {
			return err
		}
		return conn.Select(ctx, 0).Err()
	}())
	record(t, client, "commands: strings", func() error {
		if err := rdb.Set(ctx, p+"s", "v", 0).Err(); err != nil {
			return err
		}
		v, err := rdb.Get(ctx, p+"s").Result()
		if err != nil {
			return err
		}
		return check(v, "v")
	}())
	record(t, client, "commands: hashes (HGETALL)", func() error {
		if err := rdb.HSet(ctx, p+"h", "a", "1", "b", "2").Err(); err != nil {
			return err
		}
		m, err := rdb.HGetAll(ctx, p+"h").Result()
		if err != nil {
			return err
		}
		return check(m, map[string]string{"a": "1", "b": "2"})
	}())
	record(t, client, "commands: sorted sets (WITHSCORES, ZSCORE)", func() error {
		if err := rdb.ZAdd(ctx, p+"z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2.5, Member: "b"}).Err(); err != nil {
			return err
		}
		zs, err := rdb.ZRangeWithScores(ctx, p+"z", 0, -1).Result()
		if err != nil {
			return err
		}
		if err := check(zs, []redis.Z{{Score: 1, Member: "a"}, {Score: 2.5, Member: "b"}}); err != nil {
			return err
		}
		s, err := rdb.ZScore(ctx, p+"z", "b").Result()
		if err != nil {
			return err
		}
		return check(s, 2.5)
	}())
	record(t, client, "pipeline: without transaction", func() error {
		var incr *redis.IntCmd
		_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, p+"pp", "1", 0)
			incr = pipe.Incr(ctx, p+"pp")
			return nil
		})
		if err != nil {
			return err
		}
		return check(incr.Val(), 2)
	}())
	record(t, client, "transactions: MULTI/EXEC pipeline", func() error {
		var incr *redis.IntCmd
		_, err := rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, p+"t", "1", 0)
			incr = pipe.Incr(ctx, p+"t")
			return nil
		})
		if err != nil {
			return err
		}
		return check(incr.Val(), 2)
	}())
	record(t, client, "transactions: WATCH", func() error {
		if err := rdb.Set(ctx, p+"w", "5", 0).Err(); err != nil {
			return err
		}
		err := rdb.Watch(ctx, func(tx *redis.Tx) error {
			v, err := tx.Get(ctx, p+"w").Int()
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.Set(ctx, p+"w", v+1, 0)
				return nil
			})
			return err
		}, p+"w")
		if err != nil {
			return err
		}
		v, err := rdb.Get(ctx, p+"w").Result()
		if err != nil {
			return err
		}
		return check(v, "6")
	}())
	record(t, client, "scripts: SCRIPT LOAD, EVALSHA", func() error {
		inc := redis.NewScript("return redis.call('incrby', KEYS[1], ARGV[1])")
		if err := inc.Load(ctx, rdb).Err(); err != nil {
			return err
		}
		n, err := inc.EvalSha(ctx, rdb, []string{p + "sc"}, 5).Int()
		if err != nil {
			return err
		}
		return check(n, 5)
	}())
	record(t, client, "keyspace: SCAN iteration", func() error {
		for i := range 30 {
			if err := rdb.Set(ctx, fmt.Sprintf("%sscan:%d", p, i), i, 0).Err(); err != nil {
				return err
			}
		}
		seen := map[string]bool{}
		iter := rdb.Scan(ctx, 0, p+"scan:*", 7).Iterator()
		for iter.Next(ctx) {
			seen[iter.Val()] = true
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return check(len(seen), 30)
	}())
	record(t, client, "commands: introspection (TYPE, TTL, MEMORY USAGE, OBJECT ENCODING)", func() error {
		if err := rdb.Set(ctx, p+"i", "12345", time.Hour).Err(); err != nil {
			return err
		}
		if typ, err := rdb.Type(ctx, p+"i").Result(); err != nil || typ != "string" {
			return fmt.Errorf("TYPE: %v %v", typ, err)
		}
		if ttl, err := rdb.TTL(ctx, p+"i").Result(); err != nil || ttl <= 0 {
			return fmt.Errorf("TTL: %v %v", ttl, err)
		}
		if n, err := rdb.MemoryUsage(ctx, p+"i").Result(); err != nil || n <= 0 {
			return fmt.Errorf("MEMORY USAGE: %v %v", n, err)
		}
		enc, err := rdb.ObjectEncoding(ctx, p+"i").Result()
		if err != nil {
			return err
		}
		return check(enc, "int")
	}())
	record(t, client, "scripts: EVAL", func() error {
		n, err := rdb.Eval(ctx, "return redis.call('incrby', KEYS[1], ARGV[1])", []string{p + "ev"}, 3).Int()
		if err != nil {
			return err
		}
		return check(n, 3)
	}())
	record(t, client, "keyspace: KEYS, RANDOMKEY", func() error {
		keys, err := rdb.Keys(ctx, p+"scan:1*").Result()
		if err != nil {
			return err
		}
		if len(keys) != 11 { // scan:1, scan:10 ... scan:19
			return fmt.Errorf("KEYS found %d keys, want 11", len(keys))
		}
		return rdb.RandomKey(ctx).Err()
	}())
	record(t, client, "keyspace: FLUSHDB (allow_flush off: refused)", rdb.FlushDB(ctx).Err())
	record(t, client, "keyspace: DBSIZE", func() error {
		n, err := rdb.DBSize(ctx).Result()
		if err == nil && n < 30 {
			err = fmt.Errorf("DBSIZE %d, want at least 30", n)
		}
		return err
	}())
}

// rueidisClient: rueidis and valkey-go share a design (RESP3 only,
// auto-pipelining, client-side caching on by default: CLIENT TRACKING ON
// OPTIN on every connection). With their defaults they connect to node
// addr; a value they cache is invalidated by a write through another rack
// (other, a node of another rack).
func rueidisClient(t *testing.T, addr, other string) {
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	record(t, "rueidis", "connection: connect with defaults", err)
	if err != nil {
		return
	}
	t.Cleanup(cl.Close)
	do, multi := rueidisDo(cl)
	resp3Features(t, "rueidis", "{ru}:", do, multi, func(fn func(doFunc, multiFunc) error) error {
		return cl.Dedicated(func(d rueidis.DedicatedClient) error { do, multi := rueidisDo(d); return fn(do, multi) })
	})
	ctx := context.Background()
	record(t, "rueidis", "client-side caching: DoCache sees another node's SET", cachedGet(t, other, "{ru}:cached",
		func(key string) (string, bool, error) {
			r := cl.DoCache(ctx, cl.B().Get().Key(key).Cache(), time.Minute)
			v, err := r.ToString()
			return v, r.IsCacheHit(), err
		}))
}

// cachedGet checks a client's cached GET: it caches key's value (a second
// read is a cache hit), and sees the new value after a SET through other.
func cachedGet(t *testing.T, other, key string, get func(key string) (v string, hit bool, err error)) error {
	ctx := context.Background()
	w := redis.NewClient(&redis.Options{Addr: other})
	defer w.Close()
	if err := w.Set(ctx, key, "v1", 0).Err(); err != nil {
		return err
	}
	// the copy reaching this node's rack after the first read
	// invalidates it once: wait for a cache hit
	if err := within(10*time.Second, func() error {
		v, hit, err := get(key)
		if err != nil || v != "v1" || !hit {
			return fmt.Errorf("cached GET: %q (cache hit %v), %v; want v1 from the cache", v, hit, err)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := w.Set(ctx, key, "v2", 0).Err(); err != nil {
		return err
	}
	return within(10*time.Second, func() error {
		if v, _, err := get(key); err != nil || v != "v2" {
			return fmt.Errorf("the cached GET answers %q (%v) after another client's SET: no invalidation", v, err)
		}
		return nil
	})
}

// within retries f until it succeeds, returning its last error after d.
func within(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// doFunc sends one command; multiFunc several in one pipeline (DoMulti).
type (
	doFunc    func(args ...string) (any, error)
	multiFunc func(cmds [][]string) ([]any, error)
)

func rueidisDo(cl rueidis.CoreClient) (doFunc, multiFunc) {
	ctx := context.Background()
	b := cl.B()
	return func(args ...string) (any, error) { return cl.Do(ctx, b.Arbitrary(args...).Build()).ToAny() },
		func(cmds [][]string) ([]any, error) {
			var cs rueidis.Commands
			for _, c := range cmds {
				cs = append(cs, b.Arbitrary(c...).Build())
			}
			return allAny(cl.DoMulti(ctx, cs...), rueidis.IsRedisNil)
		}
}

func valkeyClient(t *testing.T, addr, other string) {
	cl, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{addr}})
	record(t, "valkey-go", "connection: connect with defaults", err)
	if err != nil {
		return
	}
	t.Cleanup(cl.Close)
	do, multi := valkeyDo(cl)
	resp3Features(t, "valkey-go", "{vk}:", do, multi, func(fn func(doFunc, multiFunc) error) error {
		return cl.Dedicated(func(d valkey.DedicatedClient) error { do, multi := valkeyDo(d); return fn(do, multi) })
	})
	ctx := context.Background()
	record(t, "valkey-go", "client-side caching: DoCache sees another node's SET", cachedGet(t, other, "{vk}:cached",
		func(key string) (string, bool, error) {
			r := cl.DoCache(ctx, cl.B().Get().Key(key).Cache(), time.Minute)
			v, err := r.ToString()
			return v, r.IsCacheHit(), err
		}))
}

func valkeyDo(cl valkey.CoreClient) (doFunc, multiFunc) {
	ctx := context.Background()
	b := cl.B()
	return func(args ...string) (any, error) { return cl.Do(ctx, b.Arbitrary(args...).Build()).ToAny() },
		func(cmds [][]string) ([]any, error) {
			var cs valkey.Commands
			for _, c := range cmds {
				cs = append(cs, b.Arbitrary(c...).Build())
			}
			return allAny(cl.DoMulti(ctx, cs...), valkey.IsValkeyNil)
		}
}

// allAny is the values of a pipeline's results (nil for a nil reply).
func allAny[R interface{ ToAny() (any, error) }](results []R, isNil func(error) bool) ([]any, error) {
	var out []any
	for _, r := range results {
		v, err := r.ToAny()
		if err != nil && !isNil(err) {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// resp3Features runs the features through a RESP3 client's generic
// command API: do sends one command, multi sends several in one
// pipeline (rueidis' DoMulti).
func resp3Features(t *testing.T, client, p string, do doFunc, multi multiFunc, dedicated func(func(doFunc, multiFunc) error) error) {
	want := func(args []string, expect any) error {
		v, err := do(args...)
		if err != nil {
			return err
		}
		return check(v, expect)
	}
	steps := func(s ...func() error) error {
		for _, f := range s {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	record(t, client, "connection: CLIENT SETNAME, SELECT 0", steps(
		func() error { return want([]string{"SELECT", "0"}, "OK") },
		func() error { return want([]string{"CLIENT", "SETNAME", "app"}, "OK") },
	))
	record(t, client, "commands: strings", steps(
		func() error { return want([]string{"SET", p + "s", "v"}, "OK") },
		func() error { return want([]string{"GET", p + "s"}, "v") },
	))
	record(t, client, "commands: hashes (HGETALL)", steps(
		func() error { return want([]string{"HSET", p + "h", "a", "1"}, 1) },
		func() error { return want([]string{"HGETALL", p + "h"}, map[string]any{"a": "1"}) },
	))
	record(t, client, "commands: sorted sets (WITHSCORES, ZSCORE)", steps(
		func() error { return want([]string{"ZADD", p + "z", "1", "a", "2.5", "b"}, 2) },
		func() error { return want([]string{"ZSCORE", p + "z", "b"}, 2.5) },
		func() error {
			return want([]string{"ZRANGE", p + "z", "0", "-1", "WITHSCORES"}, []any{[]any{"a", 1.0}, []any{"b", 2.5}})
		},
	))
	record(t, client, "pipeline: without transaction", func() error {
		v, err := multi([][]string{{"SET", p + "pp", "1"}, {"INCR", p + "pp"}, {"GET", p + "pp"}})
		if err != nil {
			return err
		}
		return check(v, []any{"OK", 2, "2"})
	}())
	record(t, client, "transactions: MULTI/EXEC pipeline", func() error {
		v, err := multi([][]string{{"MULTI"}, {"SET", p + "t", "1"}, {"INCR", p + "t"}, {"EXEC"}})
		if err != nil {
			return err
		}
		return check(v, []any{"OK", "QUEUED", "QUEUED", []any{"OK", 2}})
	}())
	record(t, client, "transactions: WATCH", func() error {
		if err := want([]string{"SET", p + "w", "5"}, "OK"); err != nil {
			return err
		}
		err := dedicated(func(do doFunc, multi multiFunc) error {
			if _, err := do("WATCH", p+"w"); err != nil {
				return err
			}
			v, err := do("GET", p+"w")
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(fmt.Sprint(v))
			got, err := multi([][]string{{"MULTI"}, {"SET", p + "w", strconv.Itoa(n + 1)}, {"EXEC"}})
			if err != nil {
				return err
			}
			return check(got, []any{"OK", "QUEUED", []any{"OK"}})
		})
		if err != nil {
			return err
		}
		return want([]string{"GET", p + "w"}, "6")
	}())
	record(t, client, "scripts: SCRIPT LOAD, EVALSHA", func() error {
		sha, err := do("SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])")
		if err != nil {
			return err
		}
		return want([]string{"EVALSHA", fmt.Sprint(sha), "1", p + "sc"}, 1)
	}())
	record(t, client, "keyspace: SCAN iteration", func() error {
		for i := range 30 {
			if _, err := do("SET", fmt.Sprintf("%sscan:%d", p, i), "x"); err != nil {
				return err
			}
		}
		seen := map[string]bool{}
		cursor := "0"
		for {
			v, err := do("SCAN", cursor, "MATCH", p+"scan:*", "COUNT", "7")
			if err != nil {
				return err
			}
			page, ok := v.([]any)
			if !ok || len(page) != 2 {
				return fmt.Errorf("SCAN answered %v", v)
			}
			keys, _ := page[1].([]any)
			for _, k := range keys {
				seen[fmt.Sprint(k)] = true
			}
			if cursor = fmt.Sprint(page[0]); cursor == "0" {
				break
			}
		}
		return check(len(seen), 30)
	}())
	record(t, client, "commands: introspection (TYPE, TTL, MEMORY USAGE, OBJECT ENCODING)", steps(
		func() error { return want([]string{"SET", p + "i", "12345", "EX", "3600"}, "OK") },
		func() error { return want([]string{"TYPE", p + "i"}, "string") },
		func() error { return want([]string{"OBJECT", "ENCODING", p + "i"}, "int") },
		func() error {
			v, err := do("MEMORY", "USAGE", p+"i")
			if n, ok := v.(int64); err == nil && (!ok || n <= 0) {
				err = fmt.Errorf("MEMORY USAGE %v", v)
			}
			return err
		},
	))
	record(t, client, "scripts: EVAL", want([]string{"EVAL", "return redis.call('incrby', KEYS[1], ARGV[1])", "1", p + "ev", "3"}, 3))
	record(t, client, "keyspace: DBSIZE", func() error {
		v, err := do("DBSIZE")
		if n, ok := v.(int64); err == nil && (!ok || n < 30) {
			err = fmt.Errorf("DBSIZE %v, want at least 30", v)
		}
		return err
	}())
}
