package proxy_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// repairCluster is one datacenter of three racks, one node each, every
// node in front of its own redis-server, with read repair on (repairs) and
// both node-wide levels at DC_SAFE_QUORUM.
func repairCluster(t testing.TB, repairs bool) *proxytest.Cluster {
	t.Helper()
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	return proxytest.StartCluster(t, proxytest.Config{
		Nodes: proxytest.Grid(1, 3, 1), Datastore: proxytest.RealDatastore,
		ReadLevel: consistency.DCSafeQuorum, WriteLevel: consistency.DCSafeQuorum,
		Options: func(_ int, o *Options) { o.ReadRepairs = repairs },
	})
}

// score reads a metadata score from node i's Redis (-1 when absent).
func score(t *testing.T, tc *proxytest.Cluster, i int, set, member string) float64 {
	t.Helper()
	got := tc.Direct(i, "ZSCORE", set, member)
	if got == "$-1\r\n" {
		return -1
	}
	lines := strings.Split(got, "\r\n")
	require.Len(t, lines, 3, "ZSCORE %s %s on node %d: %q", set, member, i, got)
	f, err := strconv.ParseFloat(lines[1], 64)
	require.NoError(t, err, "ZSCORE %s %s on node %d: %q", set, member, i, got)
	return f
}

// eventually waits until node i's Redis answers cmd with want.
func eventually(t *testing.T, tc *proxytest.Cluster, i int, want string, cmd ...string) {
	t.Helper()
	proxytest.Eventually(t, 10*time.Second, func() bool { return tc.Direct(i, cmd...) == want },
		"node %d: %q never answered %q (last %q)", i, cmd, want, tc.Direct(i, cmd...))
}

// missed makes node i's replica look as if it had missed the last write of
// member in set: write runs on its Redis, and the metadata goes a second
// back. It returns the score the write had.
func missed(t *testing.T, tc *proxytest.Cluster, i int, set, member string, write ...string) float64 {
	t.Helper()
	ts := score(t, tc, i, set, member)
	tc.Direct(i, write...)
	tc.Direct(i, "ZADD", set, strconv.FormatFloat(ts-1000, 'f', -1, 64), member)
	return ts
}

