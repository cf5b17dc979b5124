package metrics_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/metrics/metricstest"
)

// TestReadRepairCounters turns read repair on through the admin endpoint,
// makes one replica stale behind the proxy and checks what /metrics and
// /info count for the repair.
func TestReadRepairCounters(t *testing.T) {
	c := metricstest.StartCluster(t, []string{"dc1/r1/0", "dc1/r2/0", "dc1/r3/0"}, func(o *proxy.Options) {
		o.ReadLevel, o.WriteLevel = consistency.DCQuorum, consistency.DCQuorum
	})
	n0 := c.Nodes[0]
	val := func(name string, match lbl) float64 {
		t.Helper()
		v, ok := metricstest.Sum(t, n0.Registry, name, match)
		require.True(t, ok, "%s%v has no series", name, match)
		return v
	}
	require.Equal(t, 0.0, val("dynomite_read_repairs_active", nil))
	require.Equal(t, "Read Repairs: ENABLED\r\n", metricstest.Get(t, n0.StatsAddr, "/read_repairs/enable"))
	require.Equal(t, 1.0, val("dynomite_read_repairs_active", nil))

	cl := metricstest.Dial(t, n0.Addr)
	require.Equal(t, "+OK\r\n", cl.Do("SET", "k", "v"))
	stale := metricstest.Dial(t, c.Nodes[2].Redis.Addr)
	c.Eventually(10*time.Second, "the write never reached node 2", func() bool { return stale.Do("GET", "k") == "$1\r\nv\r\n" })
	stale.Do("SET", "k", "changed")
	require.Equal(t, "$1\r\nv\r\n", cl.Do("GET", "k"))
	c.Eventually(10*time.Second, "node 2 never repaired", func() bool { return stale.Do("GET", "k") == "$1\r\nv\r\n" })
	require.Equal(t, 1.0, val("dynomite_read_repairs_total", lbl{"kind": "timestamp"}))
	require.Equal(t, 0.0, val("dynomite_read_repairs_total", lbl{"kind": "majority"}))
	require.Equal(t, 0.0, val("dynomite_read_repair_writes_failed_total", nil))

	var info map[string]any
	require.NoError(t, json.Unmarshal([]byte(metricstest.Get(t, n0.StatsAddr, "/info")), &info))
	pool, ok := info["dyn_o_mite"].(map[string]any)
	if !ok {
		for _, v := range info {
			if m, isMap := v.(map[string]any); isMap && m["read_repairs"] != nil {
				pool = m
			}
		}
	}
	require.NotNil(t, pool, "no pool object with read_repairs in /info")
	require.Equal(t, 1.0, pool["read_repairs"])
	require.Equal(t, 0.0, pool["read_repair_writes_failed"])

	require.Equal(t, "Read Repairs: DISABLED\r\n", metricstest.Get(t, n0.StatsAddr, "/read_repairs/disable"))
	require.Equal(t, 0.0, val("dynomite_read_repairs_active", nil))
}
