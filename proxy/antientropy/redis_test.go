package antientropy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cluster is three racks' datastores: dc1/r1, dc1/r2 and dc2/r1, each one
// node with the same token, so every node holds every key; ranges are the
// two ranges compared (not the whole ring: keys outside them must be left
// alone).
type cluster struct {
	topo     *ring.Topology
	ranges   stream.Ranges
	replicas []Replica
	conns    []*stream.Conn
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	places := [][2]string{{"dc1", "r1"}, {"dc1", "r2"}, {"dc2", "r1"}}
	var nodes []ring.Node
	c := &cluster{ranges: stream.Ranges{{Start: 0, End: 1 << 30}, {Start: 3 << 30, End: 1 << 28}}}
	for i, p := range places {
		name := fmt.Sprintf("n%d", i)
		nodes = append(nodes, ring.Node{Name: name, DC: p[0], Rack: p[1], Tokens: []ring.Token{1 << 31}})
		addr := proxytest.StartRedis(t).Addr
		c.replicas = append(c.replicas, Replica{Name: name, DC: p[0], Rack: p[1], Datastores: []Datastore{{Addr: addr}}})
		conn, err := stream.DialRedis(context.Background(), addr, 30*time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		c.conns = append(c.conns, conn)
	}
	var err error
	c.topo, err = ring.NewTopology("n0", nodes, ring.Options{HashTag: "{}"})
	require.NoError(t, err)
	return c
}

func (c *cluster) in(key string) bool {
	tok, ok := c.topo.KeyToken([]byte(key))
	return ok && c.ranges.Contains(tok)
}

// key returns the i-th key named after prefix that is (or is not) in the
// ranges.
func (c *cluster) key(prefix string, i int, in bool) string {
	for j := 0; ; j++ {
		k := fmt.Sprintf("%s:%d:%d", prefix, i, j)
		if c.in(k) == in {
			return k
		}
	}
}

// all runs a command on every replica.
func (c *cluster) all(t *testing.T, args ...string) {
	t.Helper()
	for i := range c.conns {
		c.on(t, i, args...)
	}
}

func (c *cluster) on(t *testing.T, i int, args ...string) stream.Value {
	t.Helper()
	v, err := c.conns[i].DoS(args...)
	require.NoError(t, err, "%v on replica %d", args, i)
	return v
}

func (c *cluster) run(t *testing.T, mod func(*Options)) Result {
	t.Helper()
	o := Options{Topology: c.topo, Ranges: c.ranges, Replicas: c.replicas, ScanCount: 50}
	if mod != nil {
		mod(&o)
	}
	r, err := New(o)
	require.NoError(t, err)
	res, err := r.Run(context.Background())
	require.NoError(t, err)
	require.Zero(t, res.Errors, res.LastError)
	return res
}

// TestRepairRedisReplicas loads three real Redis with the same data, injects
// differences on single replicas (missing keys, stale values, TTL
// differences, keys only one replica has), some of them outside the
// compared ranges, and checks one repair finds exactly the injected ones
// inside the ranges, fixes all of them by majority, leaves the others
// alone, and that a second repair finds nothing.
func TestRepairRedisReplicas(t *testing.T) {
	c := startCluster(t)
	for i := range 600 {
		k := fmt.Sprintf("user:%d", i)
		c.all(t, "SET", k, "v"+k)
		if i%5 == 0 {
			c.all(t, "PEXPIRE", k, "3600000")
		}
	}
	// A hash whose fields were written in a different order on each
	// replica: its DUMP differs, its value does not.
	h := c.key("hash", 0, true)
	c.on(t, 0, "HSET", h, "a", "1", "b", "2", "c", "3")
	c.on(t, 1, "HSET", h, "c", "3", "b", "2", "a", "1")
	c.on(t, 2, "HSET", h, "b", "2", "a", "1", "c", "3")
	injected := 0
	for i := range 40 {
		for _, in := range []bool{true, false} {
			k := c.key("stale", i, in)
			rep := i % 3
			c.all(t, "SET", k, "good")
			switch i % 4 {
			case 0: // stale value
				c.on(t, rep, "SET", k, "stale")
			case 1: // missing
				c.on(t, rep, "DEL", k)
			case 2: // TTL on one replica only
				c.on(t, rep, "PEXPIRE", k, "7200000")
			case 3: // a key one replica has and the others not (a delete it missed)
				c.on(t, rep, "SET", k+":extra", "x")
				k += ":extra"
				in = c.in(k)
			}
			if in {
				injected++
			}
		}
	}
	require.Greater(t, injected, 30)
	res := c.run(t, nil)
	require.Equal(t, int64(injected), res.Found, "%+v", res.Keys)
	require.Equal(t, int64(injected), res.Fixed)
	require.Equal(t, int64(injected), res.ByMajority)
	var perRange int
	for _, rr := range res.Ranges {
		perRange += rr.Found
	}
	require.Equal(t, injected, perRange)

	// Every in-range key now agrees, out-of-range ones are untouched.
	for i := range 40 {
		for _, in := range []bool{true, false} {
			k := c.key("stale", i, in)
			want := [3]string{"good", "good", "good"}
			if !in {
				switch i % 4 {
				case 0:
					want[i%3] = "stale"
				case 1:
					want[i%3] = ""
				}
			}
			for r := range 3 {
				if i%4 != 3 {
					require.Equal(t, want[r], string(c.on(t, r, "GET", k).Str), "%s on %d", k, r)
				}
			}
			if i%4 == 2 && in {
				for r := range 3 {
					require.Equal(t, int64(-1), c.on(t, r, "PTTL", k).Int, "%s on %d: the majority has no TTL", k, r)
				}
			}
		}
	}
	again := c.run(t, nil)
	require.Zero(t, again.Found, "%+v", again.Keys)
	require.Positive(t, again.Scanned)
}

// TestRepairByTimestamp: with read-repair metadata, the newest write wins
// over a majority, and a newer delete (a `._rem-set` tombstone) deletes the
// key everywhere with its metadata.
func TestRepairByTimestamp(t *testing.T) {
	c := startCluster(t)
	newer, deleted, older := c.key("newer", 0, true), c.key("deleted", 0, true), c.key("older", 0, true)
	c.all(t, "SET", newer, "old")
	c.all(t, "ZADD", "._add-set", "100", newer)
	c.on(t, 2, "SET", newer, "new")
	c.on(t, 2, "ZADD", "._add-set", "200", newer)

	c.all(t, "SET", deleted, "v")
	c.all(t, "ZADD", "._add-set", "100", deleted)
	c.on(t, 1, "DEL", deleted)
	c.on(t, 1, "ZREM", "._add-set", deleted)
	c.on(t, 1, "ZADD", "._rem-set", "300", deleted)

	// A tombstone older than the write: the key comes back.
	c.all(t, "SET", older, "v")
	c.all(t, "ZADD", "._add-set", "500", older)
	c.on(t, 0, "DEL", older)
	c.on(t, 0, "ZREM", "._add-set", older)
	c.on(t, 0, "ZADD", "._rem-set", "400", older)

	res := c.run(t, nil)
	require.Equal(t, int64(3), res.Found, "%+v", res.Keys)
	require.Equal(t, int64(3), res.Fixed)
	require.Equal(t, int64(3), res.ByTimestamp)
	for r := range 3 {
		require.Equal(t, "new", string(c.on(t, r, "GET", newer).Str))
		require.Equal(t, "200", string(c.on(t, r, "ZSCORE", "._add-set", newer).Str))
		require.True(t, c.on(t, r, "GET", deleted).Null)
		require.Equal(t, "300", string(c.on(t, r, "ZSCORE", "._rem-set", deleted).Str))
		require.True(t, c.on(t, r, "ZSCORE", "._add-set", deleted).Null)
		require.Equal(t, "v", string(c.on(t, r, "GET", older).Str))
		require.Equal(t, "500", string(c.on(t, r, "ZSCORE", "._add-set", older).Str))
		require.True(t, c.on(t, r, "ZSCORE", "._rem-set", older).Null)
	}
	require.Zero(t, c.run(t, nil).Found)
}

// TestRepairPreferredDC: three different values and no metadata: the
// preferred datacenter's wins; without one, the key is left alone and
// reported unresolved.
func TestRepairPreferredDC(t *testing.T) {
	c := startCluster(t)
	k := c.key("split", 0, true)
	for r := range 3 {
		c.on(t, r, "SET", k, fmt.Sprint("v", r))
	}
	res := c.run(t, nil)
	require.Equal(t, int64(1), res.Found)
	require.Equal(t, int64(1), res.Unresolved)
	require.Zero(t, res.Fixed)
	require.Equal(t, "v1", string(c.on(t, 1, "GET", k).Str))

	res = c.run(t, func(o *Options) { o.PreferredDC = "dc2" })
	require.Equal(t, int64(1), res.ByPreferredDC)
	require.Equal(t, int64(1), res.Fixed)
	for r := range 3 {
		require.Equal(t, "v2", string(c.on(t, r, "GET", k).Str))
	}
}

// TestRepairDryRunWritesNothing and TestRepairSkipsAKeyChangedMeanwhile
// check the two ways a repair leaves a divergent key alone.
func TestRepairDryRunWritesNothing(t *testing.T) {
	c := startCluster(t)
	k := c.key("k", 0, true)
	c.all(t, "SET", k, "good")
	c.on(t, 0, "SET", k, "bad")
	res := c.run(t, func(o *Options) { o.DryRun = true })
	require.Equal(t, int64(1), res.Found)
	require.Zero(t, res.Fixed)
	require.Equal(t, []KeyReport{{Key: k, Rule: "majority", Winner: "n1", Losers: []string{"n0"}}}, res.Keys)
	require.Equal(t, "bad", string(c.on(t, 0, "GET", k).Str))
}

func TestRepairSkipsAKeyChangedMeanwhile(t *testing.T) {
	c := startCluster(t)
	k := c.key("k", 0, true)
	c.all(t, "SET", k, "good")
	c.on(t, 0, "SET", k, "bad")
	r, err := New(Options{Topology: c.topo, Ranges: c.ranges, Replicas: c.replicas})
	require.NoError(t, err)
	conns, err := r.dialAll(context.Background())
	require.NoError(t, err)
	defer closeAll(conns)
	states, err := r.readKeys(context.Background(), conns, []string{k})
	require.NoError(t, err)
	c.on(t, 0, "SET", k, "written by a client meanwhile")
	require.NoError(t, r.repairKey(context.Background(), k, 0, states[0]))
	res := r.Progress()
	require.Equal(t, int64(1), res.Found)
	require.Equal(t, int64(1), res.ChangedMeanwhile)
	require.Zero(t, res.Fixed)
	require.Equal(t, "written by a client meanwhile", string(c.on(t, 0, "GET", k).Str))
}

// BenchmarkDigestPassRedis measures the trees' pass against one real Redis
// holding 100000 small strings, all in range: SCAN plus the digest script,
// pipelined (keys/s).
func BenchmarkDigestPassRedis(b *testing.B) {
	addr := proxytest.StartRedis(b).Addr
	conn, err := stream.DialRedis(context.Background(), addr, 30*time.Second)
	require.NoError(b, err)
	defer conn.Close()
	const n = 100000
	for i := 0; i < n; i += 1000 {
		for j := i; j < i+1000; j++ {
			conn.Send([]byte("SET"), fmt.Appendf(nil, "user:%d", j), []byte("some value of a user"))
		}
		require.NoError(b, conn.Flush())
		for j := i; j < i+1000; j++ {
			_, err := conn.Receive()
			require.NoError(b, err)
		}
	}
	topo, err := ring.NewTopology("a", []ring.Node{{Name: "a", DC: "dc1", Rack: "r1", Tokens: []ring.Token{1}}}, ring.Options{})
	require.NoError(b, err)
	rep := Replica{Name: "a", Datastores: []Datastore{{Addr: addr}}}
	b.ResetTimer()
	for range b.N {
		r, err := New(Options{Topology: topo, Ranges: stream.Ranges{{Start: 1, End: 1}}, Replicas: []Replica{rep, rep}})
		require.NoError(b, err)
		conns, err := r.dialAll(context.Background())
		require.NoError(b, err)
		trees, err := r.buildTrees(context.Background(), conns, 14)
		require.NoError(b, err)
		require.Equal(b, n, trees[0][0].Len())
		closeAll(conns)
	}
	// Two replicas on one Redis: each pass reads the keys twice.
	b.ReportMetric(2*n*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
