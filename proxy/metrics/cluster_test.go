package metrics_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// The cluster of the counter tests: two nodes share dc1/r1 (same-rack
// peers), dc1/r2 is the other local rack, dc2 has two racks so that remote
// copies can fail over and then be dropped.
var specs = []string{"dc1/r1/0", "dc1/r1/2147483648", "dc1/r2/0", "dc2/r1/0", "dc2/r2/0"}

type lbl = map[string]string

// TestCountersMoveThroughACluster drives traffic, errors, a datastore
// outage and peer outages through an in-process cluster with real
// redis-servers, and checks the values the metrics report.
func TestCountersMoveThroughACluster(t *testing.T) {
	c := metricstest.StartCluster(t, specs, nil)
	n0 := c.Nodes[0]
	val := func(n *metricstest.Node, name string, match lbl) float64 {
		t.Helper()
		v, ok := metricstest.Sum(t, n.Registry, name, match)
		require.True(t, ok, "%s%v has no series", name, match)
		return v
	}
	eventually := func(n *metricstest.Node, name string, match lbl, want float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v := val(n, name, match)
			if v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s%v = %v, want %v", name, match, v, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	peer := func(i int) lbl { return lbl{"peer": c.Nodes[i].DynAddr} }
	with := func(l lbl, k, v string) lbl {
		out := lbl{k: v}
		for a, b := range l {
			out[a] = b
		}
		return out
	}

	cl := metricstest.Dial(t, n0.Addr)
	const writes, reads = 60, 40
	for i := 0; i < writes; i++ {
		require.Equal(t, "+OK\r\n", cl.Do("SET", fmt.Sprintf("key%d", i), "value"))
	}
	for i := 0; i < reads; i++ {
		require.True(t, strings.HasPrefix(cl.Do("GET", fmt.Sprintf("key%d", i)), "$5\r\n"))
	}

	t.Run("client requests by class and outcome", func(t *testing.T) {
		require.Equal(t, float64(writes), val(n0, "dynomite_client_requests_total", lbl{"proto": "redis", "class": "write", "outcome": "success"}))
		require.Equal(t, float64(reads), val(n0, "dynomite_client_requests_total", lbl{"class": "read", "outcome": "success"}))
		require.Equal(t, 0.0, val(n0, "dynomite_client_requests_total", lbl{"outcome": "error"}))
		require.Equal(t, float64(writes), val(n0, "dynomite_client_request_duration_seconds", lbl{"class": "write"}))
		require.Equal(t, float64(reads), val(n0, "dynomite_client_request_duration_seconds", lbl{"class": "read"}))
		require.Equal(t, 1.0, val(n0, "dynomite_client_connections", nil))
		require.GreaterOrEqual(t, val(n0, "dynomite_client_connections_total", nil), 1.0)
		require.Greater(t, val(n0, "dynomite_client_request_bytes_total", nil), float64(writes*20))
	})

	t.Run("peer requests and round trips by scope", func(t *testing.T) {
		// every write goes to the owner in the other local rack (node 2)
		// and, forwarded, to the preselected rack of dc2 (node 3), which
		// fans it out to its other rack (node 4)
		eventually(n0, "dynomite_peer_requests_total", peer(2), writes)
		eventually(n0, "dynomite_peer_responses_total", peer(2), writes)
		eventually(n0, "dynomite_peer_requests_total", peer(3), writes)
		eventually(n0, "dynomite_peer_requests_total", peer(4), 0)
		eventually(c.Nodes[3], "dynomite_peer_requests_total", peer(4), writes)
		eventually(n0, "dynomite_peer_request_duration_seconds", lbl{"scope": "cross_rack"}, writes)
		eventually(n0, "dynomite_peer_request_duration_seconds", lbl{"scope": "cross_dc"}, writes)
		// keys owned by node 1 in r1: writes and reads go there
		same := val(n0, "dynomite_peer_requests_total", peer(1))
		require.Greater(t, same, 0.0)
		require.Less(t, same, float64(writes+reads))
		require.Equal(t, same, val(n0, "dynomite_peer_request_duration_seconds", lbl{"scope": "same_rack"}))
		// the rest went to the local datastore
		require.Equal(t, float64(writes+reads)-same, val(n0, "dynomite_datastore_requests_total", nil))
		require.Equal(t, val(n0, "dynomite_datastore_requests_total", nil), val(n0, "dynomite_datastore_responses_total", nil))
		require.Equal(t, val(n0, "dynomite_datastore_requests_total", nil), val(n0, "dynomite_datastore_request_duration_seconds", nil))
		for i := 1; i < len(c.Nodes); i++ {
			require.Equal(t, 1.0, val(n0, "dynomite_peer_up", peer(i)))
			// connect failures happen at start (the peers start one by one)
			for _, cause := range []string{"down", "failed", "timeout", "ejection"} {
				require.Equal(t, 0.0, val(n0, "dynomite_peer_errors_total", with(peer(i), "cause", cause)))
			}
		}
		require.Equal(t, 1.0, val(n0, "dynomite_peer_up", lbl{"peer": c.Nodes[4].DynAddr, "peer_dc": "dc2", "peer_rack": "r2"}))
	})

	t.Run("ring, consistency and state", func(t *testing.T) {
		require.Equal(t, 2.0, val(n0, "dynomite_ring_members", lbl{"ring_dc": "dc1", "ring_rack": "r1"}))
		require.Equal(t, 1.0, val(n0, "dynomite_ring_members", lbl{"ring_dc": "dc2", "ring_rack": "r2"}))
		require.Equal(t, 5.0, val(n0, "dynomite_ring_tokens", nil))
		require.Equal(t, 1.0, val(n0, "dynomite_consistency_level", lbl{"op": "read", "level": "DC_ONE"}))
		metricstest.Get(t, n0.StatsAddr, "/set_consistency/read/dc_quorum")
		require.Equal(t, 0.0, val(n0, "dynomite_consistency_level", lbl{"op": "read", "level": "DC_ONE"}))
		require.Equal(t, 1.0, val(n0, "dynomite_consistency_level", lbl{"op": "read", "level": "DC_QUORUM"}))
		require.Equal(t, 1.0, val(n0, "dynomite_consistency_level", lbl{"op": "write", "level": "DC_ONE"}))
		metricstest.Get(t, n0.StatsAddr, "/set_consistency/read/dc_one")
		metricstest.Get(t, n0.StatsAddr, "/state/writes_only")
		require.Equal(t, 1.0, val(n0, "dynomite_node_state", lbl{"state": "WRITES_ONLY"}))
		require.Equal(t, 0.0, val(n0, "dynomite_node_state", lbl{"state": "NORMAL"}))
		metricstest.Get(t, n0.StatsAddr, "/state/normal")
		require.Equal(t, 1.0, val(n0, "dynomite_node_state", lbl{"state": "NORMAL"}))
		metricstest.Get(t, n0.StatsAddr, "/peer/down/"+c.Nodes[4].DynAddr)
		require.Equal(t, 1.0, val(n0, "dynomite_peer_admin_down", peer(4)))
		require.Equal(t, 0.0, val(n0, "dynomite_peer_up", peer(4)))
		metricstest.Get(t, n0.StatsAddr, "/peer/up/"+c.Nodes[4].DynAddr)
		require.Equal(t, 0.0, val(n0, "dynomite_peer_admin_down", peer(4)))
		require.Equal(t, 1.0, val(n0, "dynomite_build_info", lbl{"version": "test"}))
	})

	t.Run("error replies count as errors", func(t *testing.T) {
		require.Equal(t, "+OK\r\n", cl.Do("SET", "notanumber", "x"))
		require.True(t, strings.HasPrefix(cl.Do("INCR", "notanumber"), "-ERR"))
		require.Equal(t, 1.0, val(n0, "dynomite_client_requests_total", lbl{"class": "write", "outcome": "error"}))
		require.Equal(t, float64(writes+1), val(n0, "dynomite_client_requests_total", lbl{"class": "write", "outcome": "success"}))
	})

	t.Run("datastore outage: errors by cause, read failover, reconnect", func(t *testing.T) {
		key := c.Key(0, 0, "mine")
		require.Equal(t, "+OK\r\n", cl.Do("SET", key, "v"))
		connects := val(n0, "dynomite_datastore_connects_total", nil)
		n0.Redis.Stop()
		eventually(n0, "dynomite_datastore_up", nil, 0)
		// the local rack's owner (this node's datastore) is down: the DC_ONE
		// read fails over to the owner in rack r2
		require.Equal(t, "$1\r\nv\r\n", cl.Do("GET", key))
		require.Equal(t, 1.0, val(n0, "dynomite_read_failover_requests_total", nil))
		require.Equal(t, 1.0, val(n0, "dynomite_datastore_errors_total", lbl{"cause": "down"}))
		require.Equal(t, 0.0, val(n0, "dynomite_datastore_errors_total", lbl{"cause": "timeout"}))
		c.Eventually(10*time.Second, "no connect failure counted", func() bool {
			return val(n0, "dynomite_datastore_errors_total", lbl{"cause": "connect_failure"}) > 0
		})
		n0.Redis.Start()
		eventually(n0, "dynomite_datastore_up", nil, 1)
		require.Greater(t, val(n0, "dynomite_datastore_connects_total", nil), connects)
		require.Equal(t, 1.0, val(n0, "dynomite_datastore_errors_total", lbl{"cause": "down"}))
	})

	t.Run("peer outage: peer down, peer errors, quorum failure", func(t *testing.T) {
		c.StopNode(2)
		eventually(n0, "dynomite_peer_up", peer(2), 0)
		require.Equal(t, 1.0, val(n0, "dynomite_peer_up", peer(1)))
		q := metricstest.Dial(t, n0.Addr)
		require.Equal(t, "+OK\r\n", q.Do("DYNO_CONFIG:CONN_CONSISTENCY", "DC_QUORUM"))
		before := val(n0, "dynomite_peer_errors_total", with(peer(2), "cause", "down"))
		// two local racks: a quorum needs both, and r2 is down
		require.True(t, strings.HasPrefix(q.Do("SET", "quorumkey", "v"), "-"))
		require.Equal(t, 1.0, val(n0, "dynomite_quorum_failures_total", nil))
		require.Equal(t, 2.0, val(n0, "dynomite_client_requests_total", lbl{"class": "write", "outcome": "error"}))
		require.Equal(t, before+1, val(n0, "dynomite_peer_errors_total", with(peer(2), "cause", "down")))
		c.Eventually(10*time.Second, "no peer connect failure counted", func() bool {
			return val(n0, "dynomite_peer_errors_total", with(peer(2), "cause", "connect_failure")) > 0
		})
	})

	t.Run("remote datacenter: failover to the next rack, then drop", func(t *testing.T) {
		c.StopNode(3)
		eventually(n0, "dynomite_peer_up", peer(3), 0)
		require.Equal(t, "+OK\r\n", cl.Do("SET", "remote1", "v"))
		eventually(n0, "dynomite_remote_dc_failover_requests_total", nil, 1)
		eventually(n0, "dynomite_remote_dc_dropped_requests_total", nil, 0)
		eventually(n0, "dynomite_peer_requests_total", peer(4), 1)
		c.StopNode(4)
		eventually(n0, "dynomite_peer_up", peer(4), 0)
		require.Equal(t, "+OK\r\n", cl.Do("SET", "remote2", "v"))
		eventually(n0, "dynomite_remote_dc_failover_requests_total", nil, 2)
		eventually(n0, "dynomite_remote_dc_dropped_requests_total", nil, 1)
	})

	t.Run("/info reports the same counters in upstream's names", func(t *testing.T) {
		var info map[string]any
		require.NoError(t, json.Unmarshal([]byte(metricstest.Get(t, n0.StatsAddr, "/info")), &info))
		pool := info["dyn_o_mite"].(map[string]any)
		ds := pool[n0.Redis.Addr].(map[string]any)
		require.Equal(t, val(n0, "dynomite_client_requests_total", lbl{"class": "write"}), pool["client_write_requests"])
		require.Equal(t, val(n0, "dynomite_client_requests_total", lbl{"class": "read"}), pool["client_read_requests"])
		require.EqualValues(t, 1, pool["client_non_quorum_r_responses"])
		require.EqualValues(t, 1, pool["remote_peer_dropped_requests"])
		require.EqualValues(t, 2, pool["remote_peer_failover_requests"])
		require.EqualValues(t, 1, pool["client_connections"]) // cl (the DC_QUORUM one closed with its subtest)
		require.EqualValues(t, 1, pool["client_eof"])
		require.Equal(t, val(n0, "dynomite_peer_requests_total", nil), pool["peer_requests"])
		require.Equal(t, val(n0, "dynomite_datastore_errors_total", lbl{"cause": "down"}), ds["server_dropped_requests"])
		require.Equal(t, val(n0, "dynomite_datastore_requests_total", nil), ds["requests"])
		for _, k := range []string{"latency_max", "latency_99th", "latency_mean", "payload_size_max", "payload_size_mean",
			"average_cross_region_rtt", "99_cross_region_rtt", "average_cross_zone_latency", "99_cross_zone_latency",
			"average_server_latency", "99_server_latency", "dyn_memory"} {
			require.Greater(t, info[k], 0.0, k)
		}
		metricstest.Get(t, n0.StatsAddr, "/historeset")
		require.NoError(t, json.Unmarshal([]byte(metricstest.Get(t, n0.StatsAddr, "/info")), &info))
		require.EqualValues(t, 0, info["latency_max"])
		require.EqualValues(t, 0, info["99_server_latency"])
	})

	t.Run("a peer that leaves the ring takes its series along", func(t *testing.T) {
		var peers []proxy.Peer
		for _, n := range c.Nodes[1:4] { // node 4 leaves
			peers = append(peers, proxy.Peer{Name: n.DynAddr, Addr: n.DynAddr, DC: n.DC, Rack: n.Rack, Tokens: []ring.Token{n.Token}})
		}
		require.NoError(t, n0.Server.UpdatePeers(peers))
		for _, name := range []string{"dynomite_peer_up", "dynomite_peer_requests_total", "dynomite_peer_errors_total"} {
			_, ok := metricstest.Sum(t, n0.Registry, name, peer(4))
			require.False(t, ok, "%s of the peer that left", name)
			_, ok = metricstest.Sum(t, n0.Registry, name, peer(3))
			require.True(t, ok, "%s of a peer that stayed", name)
		}
		_, ok := metricstest.Sum(t, n0.Registry, "dynomite_ring_members", lbl{"ring_dc": "dc2", "ring_rack": "r2"})
		require.False(t, ok, "rack dc2/r2 left the ring")
		require.Equal(t, 4.0, val(n0, "dynomite_ring_members", nil))
	})

	t.Run("/metrics exposition", func(t *testing.T) {
		body := metricstest.Get(t, n0.StatsAddr, "/metrics")
		for _, want := range []string{
			// reads, plus the one that failed over
			`dynomite_client_requests_total{class="read",datacenter="dc1",outcome="success",proto="redis",rack="r1"} ` + fmt.Sprint(reads+1),
			`dynomite_peer_up{datacenter="dc1",peer="` + c.Nodes[2].DynAddr + `",peer_dc="dc1",peer_rack="r2",rack="r1"} 0`,
			`dynomite_ring_members{datacenter="dc1",rack="r1",ring_dc="dc2",ring_rack="r1"} 1`,
			`dynomite_remote_dc_dropped_requests_total{datacenter="dc1",rack="r1"} 1`,
			"\ngo_goroutines{", "\nprocess_resident_memory_bytes{",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q; excerpt:\n%s", want, excerpt(body))
			}
		}
		t.Logf("/metrics excerpt:\n%s", excerpt(body))
	})
}

