// Package gossip is the cluster's membership and failure detection when
// enable_gossip is on: hashicorp/memberlist (SWIM) wrapped with a slog log
// adapter and counters, each node carrying its datacenter, rack, tokens and
// state in its memberlist metadata. See README.md.
package gossip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures one node's gossip.
type Config struct {
	// BindAddr and BindPort are where gossip listens, TCP and UDP on the
	// same port. BindAddr must be an IP literal ("0.0.0.0" for all); port 0
	// picks a free port (see Gossip.Addr).
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other nodes dial; empty and 0
	// mean the bind address (or, for 0.0.0.0, a private IP memberlist
	// picks) and the bind port. AdvertiseAddr must be an IP literal.
	AdvertiseAddr string
	AdvertisePort int
	// Self is this node's metadata; Self.Name is also its memberlist name.
	Self Meta
	// Seeds are host:port of other nodes' gossip listeners. New joins
	// through them in the background, retrying until one answers.
	Seeds []string
	// Interval is the period of memberlist's full state exchange (push/pull)
	// and of the re-join of dead members and seeds, which heals partitions.
	// 0 means 30 s (gos_interval's default).
	Interval time.Duration
	// OnChange is called with every member (self included, sorted by name)
	// after the membership or a member's metadata or liveness changed. It
	// runs on a goroutine of its own, one call at a time; changes that
	// arrive while it runs are coalesced into the next call.
	OnChange func([]Member)

	// Failure-detector timings; 0 keeps memberlist's LAN default, given in
	// brackets. A member is suspected when a probe gets no ack within
	// ProbeTimeout, and declared dead after SuspicionMult * max(1,
	// log10(members)) * ProbeInterval unless it refutes.
	ProbeInterval  time.Duration // [1s]
	ProbeTimeout   time.Duration // [500ms]
	SuspicionMult  int           // [4]
	GossipInterval time.Duration // [200ms]
	TCPTimeout     time.Duration // [10s]
}

// Member is one node as gossip sees it.
type Member struct {
	Meta
	// Alive is false once the failure detector declared the node dead or
	// it left.
	Alive bool
}

// Metrics are the gossip's counters, read by the node's Prometheus
// collector (RegisterMetrics).
type Metrics struct {
	// Alive and Dead count the members (self included) by liveness.
	Alive, Dead atomic.Int64
	// Joins counts other members seen joining (or coming back alive);
	// Leaves those declared dead or leaving; Updates metadata changes.
	Joins, Leaves, Updates atomic.Uint64
	// BadMeta counts members ignored because their metadata did not decode.
	BadMeta atomic.Uint64
	// JoinFailures counts join attempts through the seeds that reached no one.
	JoinFailures atomic.Uint64
}

