package membership

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dynomite-go/dynomite/env"
	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/gossip"
	"github.com/dynomite-go/dynomite/seedprovider"
)

// Applier is what membership changes: the running node's ring
// (*proxy.Server implements it). Its methods are called from the seed
// refresher's and gossip's goroutines, one at a time.
type Applier interface {
	// UpdatePeers replaces the ring's peers (this node excluded).
	UpdatePeers(peers []proxy.Peer) error
	// Peers lists the ring as it is, to match gossip members to peers.
	Peers() []proxy.PeerStatus
	// SetPeerDown marks a ring peer down (dead in gossip) or up again.
	SetPeerDown(name string, down bool) bool
	// NodeState is this node's state, announced in gossip.
	NodeState() proxy.State
}

// Membership runs a node's seed provider and gossip and applies what they
// learn to an [Applier]. Create it with [New], run it with [Run].
type Membership struct {
	cfg  *config.Config
	info env.Info
	app  Applier
	log  *slog.Logger

	// provider and refresher poll the seed provider; Reload replaces them
	// (under mu) and signals swapped, which makes Run poll the new one.
	mu        sync.Mutex
	provider  seedprovider.Provider // nil for simple_provider
	refresher *seedprovider.Refresher
	swapped   chan struct{}
	seeds     seedprovider.Metrics
	view      *view // the provider's seeds completed by gossip; nil without a provider

	gossip atomic.Pointer[gossip.Gossip] // set while Run runs with enable_gossip
}

// New builds the seed provider dyn_seed_provider names (nothing for
// simple_provider, whose dyn_seeds the proxy got at start) without polling
// it. info is what [DetectEnv] found; log may be nil.
func New(ctx context.Context, cfg *config.Config, info env.Info, app Applier, log *slog.Logger) (*Membership, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ValidateProvider(cfg); err != nil {
		return nil, err
	}
	if cfg.EnableGossip {
		if _, err := planGossip(cfg); err != nil {
			return nil, err
		}
	}
	m := &Membership{cfg: cfg, info: info, app: app, log: log, swapped: make(chan struct{}, 1)}
	p, err := newProvider(ctx, cfg, info)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return m, nil
	}
	m.provider, m.view = p, newView(cfg, info, app, log)
	if m.refresher, err = m.newRefresher(p, cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// newRefresher polls p every gos_interval and hands what it learns to the
// view.
func (m *Membership) newRefresher(p seedprovider.Provider, cfg *config.Config) (*seedprovider.Refresher, error) {
	return seedprovider.NewRefresher(p, seedprovider.RefresherConfig{
		Interval: cfg.GosInterval,
		// gos_interval is honoured as written; upstream also rate-limits to
		// 30 s, which would make a 1 s interval in a test cluster useless.
		MinInterval: -1,
		Logger:      m.log, // the refresher adds component=seedprovider and provider
		Metrics:     &m.seeds,
		OnChange:    func(s seedprovider.Snapshot) { m.view.setSeeds(s.Seeds) },
	})
}

// Provider names the running seed provider, "" for simple_provider.
func (m *Membership) Provider() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.provider == nil {
		return ""
	}
	return m.provider.Name()
}

// SeedMetrics are the seed provider's poll counters (zero without one).
func (m *Membership) SeedMetrics() *seedprovider.Metrics { return &m.seeds }

// Gossip is the running gossip member, nil when enable_gossip is off or
// Run has not started it (yet, or any more).
func (m *Membership) Gossip() *gossip.Gossip { return m.gossip.Load() }

// Run starts gossip (enable_gossip) and polls the seed provider every
// gos_interval until ctx ends; then this node leaves gossip (the others see
// it leave at once) and Run returns nil. It returns an error only when
// gossip cannot start.
func (m *Membership) Run(ctx context.Context) error {
	if m.cfg.EnableGossip {
		g, err := m.startGossip(ctx)
		if err != nil {
			return err
		}
		m.gossip.Store(g)
		defer func() {
			m.gossip.Store(nil)
			m.leave(g)
		}()
	}
	for {
		m.mu.Lock()
		r := m.refresher
		m.mu.Unlock()
		if r == nil {
			<-ctx.Done()
			return nil
		}
		if done, err := m.runUntilSwapped(ctx, r); done {
			return err
		}
	}
}

// runUntilSwapped runs r until ctx ends (done) or Reload replaces it (not
// done: Run goes on with the new one). A refresher runs only once, so a
// swap signal that finds r still current is ignored.
func (m *Membership) runUntilSwapped(ctx context.Context, r *seedprovider.Refresher) (done bool, err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- r.Run(rctx) }()
	for {
		select {
		case err := <-errc:
			return true, err
		case <-m.swapped:
			m.mu.Lock()
			replaced := m.refresher != r
			m.mu.Unlock()
			if replaced {
				cancel()
				<-errc
				return false, nil
			}
		}
	}
}