func TestReadRepair(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tc := repairCluster(t, true)
	defer tc.Close()
	c := tc.Client(0, "")
	stats := func() ReadRepairStats { return tc.Nodes[0].Server.Stats().ReadRepairs }
	if on, active := tc.Nodes[0].Server.ReadRepairs(); !on || !active {
		t.Fatalf("read repairs on %v, active %v", on, active)
	}

	t.Run("a write records its timestamp in ._add-set on every replica", func(t *testing.T) {
		before := float64(time.Now().UnixMilli())
		require.Equal(t, "+OK\r\n", c.Do("SET", "stamped", "v"))
		after := float64(time.Now().UnixMilli() + 1)
		for i := range tc.Nodes {
			eventually(t, tc, i, "$1\r\nv\r\n", "GET", "stamped")
			s := score(t, tc, i, "._add-set", "stamped")
			require.True(t, s >= before && s < after, "node %d: score %v not within [%v, %v)", i, s, before, after)
		}
		require.Equal(t, "$1\r\nv\r\n", c.Do("GET", "stamped"), "the client gets the value, not the metadata")
	})

	t.Run("a replica that missed a write gets the newest value", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("SET", "str", "new"))
		eventually(t, tc, 2, "$3\r\nnew\r\n", "GET", "str")
		ts := missed(t, tc, 2, "._add-set", "str", "SET", "str", "old")
		n := stats().ByTimestamp
		require.Equal(t, "$3\r\nnew\r\n", c.Do("GET", "str"))
		eventually(t, tc, 2, "$3\r\nnew\r\n", "GET", "str")
		require.Equal(t, ts, score(t, tc, 2, "._add-set", "str"), "the repair carries the winning timestamp")
		require.Greater(t, stats().ByTimestamp, n)
	})

	// each: a write through the proxy, then node stale's Redis is set
	// back behind the proxy (break), and a read through the proxy must
	// answer the write's value and repair node stale
	for _, rc := range []struct {
		name         string
		write        []string
		read         []string
		want         string
		stale        int
		breakReplica func(i int)
	}{
		{"a value changed behind the metadata's back goes back to the majority's",
			[]string{"SET", "behind", "good"}, []string{"GET", "behind"}, "$4\r\ngood\r\n", 1,
			func(i int) { tc.Direct(i, "SET", "behind", "zzzz") }},
		{"a hash field (the coordinator's own replica is the stale one)",
			[]string{"HSET", "h", "f", "new"}, []string{"HGET", "h", "f"}, "$3\r\nnew\r\n", 0,
			func(i int) { missed(t, tc, i, "._add-set_h", "f", "HSET", "h", "f", "old") }},
		{"a set member",
			[]string{"SADD", "s", "m"}, []string{"SISMEMBER", "s", "m"}, ":1\r\n", 1,
			func(i int) { tc.Direct(i, "SREM", "s", "m"); tc.Direct(i, "ZREM", "._add-set_s", "m") }},
		{"a sorted set member",
			[]string{"ZADD", "z", "5", "m"}, []string{"ZSCORE", "z", "m"}, "$1\r\n5\r\n", 2,
			func(i int) { missed(t, tc, i, "._add-set_z", "m", "ZADD", "z", "1", "m") }},
	} {
		t.Run(rc.name, func(t *testing.T) {
			require.False(t, strings.HasPrefix(c.Do(rc.write...), "-"))
			eventually(t, tc, rc.stale, rc.want, rc.read...)
			rc.breakReplica(rc.stale)
			require.NotEqual(t, rc.want, tc.Direct(rc.stale, rc.read...))
			require.Equal(t, rc.want, c.Do(rc.read...))
			eventually(t, tc, rc.stale, rc.want, rc.read...)
		})
	}

	t.Run("a delete every replica has leaves no tombstone", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("SET", "gone", "v"))
		require.Equal(t, ":1\r\n", c.Do("DEL", "gone"))
		for i := range tc.Nodes {
			eventually(t, tc, i, "$-1\r\n", "ZSCORE", "._rem-set", "gone")
			eventually(t, tc, i, "$-1\r\n", "GET", "gone")
		}
	})

	t.Run("a DEL of several keys leaves a tombstone for each where a replica missed it", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("MSET", "d1", "a", "d2", "b"))
		eventually(t, tc, 1, "$1\r\nb\r\n", "GET", "d2")
		require.True(t, tc.Nodes[0].Server.SetPeerDown(tc.Nodes[1].DynAddr, true))
		require.Equal(t, ":2\r\n", c.Do("DEL", "d1", "d2", "d3"))
		tc.Nodes[0].Server.SetPeerDown(tc.Nodes[1].DynAddr, false)
		for _, k := range []string{"d1", "d2", "d3"} {
			require.Greater(t, score(t, tc, 2, "._rem-set", k), 0.0, "no tombstone for %s", k)
		}
		require.Equal(t, "$-1\r\n", c.Do("GET", "d2"))
		eventually(t, tc, 1, "$-1\r\n", "GET", "d2")
		eventually(t, tc, 1, "$-1\r\n", "ZSCORE", "._rem-set", "d2")
	})

	t.Run("a delete a replica missed is repaired, then its tombstone cleaned", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", c.Do("SET", "del", "v"))
		eventually(t, tc, 2, "$1\r\nv\r\n", "GET", "del")
		require.True(t, tc.Nodes[0].Server.SetPeerDown(tc.Nodes[2].DynAddr, true))
		require.Equal(t, ":1\r\n", c.Do("DEL", "del"))
		tc.Nodes[0].Server.SetPeerDown(tc.Nodes[2].DynAddr, false)
		for i := 0; i < 2; i++ {
			require.Greater(t, score(t, tc, i, "._rem-set", "del"), 0.0, "node %d: no tombstone", i)
		}
		require.Equal(t, "$1\r\nv\r\n", tc.Direct(2, "GET", "del"), "node 2 missed the delete")
		cleanups := stats().Cleanups
		require.Equal(t, "$-1\r\n", c.Do("GET", "del"))
		eventually(t, tc, 2, "$-1\r\n", "GET", "del")
		for i := range tc.Nodes {
			eventually(t, tc, i, "$-1\r\n", "ZSCORE", "._rem-set", "del")
		}
		require.Greater(t, stats().Cleanups, cleanups)
	})

	t.Run("a read that finds the same delete on every replica cleans its tombstone", func(t *testing.T) {
		// as left by a delete whose own cleanup did not reach every replica
		for i := range tc.Nodes {
			tc.Direct(i, "ZADD", "._rem-set", "1000", "left")
		}
		require.Equal(t, "$-1\r\n", c.Do("GET", "left"))
		for i := range tc.Nodes {
			eventually(t, tc, i, "$-1\r\n", "ZSCORE", "._rem-set", "left")
		}
	})

	t.Run("a field delete a replica missed", func(t *testing.T) {
		require.Equal(t, ":1\r\n", c.Do("HSET", "hd", "f", "v"))
		eventually(t, tc, 1, "$1\r\nv\r\n", "HGET", "hd", "f")
		require.True(t, tc.Nodes[0].Server.SetPeerDown(tc.Nodes[1].DynAddr, true))
		require.Equal(t, ":1\r\n", c.Do("HDEL", "hd", "f"))
		tc.Nodes[0].Server.SetPeerDown(tc.Nodes[1].DynAddr, false)
		require.Greater(t, score(t, tc, 0, "._rem-set_hd", "f"), 0.0)
		require.Equal(t, "$-1\r\n", c.Do("HGET", "hd", "f"))
		eventually(t, tc, 1, "$-1\r\n", "HGET", "hd", "f")
		for i := range tc.Nodes {
			eventually(t, tc, i, "$-1\r\n", "ZSCORE", "._rem-set_hd", "f")
		}
	})

	t.Run("without metadata a replica is repaired to the majority's value", func(t *testing.T) {
		tc.Direct(0, "SET", "plain", "v")
		tc.Direct(1, "SET", "plain", "v")
		tc.Direct(2, "SET", "plain", "minority")
		n := stats().ByMajority
		require.Equal(t, "$1\r\nv\r\n", c.Do("GET", "plain"))
		eventually(t, tc, 2, "$1\r\nv\r\n", "GET", "plain")
		require.Greater(t, stats().ByMajority, n)
		for i := range tc.Nodes {
			require.Equal(t, "$-1\r\n", tc.Direct(i, "ZSCORE", "._add-set", "plain"), "a majority repair writes no metadata")
		}
	})

	t.Run("a DC_ONE read is not rewritten", func(t *testing.T) {
		tc.Direct(0, "SET", "one", "local")
		require.Equal(t, "$5\r\nlocal\r\n", tc.Client(0, "DC_ONE").Do("GET", "one"))
	})

	t.Run("commands outside the list keep the checksum quorum", func(t *testing.T) {
		require.Equal(t, ":1\r\n", c.Do("RPUSH", "list", "a"))
		require.Equal(t, "*1\r\n$1\r\na\r\n", c.Do("LRANGE", "list", "0", "-1"))
		require.Equal(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", c.Do("GET", "list"),
			"the datastore's own error, not a script error")
	})

	t.Run("repair runs finish", func(t *testing.T) {
		for i := range tc.Nodes {
			srv := tc.Nodes[i].Server
			proxytest.Eventually(t, 10*time.Second, func() bool { return srv.Fanouts() == 0 && srv.InFlight() == 0 },
				"node %d keeps fan-outs or requests in flight", i)
			require.Zero(t, srv.Buffered(), "node %d: the buffered bytes of the requests it served do not add up to 0", i)
		}
		require.Zero(t, stats().WritesFailed)
	})

	t.Run("a repair write the replica refuses is counted", func(t *testing.T) {
		require.Equal(t, ":1\r\n", c.Do("HSET", "hf", "f", "new"))
		eventually(t, tc, 2, "$3\r\nnew\r\n", "HGET", "hf", "f")
		missed(t, tc, 2, "._add-set_hf", "f", "HSET", "hf", "f", "old")
		// the field read does not touch ._add-set; the repair write does,
		// and fails on a string there
		tc.Direct(2, "RENAME", "._add-set", "._add-set.saved")
		tc.Direct(2, "SET", "._add-set", "not a sorted set")
		defer tc.Direct(2, "RENAME", "._add-set.saved", "._add-set")
		require.Equal(t, "$3\r\nnew\r\n", c.Do("HGET", "hf", "f"))
		proxytest.Eventually(t, 10*time.Second, func() bool { return stats().WritesFailed == 1 },
			"the failed repair write was not counted (%d)", stats().WritesFailed)
	})
}

