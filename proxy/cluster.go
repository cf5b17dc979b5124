package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/backend"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/hints"
	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/tlsconf"
)

// State is the node state that /state/... sets (dyn_stats.c parse_request).
type State int32

const (
	StateNormal     State = 4
	StateStandby    State = 1
	StateWritesOnly State = 2
	StateResuming   State = 3
)

func (s State) String() string {
	switch s {
	case StateNormal:
		return "NORMAL"
	case StateStandby:
		return "STANDBY"
	case StateWritesOnly:
		return "WRITES_ONLY"
	case StateResuming:
		return "RESUMING"
	}
	return "UNKNOWN"
}

// Peer is another node of the cluster, from dyn_seeds, a seed provider or
// gossip. It is the ring's node, so a membership goes into the ring as it is:
// callers fill Name (upstream: the dyn_seeds host:port), Addr, DC, Rack and
// Tokens and leave Local and the indexes to [ring.NewTopology].
type Peer = ring.Node

// clusterState is one immutable snapshot: the ring and a pool per peer,
// indexed by ring node index (nil for the local node).
type clusterState struct {
	topo  *ring.Topology
	pools []*backend.Pool
	down  []atomic.Bool // administratively down (/peer/down)
	// single is true when the ring holds only this node.
	single bool
}

// cluster routes requests across racks and datacenters.
type cluster struct {
	// What the router needs from the node, given once by newCluster: the
	// node's options, its protocol's codec, its local datastore, its
	// request pool and the count of fan-outs a stopping node waits for.
	opts    *Options
	codec   codec
	local   *backend.Pool
	reqs    *msg.Pool
	fanouts *atomic.Int64
	// live is the node's live settings (the timeout peer timeouts derive
	// from).
	live *atomic.Pointer[liveState]
	// ctx is what peer pools run under once start was called (under mu).
	ctx context.Context

	state atomic.Pointer[clusterState]

	// mu serialises ring changes (UpdatePeers, SetScalePlan); lookups
	// never take it.
	mu         sync.Mutex
	started    bool
	stopReplay func()   // stops replayLoop (under mu)
	keys       []string // per node index of the current state: pool identity
	retired    map[*backend.Pool]*time.Timer
	// The ring is built from these three (rebuild, under mu): this node as
	// configured, the membership last given (the configured peers, then
	// UpdatePeers') and the installed scale plan (scale.go), nil for none.
	self    ring.Node
	members []Peer
	plan    *ScalePlan
	log     *slog.Logger

	// clock stamps the writes this node coordinates; order is this node's
	// tie-break (nodeOrder), stamp.go
	clock *hlc.Clock
	order uint64
	// lww guards this node's datastore against stale replayed hints
	// (lww.go); hints is the hinted handoff (handoff.go), nil when off
	lww   *lwwTable
	hints *handoff
	// hintsSuperseded counts replayed hints refused by lww;
	// hintsUnparsed hints that did not parse back (skipped)
	hintsSuperseded, hintsUnparsed atomic.Uint64

	readLevel, writeLevel atomic.Uint32
	timeoutFactor         atomic.Int32
	nodeState             atomic.Int32

	readFailovers, remoteFailovers, remoteDropped, quorumFailures atomic.Uint64
	// copiesNotSent counts read copies left unsent: decided before their turn
	copiesNotSent atomic.Uint64

	// read repair (readrepair.go): on or off (read_repairs_enabled), and
	// the counters; it stamps with clock
	readRepairs atomic.Bool
	repairs     repairCounters
}

