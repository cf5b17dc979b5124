package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// fakeOps is a node listening on 0.0.0.0 with two peers, one marked down.
type fakeOps struct {
	topo    *ring.Topology
	missing []string
}

func newFakeOps(t testing.TB) *fakeOps {
	topo, err := ring.NewTopology("self", []ring.Node{
		{Name: "self", Addr: "0.0.0.0:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{0}},
		{Name: "10.0.0.2:8101", Addr: "10.0.0.2:8101", DC: "dc1", Rack: "r2", Tokens: []ring.Token{0}},
		{Name: "10.0.0.3:8101", Addr: "10.0.0.3:8101", DC: "dc2", Rack: "r1", Tokens: []ring.Token{0}},
	}, ring.Options{HashTag: "{}"})
	require.NoError(t, err)
	return &fakeOps{topo: topo}
}

func (f *fakeOps) Topology() *ring.Topology { return f.topo }
func (f *fakeOps) NodeState() string        { return "NORMAL" }
func (f *fakeOps) Missing() []string        { return f.missing }
func (f *fakeOps) Nodes() []NodeState {
	var out []NodeState
	for _, n := range f.topo.Nodes() {
		out = append(out, NodeState{Name: n.Name, Addr: n.Addr, DC: n.DC, Rack: n.Rack, Tokens: n.Tokens, Local: n.Local,
			Up: n.Name != "10.0.0.3:8101", AdminDown: n.Name == "10.0.0.3:8101"})
	}
	out[1].Latency, out[1].Requests = 1500*time.Microsecond, 3
	return out
}

func opsMux(f *fakeOps) *http.ServeMux {
	mux := http.NewServeMux()
	RegisterOps(mux, f, f, func() string { return "node-a" })
	return mux
}

func TestReadyNamesWhatIsMissing(t *testing.T) {
	f := newFakeOps(t)
	mux := opsMux(f)
	code, body := call(t, mux, "/ready")
	require.Equal(t, 200, code)
	require.Equal(t, "ready\n", body)

	f.missing = []string{"datastore not connected", "waiting for peers: dc2/r1 10.0.0.3:8101"}
	code, body = call(t, mux, "/ready")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "not ready: datastore not connected\nnot ready: waiting for peers: dc2/r1 10.0.0.3:8101\n", body)
}

func TestRingShowsStatesAndTheAdvertisedAddress(t *testing.T) {
	code, body := call(t, opsMux(newFakeOps(t)), "/ring")
	require.Equal(t, 200, code)
	var r RingJSON
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	require.Equal(t, RingJSON{Local: "self", Hash: "murmur", HashTag: "{}", Datacenters: []DCJSON[RingRackJSON]{
		{Name: "dc1", Racks: []RingRackJSON{
			{Name: "r1", Nodes: []RingNodeJSON{{Name: "self", Addr: "node-a:8101", Tokens: []uint32{0}, State: "up", RingState: "normal", Local: true}}},
			{Name: "r2", Nodes: []RingNodeJSON{{Name: "10.0.0.2:8101", Addr: "10.0.0.2:8101", Tokens: []uint32{0}, State: "up", RingState: "normal"}}},
		}},
		{Name: "dc2", Racks: []RingRackJSON{
			{Name: "r1", Nodes: []RingNodeJSON{{Name: "10.0.0.3:8101", Addr: "10.0.0.3:8101", Tokens: []uint32{0}, State: "marked-down", RingState: "normal"}}},
		}},
	}}, r)
}

