package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// fakeCluster records what the endpoints change.
type fakeCluster struct {
	read, write, state string
	factor             int
	repairs            bool
	down               map[string]bool
	topo               *ring.Topology
	token              string
}

func (f *fakeCluster) Consistency() (string, string) { return f.read, f.write }
func (f *fakeCluster) SetConsistency(write bool, level string) bool {
	l := strings.ToUpper(level)
	if l != "DC_ONE" && l != "DC_QUORUM" {
		return false
	}
	if write {
		f.write = l
	} else {
		f.read = l
	}
	return true
}
func (f *fakeCluster) TimeoutFactor() int     { return f.factor }
func (f *fakeCluster) SetTimeoutFactor(n int) { f.factor = n }
func (f *fakeCluster) NodeState() string      { return f.state }
func (f *fakeCluster) SetNodeState(s string) bool {
	if s = strings.ToUpper(s); s != "NORMAL" && s != "STANDBY" {
		return false
	}
	f.state = s
	return true
}
func (f *fakeCluster) SetPeerDown(name string, down bool) bool {
	if name != "a:1" && name != "all" {
		return false
	}
	f.down[name] = down
	return true
}
func (f *fakeCluster) SetReadRepairs(on bool)   { f.repairs = on }
func (f *fakeCluster) Topology() *ring.Topology { return f.topo }
func (f *fakeCluster) AdminToken() string       { return f.token }

type fakeLogs struct{ v int }

func (l *fakeLogs) SetVerbosity(v int) bool {
	if v < 0 || v > 11 {
		return false
	}
	l.v = v
	return true
}
func (l *fakeLogs) Adjust(d int) { l.v += d }

func newFake(t testing.TB, token string) *fakeCluster {
	topo, err := ring.NewTopology("a:1", []ring.Node{
		{Name: "a:1", Addr: "10.0.0.1:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{200, 100}},
		{Name: "b:1", Addr: "[::1]:8102", DC: "dc1", Rack: "r2", Tokens: []ring.Token{7}},
	}, ring.Options{})
	require.NoError(t, err)
	return &fakeCluster{read: "DC_ONE", write: "DC_ONE", state: "NORMAL", factor: 1, down: map[string]bool{}, topo: topo, token: token}
}

func call(t testing.TB, h http.Handler, path string, header ...string) (int, string) {
	t.Helper()
	return send(t, h, "GET", path, "", header...)
}

func TestClusterEndpointsAnswerUpstreamsTexts(t *testing.T) {
	f, logs := newFake(t, ""), &fakeLogs{}
	mux := http.NewServeMux()
	RegisterCluster(mux, f, logs)
	cases := []struct {
		path, want string
		code       int
	}{
		{"/get_consistency", "Read Consistency: DC_ONE\r\nWrite Consistency: DC_ONE\r\n", 200},
		{"/set_consistency/read/dc_quorum", "OK\r\n", 200},
		{"/get_consistency", "Read Consistency: DC_QUORUM\r\nWrite Consistency: DC_ONE\r\n", 200},
		{"/set_consistency/write/dc_bogus", "set_consistency: unknown level \"dc_bogus\"\n", 400},
		{"/set_consistency/both/dc_one", "set_consistency: \"both\" is neither read nor write\n", 400},
		{"/set_timeout_factor/4", "OK\r\n", 200},
		{"/get_timeout_factor", "Timeout factor: 4\n", 200},
		{"/set_timeout_factor/x", "set_timeout_factor: \"x\" is not a number\n", 400},
		{"/state/STANDBY", "OK\r\n", 200},
		{"/state/get_state", "State: STANDBY\n", 200},
		{"/state/asleep", "state: unknown state \"asleep\"\n", 400},
		{"/peer/down/a:1", "OK\r\n", 200},
		{"/peer/jump/a:1", "peer: unknown operation \"jump\" (down, up, reset)\n", 400},
		{"/peer/up/nosuchpeer", "peer: no peer named \"nosuchpeer\"\n", 404},
		{"/read_repairs/enable", "Read Repairs: ENABLED\r\n", 200},
		{"/read_repairs/maybe", "read_repairs: unknown operation \"maybe\" (enable, disable)\n", 400},
		{"/setloglevel/7", "OK\r\n", 200},
		{"/setloglevel/12", "setloglevel: \"12\" is not a level 0..11\n", 400},
		{"/loglevelup", "OK\r\n", 200},
	}
	for _, tc := range cases {
		code, body := call(t, mux, tc.path)
		require.Equal(t, tc.code, code, tc.path)
		require.Equal(t, tc.want, body, tc.path)
	}
	require.Equal(t, "DC_QUORUM", f.read)
	require.Equal(t, 4, f.factor)
	require.Equal(t, map[string]bool{"a:1": true}, f.down)
	require.True(t, f.repairs)
	require.Equal(t, 8, logs.v)

	code, body := call(t, mux, "/help")
	require.Equal(t, 200, code)
	require.Contains(t, body, "/cluster_describe\n")
	code, _ = call(t, mux, "/no/such/endpoint")
	require.Equal(t, 404, code, "unknown paths are 404, not upstream's OK")
}

func TestClusterDescribeListsEveryTokenByRack(t *testing.T) {
	mux := http.NewServeMux()
	RegisterCluster(mux, newFake(t, ""), nil)
	code, body := call(t, mux, "/cluster_describe")
	require.Equal(t, 200, code)
	var got map[string][]DCJSON[describeRack]
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Equal(t, map[string][]DCJSON[describeRack]{"dcs": {{Name: "dc1", Racks: []describeRack{
		{Name: "r1", Servers: []describeServer{
			{Name: "10.0.0.1", Host: "10.0.0.1", Port: 8101, Token: 100},
			{Name: "10.0.0.1", Host: "10.0.0.1", Port: 8101, Token: 200}}},
		{Name: "r2", Servers: []describeServer{{Name: "::1", Host: "::1", Port: 8102, Token: 7}}},
	}}}}, got)
}

func TestChangingEndpointsAreGuarded(t *testing.T) {
	t.Run("without a token, loopback clients only", func(t *testing.T) {
		mux := http.NewServeMux()
		RegisterCluster(mux, newFake(t, ""), nil)
		code, _ := call(t, mux, "/state/standby", "192.0.2.1:5000")
		require.Equal(t, http.StatusForbidden, code)
		code, _ = call(t, mux, "/get_consistency", "192.0.2.1:5000")
		require.Equal(t, http.StatusOK, code, "reading endpoints are open")
		code, _ = call(t, mux, "/state/standby", "[::1]:5000")
		require.Equal(t, http.StatusOK, code)
	})
	t.Run("with a token, the token from anywhere", func(t *testing.T) {
		mux := http.NewServeMux()
		RegisterCluster(mux, newFake(t, "s3cret"), nil)
		code, _ := call(t, mux, "/state/standby")
		require.Equal(t, http.StatusUnauthorized, code, "loopback is not enough")
		code, _ = call(t, mux, "/state/standby", "Authorization", "Bearer wrong")
		require.Equal(t, http.StatusUnauthorized, code)
		code, _ = call(t, mux, "/state/standby", "Authorization", "Bearer s3cret")
		require.Equal(t, http.StatusOK, code)
		code, _ = call(t, mux, "/state/standby?token=s3cret", "192.0.2.1:5000")
		require.Equal(t, http.StatusOK, code)
	})
}