func newCluster(s *Server) (*cluster, error) {
	c := &cluster{opts: &s.opts, live: &s.live, codec: s.codec, local: s.backend, reqs: &s.reqs, fanouts: &s.fanouts, ctx: context.Background(),
		log: s.log}
	c.readLevel.Store(uint32(s.opts.ReadLevel))
	c.writeLevel.Store(uint32(s.opts.WriteLevel))
	c.timeoutFactor.Store(1)
	c.nodeState.Store(int32(StateNormal))
	c.readRepairs.Store(s.opts.ReadRepairs)
	c.clock = s.opts.Clock
	if c.clock == nil {
		c.clock = hlc.New()
	}

	o := s.opts
	localName := o.LocalName
	if localName == "" {
		localName = "local"
	}
	c.self = ring.Node{Name: localName, Addr: o.DynListen, DC: o.DC, Rack: o.Rack, Tokens: o.Tokens}
	if len(c.self.Tokens) == 0 {
		c.self.Tokens = []ring.Token{0}
	}
	if _, _, err := c.rebuild(o.Peers, nil); err != nil {
		return nil, fmt.Errorf("building the token ring: %w", err)
	}
	c.order = nodeOrder(o.DC, o.Rack, uint32(c.self.Tokens[0]))
	c.lww = newLWWTable()
	if o.HintsDir != "" {
		window := o.MaxHintWindow
		if window <= 0 {
			window = 1<<63 - 1 // max_hint_window 0: no limit
		}
		store, err := hints.Open(hints.Options{Dir: o.HintsDir, Fsync: o.HintsFsync, MaxWindow: window,
			MaxBytes: o.MaxHintsBytes, Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		c.hints = &handoff{store: store, rate: o.HintReplayRate, running: map[string]bool{}}
	} else if len(o.Peers) > 0 {
		o.Logger.Warn("hinted handoff is off (hints_dir is empty): a replica that misses writes during an outage keeps missing them")
	}
	// a plan saved before a restart is in force again before the node
	// serves (scale.go)
	switch plan, err := c.loadPlan(); {
	case err != nil:
		c.log.Error("the saved scale plan is not usable; starting without it (POST /scale/plan installs one)", "err", err)
	case plan != nil:
		if _, _, err := c.rebuild(o.Peers, plan); err != nil {
			c.log.Error("the saved scale plan is refused by this node's ring; starting without it (POST /scale/plan installs one)",
				"id", plan.ID, "phase", string(plan.Phase), "err", err)
			break
		}
		c.log.Info("scale plan restored", "id", plan.ID, "phase", string(plan.Phase), "join", plan.Join, "leave", plan.Leave)
	}
	return c, nil
}

// poolFor makes a peer pool for n; its key identifies what the pool
// depends on, so an unchanged peer keeps its connections across updates
// (rebuild).
func (c *cluster) poolFor(topo *ring.Topology, n *ring.Node) (*backend.Pool, string) {
	local := topo.Local()
	scope := ScopeCrossDC
	if n.DC == local.DC {
		scope = ScopeCrossRack
		if n.Rack == local.Rack {
			scope = ScopeSameRack
		}
	}
	key := n.Name + "|" + n.Addr + "|" + n.DC + "|" + n.Rack
	return c.newPeerPool(n, n.DC == local.DC, scope), key
}

// UpdatePeers replaces the cluster's membership (from a seed provider):
// peers that appear get a pool, peers that changed address, datacenter or
// rack get a new one, peers that left are closed after a grace period so
// requests in flight to them finish. Unchanged peers keep their
// connections. The new ring, with the installed scale plan applied
// (SetScalePlan), is swapped in atomically; a bad membership (duplicate
// tokens, say) is refused and the current one kept.
func (s *Server) UpdatePeers(peers []Peer) error {
	c := s.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	old, cur, err := c.rebuild(peers, c.plan)
	if err != nil {
		return fmt.Errorf("new membership refused: %w", err)
	}
	s.trackRingChanged(old, cur)
	return nil
}

// rebuild builds the ring from this node, members and plan (buildRing) and
// swaps it in (swapIn). It returns the ring it replaced (nil the first
// time) and the new one, or an error and changes nothing. Called with c.mu
// held, or from newCluster before anyone can see c.
func (c *cluster) rebuild(members []Peer, plan *ScalePlan) (old, cur *ring.Topology, err error) {
	topo, err := c.buildRing(members, plan)
	if err != nil {
		return nil, nil, err
	}
	old, cur = c.swapIn(topo, members, plan)
	return old, cur, nil
}

// buildRing is the ring of this node and members under plan.
func (c *cluster) buildRing(members []Peer, plan *ScalePlan) (*ring.Topology, error) {
	nodes, opts := c.ringNodes(members, plan)
	return ring.NewTopology(c.self.Name, nodes, opts)
}

// swapIn makes topo, built by buildRing from members and plan, the ring in
// force, with a pool per peer: the current pool of a peer whose name,
// address, datacenter and rack did not change (its state in a move does
// not matter), a new one otherwise; the pools of peers no longer in the
// ring are retired. It returns the ring it replaced (nil the first time).
// Called as rebuild is.
func (c *cluster) swapIn(topo *ring.Topology, members []Peer, plan *ScalePlan) (old, cur *ring.Topology) {
	prev := c.state.Load()
	oldByKey := map[string]int{}
	for i, k := range c.keys {
		if k != "" {
			oldByKey[k] = i
		}
	}
	st := &clusterState{topo: topo, pools: make([]*backend.Pool, len(topo.Nodes())), down: make([]atomic.Bool, len(topo.Nodes()))}
	st.single = len(topo.Nodes()) == 1
	keys := make([]string, len(topo.Nodes()))
	reused := map[int]bool{}
	for i := range topo.Nodes() {
		n := topo.Node(i)
		if n.Local {
			continue
		}
		key := n.Name + "|" + n.Addr + "|" + n.DC + "|" + n.Rack
		if j, ok := oldByKey[key]; ok && !reused[j] {
			st.pools[i], keys[i] = prev.pools[j], key
			st.down[i].Store(prev.down[j].Load())
			reused[j] = true
			continue
		}
		st.pools[i], keys[i] = c.poolFor(topo, n)
		if c.started {
			st.pools[i].Start(c.ctx)
		}
		if prev != nil {
			c.log.Info("peer added", "peer", n.Name, "addr", n.Addr, "dc", n.DC, "rack", n.Rack, "ring_state", n.State.String())
		}
	}
	c.state.Store(st)
	c.keys = keys
	c.members = slices.Clone(members)
	c.plan = plan
	if prev == nil {
		return nil, topo
	}
	for j, p := range prev.pools {
		if p == nil || reused[j] {
			continue
		}
		n := prev.topo.Node(j)
		c.log.Info("peer removed", "peer", n.Name, "addr", n.Addr, "dc", n.DC, "rack", n.Rack)
		c.retire(p)
	}
	return prev.topo, topo
}

// retire closes a removed peer's pool after the grace period (or at
// shutdown, whichever comes first). Called with c.mu held.
func (c *cluster) retire(p *backend.Pool) {
	if c.retired == nil {
		c.retired = map[*backend.Pool]*time.Timer{}
	}
	c.retired[p] = time.AfterFunc(peerRemoveGrace, func() {
		c.mu.Lock()
		_, ok := c.retired[p]
		delete(c.retired, p)
		c.mu.Unlock()
		if ok {
			p.Close()
		}
	})
}

// peerRemoveGrace lets requests already sent to a removed peer finish.
var peerRemoveGrace = 30 * time.Second

// peer timeouts as upstream computes them (dnode_peer_timeout): the
// datastore timeout plus 200ms in the same datacenter, plus 5s across.
func (c *cluster) peerTimeout(sameDC bool) time.Duration {
	t := c.live.Load().Timeout
	if sameDC {
		return t + 200*time.Millisecond
	}
	return t + 5*time.Second
}

func (c *cluster) newPeerPool(n *ring.Node, sameDC bool, scope PeerScope) *backend.Pool {
	obs := c.opts.Observer
	conns := c.opts.LocalPeerConns
	if !sameDC {
		conns = c.opts.RemotePeerConns
	}
	codec := c.codec
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if o := c.opts; o.PeerTLSClient != nil && tlsconf.Secure(o.SecureOption, o.DC, o.Rack, n.DC, n.Rack) {
		d := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: o.PeerTLSClient}
		dial = d.DialContext
	}
	return backend.New(backend.Options{Dial: dial,
		Name: n.Name + " (" + n.DC + "/" + n.Rack + ")", Role: "peer", Network: "tcp", Addr: n.Addr,
		Conns: max(conns, 1), Timeout: c.peerTimeout(sameDC), RetryTimeout: 10 * time.Second,
		Preconnect: c.opts.Preconnect && c.opts.AdminMode == 0, AutoEject: false,
		Logger:  c.opts.Logger,
		Observe: func(d time.Duration, failed bool) { obs.Peer(scope, d, failed) },
		Header: func(dst []byte, r *msg.Request, id uint64) []byte {
			return dnode.AppendHeader(dst, dnode.Header{ID: id, Type: dnode.RequestType(r.PeerType), Version: 1, SameDC: sameDC,
				Stamp: dnode.Stamp{TS: r.Stamp, Node: r.StampNode, Replay: r.Replay, CrossDC: r.CrossDC}})
		},
		Parse: func(buf []byte, r *msg.Request) (int, int, bool, error) {
			var h dnode.Header
			hn, err := dnode.ParseHeader(buf, &h, nil)
			if err != nil {
				if errors.Is(err, dnode.ErrIncomplete) {
					return 0, 0, false, nil
				}
				return 0, 0, false, err
			}
			if h.Type != dnode.TypeRes {
				return 0, 0, false, fmt.Errorf("peer sent frame type %d (%s) where a reply (%d) was due", h.Type, h.Type, dnode.TypeRes)
			}
			if h.ID != r.PeerID {
				return 0, 0, false, fmt.Errorf("peer reply id %d does not match request id %d", h.ID, r.PeerID)
			}
			_, n, ok, err := codec.parseReply(buf[hn:], r)
			if err != nil || !ok {
				if n > 0 {
					n += hn
				}
				return hn, n, false, err
			}
			return hn, hn + n, true, nil
		},
	})
}

func (c *cluster) start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started, c.ctx = true, ctx
	if c.hints != nil {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.replayLoop(rctx)
		}()
		c.stopReplay = func() { cancel(); <-done }
	}
	st := c.state.Load()
	for _, p := range st.pools {
		if p != nil {
			p.Start(c.ctx)
		}
	}
}