// Gossip is a running member. Its methods are safe for concurrent use.
type Gossip struct {
	cfg     Config
	log     *slog.Logger
	ml      *memberlist.Memberlist
	metrics Metrics

	metaMu sync.Mutex
	meta   []byte

	mu      sync.Mutex
	members map[string]*member

	changed  chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// member is a known node: its metadata, liveness and gossip address.
type member struct {
	Member
	addr    string // memberlist address, for re-joins
	changed time.Time
}

// New starts gossip on the configured address and, in the background,
// joins the cluster through cfg.Seeds. Stop it with Leave or Shutdown.
func New(cfg Config, log *slog.Logger) (*Gossip, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	meta, err := cfg.Self.encode()
	if err != nil {
		return nil, err
	}
	if cfg.Self.State == "" {
		cfg.Self.State = "NORMAL"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	g := &Gossip{
		cfg: cfg, log: log, meta: meta,
		members: map[string]*member{},
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Self.Name
	mc.BindAddr, mc.BindPort = cfg.BindAddr, cfg.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.AdvertiseAddr, cfg.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	mc.PushPullInterval = cfg.Interval
	setDur(&mc.ProbeInterval, cfg.ProbeInterval)
	setDur(&mc.ProbeTimeout, cfg.ProbeTimeout)
	setDur(&mc.GossipInterval, cfg.GossipInterval)
	setDur(&mc.TCPTimeout, cfg.TCPTimeout)
	if cfg.SuspicionMult > 0 {
		mc.SuspicionMult = cfg.SuspicionMult
	}
	mc.Delegate = delegate{g}
	mc.Events = events{g}
	mc.Alive = aliveCheck{g}
	mc.Logger = newStdLogger(log)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: listen on %s: %w", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	g.ml = ml
	g.wg.Add(2)
	go g.notifyLoop()
	go g.maintain()
	return g, nil
}

func setDur(dst *time.Duration, v time.Duration) {
	if v > 0 {
		*dst = v
	}
}

// Addr is the host:port other nodes reach this one's gossip on.
func (g *Gossip) Addr() string { return g.ml.LocalNode().Address() }

// Metrics returns the live counters.
func (g *Gossip) Metrics() *Metrics { return &g.metrics }

// Members returns every known member, self included, sorted by name.
// Dead members are kept (upstream keeps nodes it marked down), except one
// whose tokens an alive member of the same datacenter and rack now holds:
// that one was replaced.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	all := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		all = append(all, m)
	}
	g.mu.Unlock()
	// Alive first, then most recent: they claim their tokens first.
	slices.SortFunc(all, func(a, b *member) int {
		if a.Alive != b.Alive {
			if a.Alive {
				return -1
			}
			return 1
		}
		return b.changed.Compare(a.changed)
	})
	type slot struct {
		dc, rack string
		token    uint32
	}
	claimed := map[slot]bool{}
	out := make([]Member, 0, len(all))
	for _, m := range all {
		taken := false
		for _, t := range m.Tokens {
			if claimed[slot{m.DC, m.Rack, t}] {
				taken = true
			}
		}
		if taken && !m.Alive {
			continue
		}
		for _, t := range m.Tokens {
			claimed[slot{m.DC, m.Rack, t}] = true
		}
		out = append(out, Member{Meta: cloneMeta(m.Meta), Alive: m.Alive})
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func cloneMeta(m Meta) Meta {
	m.Tokens = slices.Clone(m.Tokens)
	return m
}

// SetState changes this node's advertised state (one of Meta.State's
// names). It returns once the change is queued; gossip spreads it.
func (g *Gossip) SetState(state string) error {
	g.metaMu.Lock()
	self := g.cfg.Self
	self.State = state
	b, err := self.encode()
	if err != nil {
		g.metaMu.Unlock()
		return err
	}
	g.cfg.Self.State, g.meta = state, b
	g.metaMu.Unlock()
	return g.ml.UpdateNode(0)
}

// Join joins the cluster through seeds (host:port of gossip listeners),
// retrying with a capped, jittered exponential backoff until at least one
// answers, ctx ends or the gossip shuts down. It returns how many answered.
func (g *Gossip) Join(ctx context.Context, seeds []string) (int, error) {
	if len(seeds) == 0 {
		return 0, errors.New("gossip: no seeds to join")
	}
	backoff, maxBackoff := 100*time.Millisecond, min(max(g.cfg.Interval, time.Second), 5*time.Second)
	for attempt := 1; ; attempt++ {
		n, err := g.ml.Join(seeds)
		if n > 0 {
			g.log.Info("gossip joined", "seeds", seeds, "answered", n, "attempt", attempt)
			return n, nil
		}
		g.metrics.JoinFailures.Add(1)
		lvl := slog.LevelDebug
		if attempt == 1 || attempt%10 == 0 {
			lvl = slog.LevelWarn
		}
		g.log.Log(ctx, lvl, "gossip join failed, retrying", "seeds", seeds, "attempt", attempt, "err", err)
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, maxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-g.done:
			t.Stop()
			return 0, errors.New("gossip: shut down")
		case <-t.C:
		}
	}
}

// maintain joins through the seeds, then every Interval re-joins dead
// members' addresses and the seeds when some member is dead, so two sides
// of a healed partition find each other again (memberlist alone stops
// talking to the dead after a while).
func (g *Gossip) maintain() {
	defer g.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-g.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if len(g.cfg.Seeds) > 0 {
		if _, err := g.Join(ctx, g.cfg.Seeds); err != nil {
			return
		}
	}
	t := time.NewTicker(g.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		var addrs []string
		g.mu.Lock()
		for _, m := range g.members {
			if !m.Alive && m.addr != "" {
				addrs = append(addrs, m.addr)
			}
		}
		g.mu.Unlock()
		if len(addrs) == 0 {
			continue
		}
		addrs = append(addrs, g.cfg.Seeds...)
		if n, err := g.ml.Join(addrs); n == 0 {
			g.log.Debug("gossip re-join reached no one", "addrs", addrs, "err", err)
		}
	}
}

// notifyLoop calls OnChange off memberlist's goroutines.
func (g *Gossip) notifyLoop() {
	defer g.wg.Done()
	for {
		select {
		case <-g.done:
			return
		case <-g.changed:
		}
		if g.cfg.OnChange != nil {
			g.cfg.OnChange(g.Members())
		}
	}
}

// signal records a change without ever blocking memberlist.
func (g *Gossip) signal() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// Leave tells the others this node is leaving (waiting up to timeout for
// the message to spread), then shuts down. After Shutdown it does nothing
// (memberlist panics on a leave after shutdown), so an owner may Leave on
// its way out even when a test killed the gossip first.
func (g *Gossip) Leave(timeout time.Duration) error {
	select {
	case <-g.done:
		return nil
	default:
	}
	err := g.ml.Leave(timeout)
	return errors.Join(err, g.Shutdown())
}

// Shutdown stops gossip at once, without telling the others; they will
// declare this node dead. It waits for the gossip's goroutines and is safe
// to call more than once.
func (g *Gossip) Shutdown() error {
	var err error
	g.stopOnce.Do(func() {
		close(g.done)
		err = g.ml.Shutdown()
		g.wg.Wait()
	})
	return err
}

// update applies one memberlist event.
func (g *Gossip) update(n *memberlist.Node, alive bool, kind string) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		g.metrics.BadMeta.Add(1)
		g.log.Warn("gossip member ignored: bad metadata", "node", n.Name, "addr", n.Address(), "err", err)
		return
	}
	self := n.Name == g.cfg.Self.Name
	g.mu.Lock()
	old, known := g.members[n.Name]
	m := &member{Member: Member{Meta: meta, Alive: alive}, addr: n.Address(), changed: time.Now()}
	g.members[n.Name] = m
	var a, d int64
	for _, x := range g.members {
		if x.Alive {
			a++
		} else {
			d++
		}
	}
	g.mu.Unlock()
	g.metrics.Alive.Store(a)
	g.metrics.Dead.Store(d)
	if !self {
		switch {
		case kind == "update":
			g.metrics.Updates.Add(1)
			g.log.Info("gossip member updated", "peer", meta.Name, "dc", meta.DC, "rack", meta.Rack, "state", meta.State)
		case alive && (!known || !old.Alive):
			g.metrics.Joins.Add(1)
			g.log.Info("gossip member alive", "peer", meta.Name, "dc", meta.DC, "rack", meta.Rack, "addr", m.addr)
		case !alive:
			g.metrics.Leaves.Add(1)
			how := "dead"
			if n.State == memberlist.StateLeft {
				how = "left"
			}
			g.log.Warn("gossip member "+how, "peer", meta.Name, "dc", meta.DC, "rack", meta.Rack, "addr", m.addr)
		}
	}
	g.signal()
}