func TestReadRepairsEnableAndDisableLive(t *testing.T) {
	tc := repairCluster(t, false)
	c := tc.Client(0, "")
	admin := tc.Nodes[0].Server.Admin()
	require.Equal(t, "+OK\r\n", c.Do("SET", "before", "v"))
	admin.SetReadRepairs(true)
	require.Equal(t, "+OK\r\n", c.Do("SET", "during", "v"))
	admin.SetReadRepairs(false)
	require.Equal(t, "+OK\r\n", c.Do("SET", "after", "v"))
	for i := range tc.Nodes {
		eventually(t, tc, i, "$1\r\nv\r\n", "GET", "after")
		require.Equal(t, "$-1\r\n", tc.Direct(i, "ZSCORE", "._add-set", "before"), "node %d", i)
		require.Greater(t, score(t, tc, i, "._add-set", "during"), 0.0, "node %d", i)
		require.Equal(t, "$-1\r\n", tc.Direct(i, "ZSCORE", "._add-set", "after"), "node %d", i)
	}

	// at DC_ONE it does nothing, as upstream
	tc.Nodes[0].Server.SetConsistency(true, consistency.DCOne)
	admin.SetReadRepairs(true)
	on, active := tc.Nodes[0].Server.ReadRepairs()
	require.True(t, on)
	require.False(t, active, "active with the write level at DC_ONE")
	require.Equal(t, "+OK\r\n", c.Do("SET", "one", "v"))
	require.Equal(t, "$-1\r\n", tc.Direct(0, "ZSCORE", "._add-set", "one"))
}