func (c *cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopReplay != nil {
		c.stopReplay()
		c.stopReplay = nil
	}
	if c.hints != nil {
		_ = c.hints.store.Close()
	}
	c.lww.stop()
	c.started = false
	for p, t := range c.retired {
		t.Stop()
		p.Close()
	}
	c.retired = nil
	st := c.state.Load()
	for _, p := range st.pools {
		if p != nil {
			p.Close()
		}
	}
}

// PeerStatus describes one node of the ring for the admin endpoints: the
// ring's view of it (Tokens sorted, shared with the ring: do not modify)
// and whether requests reach it.
type PeerStatus struct {
	ring.Node
	Up, AdminDown bool
}

// Peers lists every node of the ring, the local one included.
func (s *Server) Peers() []PeerStatus {
	if s.cluster == nil {
		return nil
	}
	st := s.cluster.state.Load()
	var out []PeerStatus
	for i, n := range st.topo.Nodes() {
		ps := PeerStatus{Node: n}
		if n.Local {
			ps.Up = s.backend.Up()
		} else {
			ps.Up = st.pools[i].Up() && !st.down[i].Load()
			ps.AdminDown = st.down[i].Load()
		}
		out = append(out, ps)
	}
	return out
}

// SetPeerDown marks a peer administratively down (true) or up (false);
// name "all" means every peer. It reports whether a peer matched.
func (s *Server) SetPeerDown(name string, down bool) bool {
	if s.cluster == nil {
		return false
	}
	st := s.cluster.state.Load()
	found := false
	for i, n := range st.topo.Nodes() {
		if n.Local || (name != "all" && name != n.Name && name != n.Addr) {
			continue
		}
		st.down[i].Store(down)
		found = true
	}
	return found
}

