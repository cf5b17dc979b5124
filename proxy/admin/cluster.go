package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Mux is where endpoints are registered ([Server] and http.ServeMux
// satisfy it).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// LogControl lets the endpoints change the log level (the command owns
// the level).
type LogControl interface {
	// SetVerbosity sets upstream's verbosity 0..11; false when out of range.
	SetVerbosity(v int) bool
	// Adjust raises (1) or lowers (-1) the verbosity.
	Adjust(delta int)
}

// Cluster is what the endpoints read and change on the node. Consistency
// levels and node states travel by upstream's names (DC_QUORUM,
// WRITES_ONLY), so that this package needs none of the proxy's types; the
// proxy package implements it (proxy.Server.Admin).
type Cluster interface {
	// Consistency returns the names of the node-wide read and write levels.
	Consistency() (read, write string)
	// SetConsistency sets the read or the write level by its name, in any
	// case; false for a name that is not a level.
	SetConsistency(write bool, level string) bool
	// TimeoutFactor is upstream's timeout multiplier.
	TimeoutFactor() int
	// SetTimeoutFactor sets it (the node clamps it to 1..10).
	SetTimeoutFactor(n int)
	// NodeState returns the node state's name (NORMAL, STANDBY...).
	NodeState() string
	// SetNodeState sets the node state by its name, in any case
	// (standby, writes_only, resuming, normal); false for any other name.
	SetNodeState(state string) bool
	// SetPeerDown marks the peer named name (or "all") administratively
	// down or up; false when none matched.
	SetPeerDown(name string, down bool) bool
	// SetReadRepairs turns read repairs on or off.
	SetReadRepairs(on bool)
	// Topology is the current ring.
	Topology() *ring.Topology
	// AdminToken is stats_admin_token, "" when none is set.
	AdminToken() string
}

// RegisterCluster adds upstream's admin endpoints (dyn_stats.c) to mux:
// /help, /cluster_describe, /get_consistency,
// /set_consistency/<read|write>/<level>, /get_timeout_factor,
// /set_timeout_factor/<n>, /state/get_state,
// /state/<standby|writes_only|resuming|normal>, /peer/<down|up|reset>/<name|all>,
// /read_repairs/<enable|disable>, and with logs /setloglevel/<n>,
// /loglevelup, /logleveldown. Answers are upstream's texts; a malformed
// request gets 400 naming what is wrong instead of upstream's silent "OK".
// The endpoints that change the node are guarded (see [guard]).
func RegisterCluster(mux Mux, c Cluster, logs LogControl) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, f) }
	// m registers an endpoint that changes the node
	m := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, guard(c.AdminToken, f)) }

	h("GET /help", func(w http.ResponseWriter, _ *http.Request) {
		text(w, strings.Join([]string{"/info", "/metrics", "/ping", "/health", "/help", "/cluster_describe",
			"/get_consistency", "/set_consistency/<read|write>/<dc_one|dc_quorum|dc_safe_quorum|dc_each_safe_quorum>",
			"/get_timeout_factor", "/set_timeout_factor/<1..10>", "/state/get_state",
			"/state/<standby|writes_only|resuming|normal>", "/peer/<down|up|reset>/<peer name|all>",
			"/read_repairs/<enable|disable>", "/setloglevel/<0..11>", "/loglevelup", "/logleveldown",
			"/ready", "/ring", "/owner?key=<key>", "/status", "POST /reload", "POST /repair", "/repair", "/datastore", ""}, "\n"))
	})
	h("GET /cluster_describe", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		host := ""
		if a, ok := c.(Advertiser); ok {
			host = a.AdvertisedHost()
		}
		_ = json.NewEncoder(w).Encode(describe(c.Topology(), host))
	})
	h("GET /get_consistency", func(w http.ResponseWriter, _ *http.Request) {
		rl, wl := c.Consistency()
		text(w, "Read Consistency: "+rl+"\r\nWrite Consistency: "+wl+"\r\n")
	})
	m("GET /set_consistency/{op}/{level}", func(w http.ResponseWriter, r *http.Request) {
		op := strings.ToLower(r.PathValue("op"))
		if op != "read" && op != "write" {
			bad(w, "set_consistency: %q is neither read nor write", op)
			return
		}
		if !c.SetConsistency(op == "write", r.PathValue("level")) {
			bad(w, "set_consistency: unknown level %q", r.PathValue("level"))
			return
		}
		text(w, "OK\r\n")
	})
	h("GET /get_timeout_factor", func(w http.ResponseWriter, _ *http.Request) {
		text(w, "Timeout factor: "+strconv.Itoa(c.TimeoutFactor())+"\n")
	})
	m("GET /set_timeout_factor/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			bad(w, "set_timeout_factor: %q is not a number", r.PathValue("n"))
			return
		}
		c.SetTimeoutFactor(n)
		text(w, "OK\r\n")
	})
	h("GET /state/get_state", func(w http.ResponseWriter, _ *http.Request) {
		text(w, "State: "+c.NodeState()+"\n")
	})
	m("GET /state/{state}", func(w http.ResponseWriter, r *http.Request) {
		if !c.SetNodeState(r.PathValue("state")) {
			bad(w, "state: unknown state %q", r.PathValue("state"))
			return
		}
		text(w, "OK\r\n")
	})
	m("GET /peer/{op}/{name...}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var ok bool
		switch strings.ToLower(r.PathValue("op")) {
		case "down":
			ok = c.SetPeerDown(name, true)
		case "up", "reset":
			ok = c.SetPeerDown(name, false)
		default:
			bad(w, "peer: unknown operation %q (down, up, reset)", r.PathValue("op"))
			return
		}
		if !ok {
			http.Error(w, fmt.Sprintf("peer: no peer named %q", name), http.StatusNotFound)
			return
		}
		text(w, "OK\r\n")
	})
	m("GET /read_repairs/{op}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("op") {
		case "enable":
			c.SetReadRepairs(true)
			text(w, "Read Repairs: ENABLED\r\n")
		case "disable":
			c.SetReadRepairs(false)
			text(w, "Read Repairs: DISABLED\r\n")
		default:
			bad(w, "read_repairs: unknown operation %q (enable, disable)", r.PathValue("op"))
		}
	})
	if logs != nil {
		m("GET /setloglevel/{n}", func(w http.ResponseWriter, r *http.Request) {
			n, err := strconv.Atoi(r.PathValue("n"))
			if err != nil || !logs.SetVerbosity(n) {
				bad(w, "setloglevel: %q is not a level 0..11", r.PathValue("n"))
				return
			}
			text(w, "OK\r\n")
		})
		m("GET /loglevelup", func(w http.ResponseWriter, _ *http.Request) { logs.Adjust(1); text(w, "OK\r\n") })
		m("GET /logleveldown", func(w http.ResponseWriter, _ *http.Request) { logs.Adjust(-1); text(w, "OK\r\n") })
	}
}

