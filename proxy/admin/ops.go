package admin

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Ops is what the operator endpoints (/ready, /ring, /owner, /status; the
// `dynomite ring|owner|status|ready` commands) read from the node. The
// proxy package implements it (proxy.Server.Ops); the node adds readiness.
type Ops interface {
	// Topology is the current ring.
	Topology() *ring.Topology
	// Nodes lists every node of the ring, the local one included, with
	// what requests to it look like.
	Nodes() []NodeState
	// NodeState is the node state's name (NORMAL, STANDBY...).
	NodeState() string
}

// NodeState is one node of the ring as the node serving the request sees
// it.
type NodeState struct {
	Name, Addr, DC, Rack string
	Tokens               []ring.Token
	Local                bool
	// Up: requests reach it (for the local node: its datastore is
	// connected). AdminDown: marked down (/peer/down, or dead in gossip).
	Up, AdminDown bool
	// Latency is the smoothed reply time of its connections, 0 before a
	// reply (backend.Stats.Latency).
	Latency                                   time.Duration
	Requests, Errors, Timeouts, ConnectErrors uint64
}

// Readiness says what the node still waits for before it is ready: nothing
// (an empty list) once its datastore is connected and it knows every peer
// its seed provider lists. Each entry is a sentence an operator can act
// on, such as "datastore not connected" or "waiting for peers: dc2/rack1
// 10.0.0.5:8101".
type Readiness interface {
	Missing() []string
}

// RegisterOps adds the operator endpoints to mux:
//
//	/ready   200 "ready" when Missing is empty, else 503 with one line per
//	         missing thing (container healthchecks: `dynomite ready`)
//	/ring    the ring as JSON: datacenters, racks, nodes, tokens, state
//	/owner   ?key=K: the node of every datacenter and rack holding K, with
//	         K's token after the node's hash and hash tag
//	/status  this node, its readiness and its peers' state and latency
//
// All of them only read; like /cluster_describe they are not guarded.
// advertise, when set, replaces an unspecified listen host (0.0.0.0) in the
// local node's address with the one peers know it by.
func RegisterOps(mux Mux, ops Ops, ready Readiness, advertise func() string) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, f) }
	h("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if missing := ready.Missing(); len(missing) > 0 {
			http.Error(w, "not ready: "+strings.Join(missing, "\nnot ready: "), http.StatusServiceUnavailable)
			return
		}
		text(w, "ready\n")
	})
	h("GET /ring", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ringOf(ops, advertise))
	})
	h("GET /owner", func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("key") {
			bad(w, "owner: the key parameter is missing (/owner?key=KEY)")
			return
		}
		writeJSON(w, http.StatusOK, ownerOf(ops, advertise, r.URL.Query().Get("key")))
	})
	h("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, statusOf(ops, ready, advertise))
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// RingJSON is GET /ring. The CLI decodes the same types. Switched is true
// while nodes join or leave and reads already go to the owners after the
// move (ring.Options.Switched).
type RingJSON struct {
	Local       string                 `json:"local"`
	Hash        string                 `json:"hash"`
	HashTag     string                 `json:"hash_tag,omitempty"`
	Switched    bool                   `json:"switched,omitempty"`
	Datacenters []DCJSON[RingRackJSON] `json:"datacenters"`
}

// DCJSON is a datacenter as /ring and /cluster_describe show it: its name
// and its racks by name.
type DCJSON[R any] struct {
	Name  string `json:"name"`
	Racks []R    `json:"racks"`
}

// RingRackJSON is one rack, its nodes by lowest token.
type RingRackJSON struct {
	Name  string         `json:"name"`
	Nodes []RingNodeJSON `json:"nodes"`
}

// RingNodeJSON is one node: State is "up", "down" (not reachable) or
// "marked-down" (/peer/down or dead in gossip); RingState its part in a
// move of token ranges, "normal", "joining" or "leaving" (ring.NodeState).
type RingNodeJSON struct {
	Name      string   `json:"name"`
	Addr      string   `json:"addr"`
	Tokens    []uint32 `json:"tokens"`
	State     string   `json:"state"`
	RingState string   `json:"ring_state"`
	Local     bool     `json:"local,omitempty"`
}

func stateName(n NodeState) string {
	switch {
	case n.AdminDown:
		return "marked-down"
	case n.Up:
		return "up"
	}
	return "down"
}

// addrOf is n's address as peers know it: the local node listens on
// 0.0.0.0 but is reached at its advertised host.
func addrOf(n NodeState, advertise func() string) string {
	if !n.Local || advertise == nil {
		return n.Addr
	}
	return advertised(n.Addr, advertise())
}

// advertised replaces an unspecified host (0.0.0.0, ::) in addr with host.
func advertised(addr, host string) string {
	h, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || (h != "" && !net.ParseIP(h).IsUnspecified()) {
		return addr
	}
	return net.JoinHostPort(host, port)
}

func tokensOf(ts []ring.Token) []uint32 {
	out := make([]uint32, len(ts))
	for i, t := range ts {
		out[i] = uint32(t)
	}
	return out
}

func ringOf(ops Ops, advertise func() string) RingJSON {
	topo := ops.Topology()
	states := map[string]NodeState{}
	for _, n := range ops.Nodes() {
		states[n.Name] = n
	}
	tag, _ := topo.HashTag()
	out := RingJSON{Local: topo.Local().Name, Hash: topo.HashName(), HashTag: strings.TrimRight(string(tag[:]), "\x00"),
		Datacenters: []DCJSON[RingRackJSON]{}, Switched: topo.Moving() && topo.Switched()}
	for d := 0; d < topo.NumDCs(); d++ {
		dc := DCJSON[RingRackJSON]{Name: topo.DCName(d), Racks: []RingRackJSON{}}
		for r := 0; r < topo.NumRacks(d); r++ {
			rk := RingRackJSON{Name: topo.RackName(d, r), Nodes: []RingNodeJSON{}}
			for _, n := range topo.RackNodes(d, r) {
				st, ok := states[n.Name]
				if !ok { // the ring changed between the two reads
					st = NodeState{Name: n.Name, Addr: n.Addr, Local: n.Local}
				}
				rk.Nodes = append(rk.Nodes, RingNodeJSON{Name: n.Name, Addr: addrOf(st, advertise),
					Tokens: tokensOf(n.Tokens), State: stateName(st), RingState: n.State.String(), Local: n.Local})
			}
			dc.Racks = append(dc.Racks, rk)
		}
		out.Datacenters = append(out.Datacenters, dc)
	}
	return out
}

// OwnerJSON is GET /owner: the node of every datacenter and rack that
// holds Key. Keyless is true for a key the ring does not hash (an empty
// hash tag such as "{}x"): upstream serves those on the node that
// received them, so every owner is that node and Token is 0.
type OwnerJSON struct {
	Key     string           `json:"key"`
	Token   uint32           `json:"token"`
	Hash    string           `json:"hash"`
	HashTag string           `json:"hash_tag,omitempty"`
	Keyless bool             `json:"keyless,omitempty"`
	Owners  []OwnerPlaceJSON `json:"owners"`
}

// OwnerPlaceJSON is the owner in one rack.
type OwnerPlaceJSON struct {
	DC    string `json:"datacenter"`
	Rack  string `json:"rack"`
	Node  string `json:"node"`
	Addr  string `json:"addr"`
	Local bool   `json:"local,omitempty"`
}

func ownerOf(ops Ops, advertise func() string, key string) OwnerJSON {
	topo := ops.Topology()
	tag, _ := topo.HashTag()
	tok, ok := topo.KeyToken([]byte(key))
	out := OwnerJSON{Key: key, Token: uint32(tok), Hash: topo.HashName(), HashTag: strings.TrimRight(string(tag[:]), "\x00"),
		Keyless: !ok, Owners: []OwnerPlaceJSON{}}
	for d := 0; d < topo.NumDCs(); d++ {
		for r := 0; r < topo.NumRacks(d); r++ {
			n := topo.Lookup([]byte(key), d, r)
			addr := n.Addr
			if n.Local && advertise != nil {
				addr = advertised(addr, advertise())
			}
			out.Owners = append(out.Owners, OwnerPlaceJSON{DC: topo.DCName(d), Rack: topo.RackName(d, r),
				Node: n.Name, Addr: addr, Local: n.Local})
		}
	}
	return out
}

// StatusJSON is GET /status.
type StatusJSON struct {
	Node    StatusNodeJSON   `json:"node"`
	Ready   bool             `json:"ready"`
	Missing []string         `json:"missing"`
	Peers   []StatusPeerJSON `json:"peers"`
	// Hints and Repair are null: the node keeps no hinted handoff and runs
	// no anti-entropy repair yet. When those exist, their progress goes
	// here (pending hints per peer; ranges repaired of ranges owned), and
	// `dynomite status` prints it; until then nothing is shown rather than
	// a made-up zero.
	Hints  any `json:"hints"`
	Repair any `json:"repair"`
}

// StatusNodeJSON is the node answering.
type StatusNodeJSON struct {
	Name      string   `json:"name"`
	Addr      string   `json:"addr"`
	DC        string   `json:"datacenter"`
	Rack      string   `json:"rack"`
	Tokens    []uint32 `json:"tokens"`
	State     string   `json:"state"`
	Datastore string   `json:"datastore"`
}

// StatusPeerJSON is one peer: State as in [RingNodeJSON]; LatencyMS is the
// smoothed reply time in milliseconds, null before the first reply.
type StatusPeerJSON struct {
	Name          string   `json:"name"`
	Addr          string   `json:"addr"`
	DC            string   `json:"datacenter"`
	Rack          string   `json:"rack"`
	State         string   `json:"state"`
	LatencyMS     *float64 `json:"latency_ms"`
	Requests      uint64   `json:"requests"`
	Errors        uint64   `json:"errors"`
	Timeouts      uint64   `json:"timeouts"`
	ConnectErrors uint64   `json:"connect_errors"`
}

func statusOf(ops Ops, ready Readiness, advertise func() string) StatusJSON {
	missing := ready.Missing()
	out := StatusJSON{Ready: len(missing) == 0, Missing: append([]string{}, missing...), Peers: []StatusPeerJSON{}}
	for _, n := range ops.Nodes() {
		if n.Local {
			ds := "connected"
			if !n.Up {
				ds = "not connected"
			}
			out.Node = StatusNodeJSON{Name: n.Name, Addr: addrOf(n, advertise), DC: n.DC, Rack: n.Rack,
				Tokens: tokensOf(n.Tokens), State: ops.NodeState(), Datastore: ds}
			continue
		}
		p := StatusPeerJSON{Name: n.Name, Addr: n.Addr, DC: n.DC, Rack: n.Rack, State: stateName(n),
			Requests: n.Requests, Errors: n.Errors, Timeouts: n.Timeouts, ConnectErrors: n.ConnectErrors}
		if n.Latency > 0 {
			ms := float64(n.Latency) / float64(time.Millisecond)
			p.LatencyMS = &ms
		}
		out.Peers = append(out.Peers, p)
	}
	return out
}
