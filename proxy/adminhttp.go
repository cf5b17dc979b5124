package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Mux is where admin endpoints are registered (admin.Server satisfies it).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// LogControl lets the admin endpoints change the log level (cmd owns it).
type LogControl interface {
	SetVerbosity(v int) bool
	Adjust(delta int)
}

// RegisterAdmin adds upstream's admin endpoints (reference §7.1) to mux:
// /help, /cluster_describe, /get_consistency, /set_consistency/<read|write>/<level>,
// /get_timeout_factor, /set_timeout_factor/<n>, /state/get_state,
// /state/<standby|writes_only|resuming|normal>, /peer/<down|up|reset>/<name|all>,
// /read_repairs/<enable|disable>, /setloglevel/<n>, /loglevelup, /logleveldown.
// Answers are upstream's texts; a malformed request gets 400 naming what is
// wrong instead of upstream's silent "OK".
func (s *Server) RegisterAdmin(mux Mux, logs LogControl) {
	text := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(body))
	}
	bad := func(w http.ResponseWriter, format string, a ...any) {
		http.Error(w, fmt.Sprintf(format, a...), http.StatusBadRequest)
	}
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, f) }
	// m registers an endpoint that changes the node: it needs the
	// stats_admin_token when one is set, else a loopback client.
	m := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, s.adminGuard(f)) }

	h("GET /help", func(w http.ResponseWriter, _ *http.Request) {
		text(w, strings.Join([]string{"/info", "/metrics", "/ping", "/health", "/help", "/cluster_describe",
			"/get_consistency", "/set_consistency/<read|write>/<dc_one|dc_quorum|dc_safe_quorum|dc_each_safe_quorum>",
			"/get_timeout_factor", "/set_timeout_factor/<1..10>", "/state/get_state",
			"/state/<standby|writes_only|resuming|normal>", "/peer/<down|up|reset>/<peer name|all>",
			"/read_repairs/<enable|disable>", "/setloglevel/<0..11>", "/loglevelup", "/logleveldown", ""}, "\n"))
	})
	h("GET /cluster_describe", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(s.describeCluster())
	})
	h("GET /get_consistency", func(w http.ResponseWriter, _ *http.Request) {
		rl, wl := s.Consistency()
		text(w, "Read Consistency: "+rl.String()+"\r\nWrite Consistency: "+wl.String()+"\r\n")
	})
	m("GET /set_consistency/{op}/{level}", func(w http.ResponseWriter, r *http.Request) {
		op := strings.ToLower(r.PathValue("op"))
		l, ok := ParseLevel(r.PathValue("level"))
		if op != "read" && op != "write" {
			bad(w, "set_consistency: %q is neither read nor write", op)
			return
		}
		if !ok {
			bad(w, "set_consistency: unknown level %q", r.PathValue("level"))
			return
		}
		s.SetConsistency(op == "write", l)
		text(w, "OK\r\n")
	})
	h("GET /get_timeout_factor", func(w http.ResponseWriter, _ *http.Request) {
		text(w, "Timeout factor: "+strconv.Itoa(s.TimeoutFactor())+"\n")
	})
	m("GET /set_timeout_factor/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			bad(w, "set_timeout_factor: %q is not a number", r.PathValue("n"))
			return
		}
		s.SetTimeoutFactor(n)
		text(w, "OK\r\n")
	})
	h("GET /state/get_state", func(w http.ResponseWriter, _ *http.Request) {
		text(w, "State: "+s.NodeState().String()+"\n")
	})
	m("GET /state/{state}", func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(r.PathValue("state")) {
		case "standby":
			s.SetNodeState(StateStandby)
		case "writes_only":
			s.SetNodeState(StateWritesOnly)
		case "resuming":
			s.SetNodeState(StateResuming)
		case "normal":
			s.SetNodeState(StateNormal)
		default:
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
			ok = s.SetPeerDown(name, true)
		case "up", "reset":
			ok = s.SetPeerDown(name, false)
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
			s.readRepairs.Store(true)
			text(w, "Read Repairs: ENABLED\r\n")
		case "disable":
			s.readRepairs.Store(false)
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

type describeDC struct {
	Name  string         `json:"name"`
	Racks []describeRack `json:"racks"`
}

// describeCluster is upstream's /cluster_describe shape; a node with
// several tokens is listed once per token.
func (s *Server) describeCluster() map[string][]describeDC {
	topo := s.Topology()
	var dcs []describeDC
	for d := 0; d < topo.NumDCs(); d++ {
		dc := describeDC{Name: topo.DCName(d)}
		for r := 0; r < topo.NumRacks(d); r++ {
			rk := describeRack{Name: topo.RackName(d, r), Servers: []describeServer{}}
			for _, n := range topo.RackNodes(d, r) {
				host, port := splitHostPort(n.Addr)
				for _, t := range n.Tokens {
					rk.Servers = append(rk.Servers, describeServer{Name: host, Host: host, Port: port, Token: uint32(t)})
				}
			}
			sort.Slice(rk.Servers, func(i, j int) bool { return rk.Servers[i].Token < rk.Servers[j].Token })
			dc.Racks = append(dc.Racks, rk)
		}
		dcs = append(dcs, dc)
	}
	return map[string][]describeDC{"dcs": dcs}
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, 0
	}
	p, _ := strconv.Atoi(addr[i+1:])
	return strings.Trim(addr[:i], "[]"), p
}

// adminGuard protects the endpoints that change the node. With
// stats_admin_token set, the request must carry it (Authorization: Bearer
// <token>, or ?token=<token>); without one, only loopback clients may call
// them, so a stats port exposed for monitoring cannot reconfigure the node.
func (s *Server) adminGuard(next http.Handler) http.Handler {
	token := []byte(s.opts.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(token) > 0 {
			got := r.URL.Query().Get("token")
			if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
				got = strings.TrimPrefix(a, "Bearer ")
			}
			if !passwordOK(token, []byte(got)) {
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
