package proxy

import (
	"strings"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Admin is the node as the stats listener's endpoints see it
// (admin.RegisterCluster): levels and states by upstream's names.
func (s *Server) Admin() admin.Cluster { return adminView{s} }

// adminView adapts Server to admin.Cluster.
type adminView struct{ s *Server }

func (v adminView) Consistency() (read, write string) {
	rl, wl := v.s.Consistency()
	return rl.String(), wl.String()
}

func (v adminView) SetConsistency(write bool, level string) bool {
	l, err := consistency.Parse(level)
	if err == nil {
		v.s.SetConsistency(write, l)
	}
	return err == nil
}

func (v adminView) TimeoutFactor() int                   { return v.s.TimeoutFactor() }
func (v adminView) SetTimeoutFactor(n int)               { v.s.SetTimeoutFactor(n) }
func (v adminView) NodeState() string                    { return v.s.NodeState().String() }
func (v adminView) SetPeerDown(name string, d bool) bool { return v.s.SetPeerDown(name, d) }
func (v adminView) SetReadRepairs(on bool)               { v.s.SetReadRepairs(on) }
func (v adminView) Topology() *ring.Topology             { return v.s.Topology() }
func (v adminView) AdminToken() string                   { return v.s.live.Load().AdminToken }

func (v adminView) SetNodeState(name string) bool {
	for _, st := range []State{StateStandby, StateWritesOnly, StateResuming, StateNormal} {
		if strings.EqualFold(name, st.String()) {
			v.s.SetNodeState(st)
			return true
		}
	}
	return false
}