// Consistency returns the node-wide read and write levels.
func (s *Server) Consistency() (read, write consistency.Level) {
	return consistency.Level(s.cluster.readLevel.Load()), consistency.Level(s.cluster.writeLevel.Load())
}

// SetConsistency changes a node-wide level; like upstream, only client
// connections accepted afterwards see it.
func (s *Server) SetConsistency(write bool, l consistency.Level) {
	if write {
		s.cluster.writeLevel.Store(uint32(l))
	} else {
		s.cluster.readLevel.Store(uint32(l))
	}
}

// TimeoutFactor and SetTimeoutFactor: upstream's REST knob, clamped 1..10.
func (s *Server) TimeoutFactor() int { return int(s.cluster.timeoutFactor.Load()) }

// SetTimeoutFactor sets the factor, clamped to 1..10.
func (s *Server) SetTimeoutFactor(n int) {
	n = min(max(n, 1), 10)
	s.cluster.timeoutFactor.Store(int32(n))
	s.backend.SetTimeoutFactor(n)
	for _, p := range s.cluster.state.Load().pools {
		if p != nil {
			p.SetTimeoutFactor(n)
		}
	}
}

// NodeState and SetNodeState: /state/get_state and /state/<state>.
func (s *Server) NodeState() State { return State(s.cluster.nodeState.Load()) }

// SetNodeState sets the node state.
func (s *Server) SetNodeState(st State) { s.cluster.nodeState.Store(int32(st)) }

// Topology returns the current ring snapshot.
func (s *Server) Topology() *ring.Topology { return s.cluster.state.Load().topo }