// delegate gives memberlist this node's metadata; no user messages.
type delegate struct{ g *Gossip }

func (d delegate) NodeMeta(limit int) []byte {
	d.g.metaMu.Lock()
	defer d.g.metaMu.Unlock()
	if len(d.g.meta) > limit { // checked in New; memberlist's limit is the same
		return nil
	}
	return slices.Clone(d.g.meta)
}
func (delegate) NotifyMsg([]byte)                {}
func (delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (delegate) LocalState(bool) []byte          { return nil }
func (delegate) MergeRemoteState([]byte, bool)   {}

// events feeds memberlist's join, leave and update events to update. They
// come from several goroutines, never concurrently, and must not block.
type events struct{ g *Gossip }

func (e events) NotifyJoin(n *memberlist.Node)   { e.g.update(n, true, "join") }
func (e events) NotifyLeave(n *memberlist.Node)  { e.g.update(n, false, "leave") }
func (e events) NotifyUpdate(n *memberlist.Node) { e.g.update(n, true, "update") }

// aliveCheck refuses members whose metadata does not decode, so they never
// enter this node's view.
type aliveCheck struct{ g *Gossip }

func (a aliveCheck) NotifyAlive(n *memberlist.Node) error {
	if _, err := decodeMeta(n.Meta); err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	return nil
}
