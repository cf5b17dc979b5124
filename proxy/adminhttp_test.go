package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/msg"
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

func TestAdminEndpoints(t *testing.T) {
	rd := startRedis(t)
	n := startNode(t, msg.Redis, rd.addr, func(o *Options) {
		o.DC, o.Rack, o.Tokens, o.DynListen = "dc1", "rack1", []uint32{101134286}, "127.0.0.1:8101"
		o.Peers = []Peer{{Name: "127.0.0.1:9", Addr: "127.0.0.1:9", DC: "dc1", Rack: "rack2", Tokens: []uint32{7}}}
		o.Preconnect = true
	})
	mux := http.NewServeMux()
	n.s.RegisterAdmin(mux, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cases := []struct {
		path, want string
		code       int
	}{
		{"/get_consistency", "Read Consistency: DC_ONE\r\nWrite Consistency: DC_ONE\r\n", 200},
		{"/set_consistency/read/dc_quorum", "OK\r\n", 200},
		{"/get_consistency", "Read Consistency: DC_QUORUM\r\nWrite Consistency: DC_ONE\r\n", 200},
		{"/set_consistency/write/dc_bogus", "set_consistency: unknown level \"dc_bogus\"\n", 400},
		{"/get_timeout_factor", "Timeout factor: 1\n", 200},
		{"/set_timeout_factor/40", "OK\r\n", 200},
		{"/get_timeout_factor", "Timeout factor: 10\n", 200},
		{"/state/get_state", "State: NORMAL\n", 200},
		{"/peer/down/127.0.0.1:9", "OK\r\n", 200},
		{"/peer/up/nosuchpeer", "peer: no peer named \"nosuchpeer\"\n", 404},
		{"/read_repairs/enable", "Read Repairs: ENABLED\r\n", 200},
	}
	for _, tc := range cases {
		code, body := get(t, srv, tc.path)
		require.Equal(t, tc.code, code, tc.path)
		require.Equal(t, tc.want, body, tc.path)
	}
	code, _ := get(t, srv, "/no/such/endpoint")
	require.Equal(t, 404, code, "unknown paths are 404, not upstream's OK")

	code, body := get(t, srv, "/cluster_describe")
	require.Equal(t, 200, code)
	var d map[string][]describeDC
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	require.Len(t, d["dcs"], 1)
	require.Len(t, d["dcs"][0].Racks, 2)
	require.Equal(t, uint32(101134286), d["dcs"][0].Racks[0].Servers[0].Token)

	// the node state changes what requests may do
	_, _ = get(t, srv, "/set_consistency/read/dc_one")
	rc := dial(t, n.addr)
	_, _ = get(t, srv, "/state/writes_only")
	require.Equal(t, "+OK\r\n", rc.do(cmd("SET", "{}k", "v")))
	require.True(t, strings.HasPrefix(rc.do(cmd("GET", "{}k")), "-ERR Dynomite: Dynomite's current state does not allow this request"))
	_, _ = get(t, srv, "/state/standby")
	require.True(t, strings.HasPrefix(rc.do(cmd("SET", "{}k", "v")), "-ERR Dynomite: Dynomite's current state"))
	_, _ = get(t, srv, "/state/normal")
	require.Equal(t, "$1\r\nv\r\n", rc.do(cmd("GET", "{}k")))
}
