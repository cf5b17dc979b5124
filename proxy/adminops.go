package proxy

import (
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Ops is the node as the operator endpoints see it (admin.RegisterOps:
// /ring, /owner, /status).
func (s *Server) Ops() admin.Ops { return opsView{s} }

type opsView struct{ s *Server }

func (v opsView) Topology() *ring.Topology { return v.s.Topology() }
func (v opsView) NodeState() string        { return v.s.NodeState().String() }

// Nodes lists the ring's nodes from one snapshot, with each peer pool's
// counters (the local node's are its datastore's).
func (v opsView) Nodes() []admin.NodeState {
	st := v.s.cluster.state.Load()
	out := make([]admin.NodeState, 0, len(st.topo.Nodes()))
	for i, n := range st.topo.Nodes() {
		pool := v.s.backend
		if !n.Local {
			pool = st.pools[i]
		}
		ps := pool.Stats()
		ns := admin.NodeState{Name: n.Name, Addr: n.Addr, DC: n.DC, Rack: n.Rack, Tokens: n.Tokens, Local: n.Local,
			Up: ps.Up, Latency: ps.Latency, Requests: ps.Requests, Errors: ps.Errors, Timeouts: ps.Timeouts,
			ConnectErrors: ps.ConnectFailures}
		if !n.Local {
			ns.AdminDown = st.down[i].Load()
			ns.Up = ns.Up && !ns.AdminDown
		}
		out = append(out, ns)
	}
	return out
}