func text(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(body))
}

func bad(w http.ResponseWriter, format string, a ...any) {
	http.Error(w, fmt.Sprintf(format, a...), http.StatusBadRequest)
}

// describeServer, describeRack and DCJSON[describeRack] are upstream's
// /cluster_describe shape: {"dcs": [{"name", "racks": [{"name",
// "servers": [{"name", "host", "port", "token"}]}]}]}.
type describeServer struct {
	Name  string `json:"name"`
	Host  string `json:"host"`
	Port  int    `json:"port"`
	Token uint32 `json:"token"`
}

type describeRack struct {
	Name    string           `json:"name"`
	Servers []describeServer `json:"servers"`
}

// Advertiser is implemented by a [Cluster] that knows the host other nodes
// reach it at: /cluster_describe then lists the local node there instead of
// its listen address's 0.0.0.0.
type Advertiser interface {
	AdvertisedHost() string
}

// describe renders topo as /cluster_describe; a node with several tokens
// is listed once per token, each rack's servers by ascending token. self,
// when set, replaces the local node's unspecified listen host.
func describe(topo *ring.Topology, self string) map[string][]DCJSON[describeRack] {
	var dcs []DCJSON[describeRack]
	for d := 0; d < topo.NumDCs(); d++ {
		dc := DCJSON[describeRack]{Name: topo.DCName(d)}
		for r := 0; r < topo.NumRacks(d); r++ {
			rk := describeRack{Name: topo.RackName(d, r), Servers: []describeServer{}}
			for _, n := range topo.RackNodes(d, r) {
				addr := n.Addr
				if n.Local {
					addr = advertised(addr, self)
				}
				host, port := splitHostPort(addr)
				for _, t := range n.Tokens {
					rk.Servers = append(rk.Servers, describeServer{Name: host, Host: host, Port: port, Token: uint32(t)})
				}
			}
			sort.Slice(rk.Servers, func(i, j int) bool { return rk.Servers[i].Token < rk.Servers[j].Token })
			dc.Racks = append(dc.Racks, rk)
		}
		dcs = append(dcs, dc)
	}
	return map[string][]DCJSON[describeRack]{"dcs": dcs}
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, 0
	}
	p, _ := strconv.Atoi(addr[i+1:])
	return strings.Trim(addr[:i], "[]"), p
}

// guard protects the endpoints that change the node. With a token
// (stats_admin_token), the request must carry it (Authorization: Bearer
// <token>, or ?token=<token>); without one, only loopback clients may call
// them, so a stats port exposed for monitoring cannot reconfigure the node.
// The token is read for every request: a reload may change it.
func guard(tokenOf func() string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token := tokenOf(); token != "" {
			want := sha256.Sum256([]byte(token))
			got := r.URL.Query().Get("token")
			if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
				got = strings.TrimPrefix(a, "Bearer ")
			}
			// digests of both: ConstantTimeCompare returns early on a
			// length mismatch, which would leak the token's length
			if g := sha256.Sum256([]byte(got)); subtle.ConstantTimeCompare(want[:], g[:]) != 1 {
				http.Error(w, "admin endpoint: missing or wrong stats_admin_token", http.StatusUnauthorized)
				return
			}
		} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
			http.Error(w, "admin endpoint: only loopback clients may call it unless stats_admin_token is set", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
