package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/antientropy"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
)

// repairStatus is GET /repair with its result decoded.
type repairStatus struct {
	admin.RepairStatus
	Result antientropy.Result `json:"result"`
}

func postRepair(t *testing.T, f *fileNode, body string) (int, string) {
	t.Helper()
	res, err := http.Post("http://"+f.StatsAddr().String()+"/repair", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func getRepair(t *testing.T, f *fileNode) repairStatus {
	t.Helper()
	res, err := http.Get("http://" + f.StatsAddr().String() + "/repair")
	require.NoError(t, err)
	defer res.Body.Close()
	var st repairStatus
	require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
	return st
}

// repairOnce starts a repair and waits for its end.
func repairOnce(t *testing.T, f *fileNode) repairStatus {
	t.Helper()
	code, body := postRepair(t, f, "")
	require.Equal(t, http.StatusAccepted, code, body)
	var st repairStatus
	proxytest.Eventually(t, 60*time.Second, func() bool {
		st = getRepair(t, f)
		return st.State != admin.RepairRunning
	}, "the repair never finished")
	require.Equal(t, admin.RepairDone, st.State, st.Error)
	require.Zero(t, st.Result.Errors, st.Result.LastError)
	return st
}

// TestRepairEndpointBringsEveryRackToTheMajority runs three nodes, two
// racks in dc1 and one in dc2, each in front of its own Redis, on three
// loopback addresses sharing one stats port (as nodes on three hosts
// would), so the repairing node finds its peers' datastores with GET
// /datastore. Writes go through the proxy; then the test damages single
// Redis behind it (keys deleted, values made stale, a TTL added, a key
// only one replica has) and one POST /repair must find exactly those keys,
// fix them all, and a second repair find nothing.
func TestRepairEndpointBringsEveryRackToTheMajority(t *testing.T) {
	log, _ := testLog(t, slog.LevelWarn)
	_, statsPort, err := net.SplitHostPort(proxytest.FreeAddr(t))
	require.NoError(t, err)
	places := [][2]string{{"dc1", "r0"}, {"dc1", "r1"}, {"dc2", "r0"}}
	var redis [3]*proxytest.Process
	var dyn [3]string
	var ds [3]string // each Redis, on its "host"
	for i := range places {
		redis[i] = proxytest.StartRedis(t)
		// GET /datastore answers a loopback datastore at the node's own
		// host (127.0.0.2 for the second "host"): Redis moves there.
		_, rport, err := net.SplitHostPort(redis[i].Addr)
		require.NoError(t, err)
		ds[i] = fmt.Sprintf("127.0.0.%d:%s", i+1, rport)
		if i > 0 {
			require.Equal(t, "+OK\r\n", redisDo(t, redis[i].Addr, "CONFIG", "SET", "bind", fmt.Sprintf("127.0.0.%d", i+1)))
		}
		_, port, err := net.SplitHostPort(proxytest.FreeAddr(t))
		require.NoError(t, err)
		dyn[i] = fmt.Sprintf("127.0.0.%d:%s", i+1, port)
	}
	var nodes [3]*fileNode
	for i, p := range places {
		var seeds []string
		for j, q := range places {
			if j != i {
				seeds = append(seeds, fmt.Sprintf("\n  - %s:%s:%s:0", dyn[j], q[1], q[0]))
			}
		}
		nodes[i] = startFileNode(t, log, "listen", proxytest.FreeAddr(t), "dyn_listen", dyn[i],
			"stats_listen", fmt.Sprintf("127.0.0.%d:%s", i+1, statsPort), "datacenter", p[0], "rack", p[1], "tokens", "'0'",
			"servers", "\n  - "+ds[i]+":1", "dyn_seeds", strings.Join(seeds, ""),
			"read_consistency", "DC_ONE", "write_consistency", "DC_ONE")
	}
	for _, n := range nodes {
		waitPeersUp(t, n)
	}
	const keys = 300
	c := proxytest.Dial(t, nodes[0].Addr().String())
	for i := range keys {
		args := []string{"SET", fmt.Sprint("user:", i), fmt.Sprint("value ", i)}
		if i%4 == 0 {
			args = append(args, "EX", "3600")
		}
		require.Equal(t, "+OK\r\n", c.Do(args...))
	}
	for _, r := range ds {
		proxytest.Eventually(t, 30*time.Second, func() bool {
			return redisDo(t, r, "DBSIZE") == fmt.Sprintf(":%d\r\n", keys)
		}, "the writes never reached %s", r)
	}
	injected := 0
	for i := 0; i < keys; i += 7 {
		k, r := fmt.Sprint("user:", i), ds[(i/7)%3]
		switch (i / 7) % 4 {
		case 0:
			require.Equal(t, ":1\r\n", redisDo(t, r, "DEL", k))
		case 1:
			require.Equal(t, "+OK\r\n", redisDo(t, r, "SET", k, "stale", "KEEPTTL"))
		case 2:
			require.Equal(t, ":1\r\n", redisDo(t, r, "EXPIRE", k, "100000"))
		case 3:
			require.Equal(t, "+OK\r\n", redisDo(t, r, "SET", "only:"+k, "x"))
		}
		injected++
	}

	st := repairOnce(t, nodes[0])
	require.Equal(t, "admin", st.Trigger)
	require.Len(t, st.Replicas, 3, "one replica per rack: %v", st.Replicas)
	require.Equal(t, int64(injected), st.Result.Found, "%+v", st.Result.Keys)
	require.Equal(t, int64(injected), st.Result.Fixed)
	require.Equal(t, int64(injected), st.Result.ByMajority)
	for i := 0; i < keys; i += 7 {
		k := fmt.Sprint("user:", i)
		want := fmt.Sprintf("$%d\r\nvalue %d\r\n", len(fmt.Sprint("value ", i)), i)
		for _, r := range ds {
			require.Equal(t, want, redisDo(t, r, "GET", k), "%s on %s", k, r)
			require.Equal(t, ":0\r\n", redisDo(t, r, "EXISTS", "only:"+k))
		}
	}
	again := repairOnce(t, nodes[0])
	require.Equal(t, 2, again.ID)
	require.Zero(t, again.Result.Found, "%+v", again.Result.Keys)
	require.Equal(t, int64(keys), again.Result.Scanned/3, "every replica read whole")

	metrics := statsGet(t, nodes[0], "/metrics")
	series := func(name string) string { return seriesValue(metrics, name) }
	require.Equal(t, fmt.Sprint(injected), series("dynomite_repair_divergent_keys_found_total"))
	require.Equal(t, fmt.Sprint(injected), series("dynomite_repair_divergent_keys_fixed_total"))
	require.Contains(t, metrics, `dynomite_repair_runs_total{datacenter="dc1",outcome="success",rack="r0"} 2`)
	require.Equal(t, "0", series("dynomite_repair_running"))

	var streams []jobs.Snapshot
	require.NoError(t, json.Unmarshal([]byte(statsGet(t, nodes[0], "/streams")), &streams))
	require.Len(t, streams, 2)
	for _, j := range streams {
		require.Equal(t, jobs.Repair, j.Kind)
		require.Equal(t, jobs.Done, j.State)
		require.Equal(t, 1, j.RangesDone)
	}
	require.Equal(t, int64(3*keys), streams[1].KeysScanned, "the replicas agree: every key read on every replica")
	require.Equal(t, int64(injected), streams[0].KeysCopied)
	require.Zero(t, streams[1].KeysCopied)

	// repair_interval, set by a reload, starts repairs on its own.
	nodes[0].set("repair_interval", "1000")
	nodes[0].write(t)
	code, res := postReload(t, nodes[0].Node)
	require.Equal(t, http.StatusOK, code, res.Error)
	require.Equal(t, []string{"repair_interval"}, res.Changed)
	proxytest.Eventually(t, 30*time.Second, func() bool {
		return getRepair(t, nodes[0]).Trigger == "schedule"
	}, "no scheduled repair started")
	// the two repairs above, then at least one scheduled repair, finished
	// (finding nothing: the replicas agree)
	proxytest.Eventually(t, 30*time.Second, func() bool {
		m := statsGet(t, nodes[0], "/metrics")
		runs, _ := strconv.Atoi(seriesValue(m, `dynomite_repair_runs_total{datacenter="dc1",outcome="success"`))
		return runs >= 3
	}, "the scheduled repair never finished")
	require.Equal(t, fmt.Sprint(injected), seriesValue(statsGet(t, nodes[0], "/metrics"), "dynomite_repair_divergent_keys_found_total"))
}

func statsGet(t *testing.T, f *fileNode, path string) string {
	t.Helper()
	res, err := http.Get("http://" + f.StatsAddr().String() + path)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", path, b)
	return string(b)
}

// A node without peers answers GET /datastore, refuses a repair (one
// replica: nothing to compare) and a malformed request with 400, and a
// request naming a node the ring lacks.
func TestRepairEndpointRefusesWhatItCannotDo(t *testing.T) {
	log, _ := testLog(t, slog.LevelWarn)
	r := proxytest.StartRedis(t)
	f := startFileNode(t, log, "listen", proxytest.FreeAddr(t), "dyn_listen", proxytest.FreeAddr(t),
		"stats_listen", proxytest.FreeAddr(t), "tokens", "'0'", "servers", "\n  - "+r.Addr+":1")
	var ds admin.DatastoreJSON
	require.NoError(t, json.Unmarshal([]byte(statsGet(t, f, "/datastore")), &ds))
	require.Equal(t, r.Addr, ds.Addr)

	require.Equal(t, admin.RepairIdle, getRepair(t, f).State)
	code, body := postRepair(t, f, "")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "at least two are needed")
	code, body = postRepair(t, f, `{"ranges":"all"}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "not a repair request")
	code, body = postRepair(t, f, `{"datastores":{"nobody":"127.0.0.1:1"}}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, `no node "nobody" in the ring`)
}

// waitPeersUp waits until the node's connections to every peer are up.
func waitPeersUp(t *testing.T, n *fileNode) {
	t.Helper()
	proxytest.Eventually(t, 10*time.Second, func() bool {
		for _, p := range n.Server().PeerStats() {
			if !p.Pool.Up {
				return false
			}
		}
		return true
	}, "the peers never came up")
}

// seriesValue is the value of the first series in the metrics text whose
// line starts with prefix (a name, or a name and its first labels).
func seriesValue(metrics, prefix string) string {
	if !strings.Contains(prefix, "{") {
		prefix += "{"
	}
	for line := range strings.Lines(metrics) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line[strings.LastIndexByte(line, ' ')+1:])
		}
	}
	return "missing"
}