func excerpt(body string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		for _, p := range []string{"dynomite_client_requests_total{class=\"read\"", "dynomite_client_requests_total{class=\"write\"",
			"dynomite_client_request_duration_seconds_count", "dynomite_peer_up", "dynomite_peer_requests_total",
			"dynomite_quorum_failures_total", "dynomite_remote_dc", "dynomite_read_failover", "dynomite_datastore_errors_total",
			"dynomite_datastore_up", "dynomite_ring_members", "dynomite_build_info", "dynomite_node_state{", "# HELP dynomite_peer_up", "# TYPE dynomite_peer_up"} {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// TestLimitRejectionsAreCounted drives each client limit on a real node
// and checks dynomite_client_limit_rejections_total, label by label.
func TestLimitRejectionsAreCounted(t *testing.T) {
	c := metricstest.StartCluster(t, []string{"dc1/r1/0"}, func(o *proxy.Options) {
		o.MaxClientConns = 2
		o.MaxRequestBytes = 64 << 10
		o.ClientReadTimeout = 200 * time.Millisecond
		o.ClientIdleTimeout = 600 * time.Millisecond
	})
	n := c.Nodes[0]
	count := func(limit string) float64 {
		t.Helper()
		v, ok := metricstest.Sum(t, n.Registry, "dynomite_client_limit_rejections_total", lbl{"limit": limit})
		require.True(t, ok, "no series for limit %q", limit)
		return v
	}
	for _, l := range []string{"max_client_connections", "max_request_bytes", "max_buffered_bytes", "client_read_timeout", "client_idle_timeout"} {
		require.Zero(t, count(l), "%s before any client", l)
	}

	// max_client_connections: a third connection is refused
	a := metricstest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", a.Do("PING"))
	b := metricstest.Dial(t, n.Addr)
	require.Equal(t, "+PONG\r\n", b.Do("PING"))
	third := metricstest.Dial(t, n.Addr)
	got, err := third.TryDo("PING")
	require.NoError(t, err)
	require.Contains(t, got, "max number of clients reached")
	require.Equal(t, 1.0, count("max_client_connections"))

	// max_request_bytes: a 100 KiB SET is refused and its connection closed
	got, err = b.TryDo("SET", "big", strings.Repeat("x", 100<<10))
	require.NoError(t, err)
	require.Contains(t, got, "request larger than the proxy's limit")
	require.Equal(t, 1.0, count("max_request_bytes"))

	// client_read_timeout: half a request, then nothing
	c.Eventually(5*time.Second, "b's session never ended", func() bool { return n.Server.ClientConnections() <= 1 })
	slow := metricstest.Dial(t, n.Addr)
	slow.Send("*2\r\n$3\r\nGET\r\n$5\r\nab")
	c.Eventually(5*time.Second, "the half-sent request was never reaped", func() bool { return count("client_read_timeout") == 1 })

	// client_idle_timeout: a goes quiet
	c.Eventually(5*time.Second, "the idle client was never reaped", func() bool { return count("client_idle_timeout") >= 1 })
	require.Equal(t, 1.0, count("client_read_timeout"), "idle connections are not read timeouts")
	require.Zero(t, count("max_buffered_bytes"))
}
