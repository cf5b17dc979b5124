package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	. "github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/proxytest"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// TestAdminEndpoints drives a real node through the stats endpoints
// (admin.RegisterCluster over Server.Admin).
func TestAdminEndpoints(t *testing.T) {
	rd := proxytest.StartRedis(t)
	n := proxytest.StartNode(t, msg.Redis, rd.Addr, func(o *Options) {
		o.DC, o.Rack, o.Tokens, o.DynListen = "dc1", "rack1", []ring.Token{101134286}, proxytest.FreeAddr(t)
		o.Peers = []Peer{{Name: "127.0.0.1:9", Addr: "127.0.0.1:9", DC: "dc1", Rack: "rack2", Tokens: []ring.Token{7}}}
		o.Preconnect = true
	})
	mux := http.NewServeMux()
	admin.RegisterCluster(mux, n.Server.Admin(), nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// the endpoints' texts are admin's tests; these check what they do to
	// a real node through Server.Admin
	call := func(path string, code int) string {
		t.Helper()
		got, body := get(t, srv, path)
		require.Equal(t, code, got, path+": "+body)
		return body
	}
	require.Equal(t, "Read Consistency: DC_ONE\r\nWrite Consistency: DC_ONE\r\n", call("/get_consistency", 200))
	call("/set_consistency/read/dc_quorum", 200)
	call("/set_consistency/write/dc_bogus", 400)
	rl, wl := n.Server.Consistency()
	require.Equal(t, []consistency.Level{consistency.DCQuorum, consistency.DCOne}, []consistency.Level{rl, wl})
	require.Equal(t, "Read Consistency: DC_QUORUM\r\nWrite Consistency: DC_ONE\r\n", call("/get_consistency", 200))

	require.Equal(t, "Timeout factor: 1\n", call("/get_timeout_factor", 200))
	call("/set_timeout_factor/40", 200)
	require.Equal(t, 10, n.Server.TimeoutFactor(), "clamped to 1..10")
	require.Equal(t, "Timeout factor: 10\n", call("/get_timeout_factor", 200))

	require.Equal(t, "State: NORMAL\n", call("/state/get_state", 200))
	call("/state/Resuming", 200)
	require.Equal(t, StateResuming, n.Server.NodeState(), "state names in any case")
	call("/state/normal", 200)

	call("/peer/down/127.0.0.1:9", 200)
	for _, p := range n.Server.Peers() {
		require.Equal(t, p.Name == "127.0.0.1:9", p.AdminDown, p.Name)
	}
	require.Equal(t, "peer: no peer named \"nosuchpeer\"\n", call("/peer/up/nosuchpeer", 404))

	require.Equal(t, "Read Repairs: ENABLED\r\n", call("/read_repairs/enable", 200))
	on, _ := n.Server.ReadRepairs()
	require.True(t, on)
	require.Equal(t, "Read Repairs: DISABLED\r\n", call("/read_repairs/disable", 200))
	on, _ = n.Server.ReadRepairs()
	require.False(t, on)

	code, _ := get(t, srv, "/no/such/endpoint")
	require.Equal(t, 404, code, "unknown paths are 404, not upstream's OK")

	code, body := get(t, srv, "/cluster_describe")
	require.Equal(t, 200, code)
	var d map[string][]struct {
		Racks []struct {
			Servers []struct{ Token uint32 }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	require.Len(t, d["dcs"], 1)
	require.Len(t, d["dcs"][0].Racks, 2)
	require.Equal(t, uint32(101134286), d["dcs"][0].Racks[0].Servers[0].Token)

	// the node state changes what requests may do
	_, _ = get(t, srv, "/set_consistency/read/dc_one")
	rc := proxytest.Dial(t, n.Addr)
	_, _ = get(t, srv, "/state/writes_only")
	require.Equal(t, "+OK\r\n", rc.Do("SET", "{}k", "v"))
	require.True(t, strings.HasPrefix(rc.Do("GET", "{}k"), "-ERR Dynomite: Dynomite's current state does not allow this request"))
	_, _ = get(t, srv, "/state/standby")
	require.True(t, strings.HasPrefix(rc.Do("SET", "{}k", "v"), "-ERR Dynomite: Dynomite's current state"))
	_, _ = get(t, srv, "/state/normal")
	require.Equal(t, "$1\r\nv\r\n", rc.Do("GET", "{}k"))
}