// BenchmarkReadRepairCluster measures SET and GET round trips at
// DC_SAFE_QUORUM through one node of two three-rack clusters of real Redis,
// one with read repair off and one with it on, alternating requests between
// them (the order flips every iteration) so that both see the same load.
// It reports the mean round trip of each in µs (off-µs/op, on-µs/op).
func BenchmarkReadRepairCluster(b *testing.B) {
	clients := [2]*proxytest.Conn{repairCluster(b, false).Client(0, ""), repairCluster(b, true).Client(0, "")}
	for _, cmd := range []string{"SET", "GET"} {
		b.Run(cmd, func(b *testing.B) {
			var spent [2]time.Duration
			for i := 0; i < b.N; i++ {
				key := "bench:" + strconv.Itoa(i%1000)
				for k := range 2 {
					which := (i + k) % 2
					start := time.Now()
					var got string
					if cmd == "SET" {
						got = clients[which].Do("SET", key, "value")
					} else {
						got = clients[which].Do("GET", key)
					}
					spent[which] += time.Since(start)
					if strings.HasPrefix(got, "-") {
						b.Fatal(got)
					}
				}
			}
			b.ReportMetric(float64(spent[0].Microseconds())/float64(b.N), "off-µs/op")
			b.ReportMetric(float64(spent[1].Microseconds())/float64(b.N), "on-µs/op")
		})
	}
}

// TestReadRepairAcrossDatacenters: a write forwarded to another datacenter
// (one copy, fanned out there by its coordinator) keeps its script, so every
// rack of both datacenters records the write's timestamp; a stale replica in
// the remote datacenter is repaired by a DC_EACH_SAFE_QUORUM read.
func TestReadRepairAcrossDatacenters(t *testing.T) {
	proxytest.NeedBinary(t, "redis-server", "redis-server")
	tc := proxytest.StartCluster(t, proxytest.Config{
		Nodes: proxytest.Grid(2, 2, 1), Datastore: proxytest.RealDatastore,
		ReadLevel: consistency.DCQuorum, WriteLevel: consistency.DCQuorum,
		Options: func(_ int, o *Options) { o.ReadRepairs = true },
	})
	c := tc.Client(0, "")
	require.Equal(t, "+OK\r\n", c.Do("SET", "k", "v"))
	for i := range tc.Nodes {
		eventually(t, tc, i, "$1\r\nv\r\n", "GET", "k")
		require.Greater(t, score(t, tc, i, "._add-set", "k"), 0.0, "node %d (%s/%s) has no timestamp", i, tc.Nodes[i].DC, tc.Nodes[i].Rack)
	}
	missed(t, tc, 3, "._add-set", "k", "SET", "k", "old")
	require.Equal(t, "$1\r\nv\r\n", tc.Client(0, "DC_EACH_SAFE_QUORUM").Do("GET", "k"))
	eventually(t, tc, 3, "$1\r\nv\r\n", "GET", "k")
}