func TestRingShowsEachNodesPartInAMove(t *testing.T) {
	for _, switched := range []bool{false, true} {
		topo, err := ring.NewTopology("self", []ring.Node{
			{Name: "self", Addr: "10.0.0.1:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{0}},
			{Name: "old", Addr: "10.0.0.2:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{100}, State: ring.StateLeaving},
			{Name: "new", Addr: "10.0.0.3:8101", DC: "dc1", Rack: "r1", Tokens: []ring.Token{50}, State: ring.StateJoining},
		}, ring.Options{Switched: switched})
		require.NoError(t, err)
		_, body := call(t, opsMux(&fakeOps{topo: topo}), "/ring")
		var r RingJSON
		require.NoError(t, json.Unmarshal([]byte(body), &r))
		require.Equal(t, switched, r.Switched)
		states := map[string]string{}
		for _, n := range r.Datacenters[0].Racks[0].Nodes {
			states[n.Name] = n.RingState
		}
		require.Equal(t, map[string]string{"self": "normal", "old": "leaving", "new": "joining"}, states)
	}
}

func TestOwnerHonoursTheHashTag(t *testing.T) {
	f := newFakeOps(t)
	mux := opsMux(f)
	code, body := call(t, mux, "/owner")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "key parameter is missing")

	var a, b OwnerJSON
	_, body = call(t, mux, "/owner?key=%7Buser1%7D.name")
	require.NoError(t, json.Unmarshal([]byte(body), &a))
	_, body = call(t, mux, "/owner?key=user1")
	require.NoError(t, json.Unmarshal([]byte(body), &b))
	tok, ok := f.topo.KeyToken([]byte("user1"))
	require.True(t, ok)
	require.Equal(t, uint32(tok), a.Token, "the tag's content is what is hashed")
	require.Equal(t, a.Token, b.Token)
	require.Equal(t, "{user1}.name", a.Key)
	require.Len(t, a.Owners, 3, "one owner per datacenter and rack")
	require.Equal(t, OwnerPlaceJSON{DC: "dc1", Rack: "r1", Node: "self", Addr: "node-a:8101", Local: true}, a.Owners[0])

	_, body = call(t, mux, "/owner?key=%7B%7Dx")
	var k OwnerJSON
	require.NoError(t, json.Unmarshal([]byte(body), &k))
	require.True(t, k.Keyless, "an empty hash tag is not hashed")
}

func TestStatusLeavesHintsAndRepairNull(t *testing.T) {
	f := newFakeOps(t)
	f.missing = []string{"waiting for peers: dc2/r1 10.0.0.3:8101"}
	_, body := call(t, opsMux(f), "/status")
	var s map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	require.Contains(t, s, "hints")
	require.Nil(t, s["hints"])
	require.Contains(t, s, "repair")
	require.Nil(t, s["repair"])
	var st StatusJSON
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.False(t, st.Ready)
	require.Equal(t, "node-a:8101", st.Node.Addr)
	require.Equal(t, "connected", st.Node.Datastore)
	require.Len(t, st.Peers, 2)
	require.InDelta(t, 1.5, *st.Peers[0].LatencyMS, 1e-9)
	require.Nil(t, st.Peers[1].LatencyMS, "no reply yet: no latency, not zero")
	require.Equal(t, "marked-down", st.Peers[1].State)
}

func TestClusterDescribeShowsTheAdvertisedHost(t *testing.T) {
	f := newFakeOps(t)
	mux := http.NewServeMux()
	c := newFake(t, "")
	c.topo = f.topo
	RegisterCluster(mux, advertising{c}, nil)
	_, body := call(t, mux, "/cluster_describe")
	require.Contains(t, body, `{"name":"node-a","host":"node-a","port":8101,"token":0}`)
	require.NotContains(t, body, "0.0.0.0")
}

type advertising struct{ *fakeCluster }

func (advertising) AdvertisedHost() string { return "node-a" }

// FuzzOwner: any key, bytes included, gets an owner in every rack and its
// own token back, never an error or a panic.
func FuzzOwner(f *testing.F) {
	for _, k := range []string{"", "user1", "{user1}.name", "{}x", "{", "}", "{{}}", "a\x00b", "\xff\xfe", strings.Repeat("k", 4096)} {
		f.Add(k)
	}
	ops := newFakeOps(f)
	mux := opsMux(ops)
	f.Fuzz(func(t *testing.T, key string) {
		code, body := call(t, mux, "/owner?"+url.Values{"key": {key}}.Encode())
		require.Equal(t, http.StatusOK, code, body)
		var o OwnerJSON
		require.NoError(t, json.Unmarshal([]byte(body), &o))
		require.Len(t, o.Owners, 3)
		tok, ok := ops.topo.KeyToken([]byte(key))
		require.Equal(t, !ok, o.Keyless)
		require.Equal(t, uint32(tok), o.Token)
		if utf8.ValidString(key) {
			require.Equal(t, key, o.Key)
		}
	})
}
