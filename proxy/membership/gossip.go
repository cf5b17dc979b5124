package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	sockaddr "github.com/hashicorp/go-sockaddr"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/gossip"
)

// Gossip wiring (enable_gossip: true).
//
// Gossip's port is gossip_listen, TCP and UDP; by default dyn_listen's host
// with its port + 2 (8103 for 8101), and gossip_seeds default to the
// dyn_seeds hosts with their port + 2.
//
// Who owns what: when dyn_seeds lists peers or dyn_seed_provider is not
// simple_provider, that provider stays the source of membership (which nodes
// and tokens make up the ring) and gossip is only the source of liveness: a
// member it declares dead is marked down (requests fail over), and up again
// when it is alive. Gossip's members are matched to the ring's peers by name
// or address, else by datacenter, rack and tokens, so a dyn_seeds entry
// written with a host name still matches. Only when nothing else supplies
// peers (simple_provider without dyn_seeds, gossip_seeds set) does gossip
// also own the membership: each change replaces the ring's peers with every
// member but this node, dead ones included (upstream keeps the nodes it marks
// down), then marks the dead ones down. Keeping one owner for membership
// means two sources never fight over the ring. With a provider, gossip may
// only complete its entries that lack datacenter, rack and tokens (SRV
// targets without TXT records; see view.go), and the node joins gossip
// through the provider's addresses.

// gossipPlan is what startGossip derives from the configuration.
type gossipPlan struct {
	bind, advertise config.Endpoint
	seeds           []string
	self            string // this node's name: its dyn_listen host:port
	membership      bool   // gossip owns the membership, not just liveness
}

// planGossip derives the gossip addresses from the configuration, without
// any network traffic except for resolving names in resolve.
func planGossip(cfg *config.Config) (gossipPlan, error) {
	var p gossipPlan
	if cfg.DynListen.IsZero() {
		return p, errors.New("enable_gossip: needs dyn_listen (gossip announces it as this node's peer address)")
	}
	p.bind = cfg.GossipListen
	if p.bind.IsZero() {
		if cfg.DynListen.Port+2 > 65535 {
			return p, fmt.Errorf("enable_gossip: the gossip port defaults to dyn_listen's + 2, and %d + 2 is over 65535: set gossip_listen", cfg.DynListen.Port)
		}
		p.bind = config.Endpoint{Host: cfg.DynListen.Host, Port: cfg.DynListen.Port + 2}
	}
	p.advertise = cfg.GossipAdvertise
	for _, s := range cfg.GossipSeeds {
		p.seeds = append(p.seeds, s.String())
	}
	if len(cfg.GossipSeeds) == 0 {
		for _, s := range cfg.DynSeeds {
			if s.Port+2 > 65535 {
				return p, fmt.Errorf("enable_gossip: the gossip seeds default to the dyn_seeds ports + 2, and %s's is over 65535: set gossip_seeds", s.Addr())
			}
			p.seeds = append(p.seeds, net.JoinHostPort(s.Host, strconv.Itoa(s.Port+2)))
		}
	}
	// Without seeds (a lone first node) gossip waits for others to join it.
	p.membership = cfg.DynSeedProvider == "simple_provider" && len(cfg.DynSeeds) == 0
	p.self = cfg.DynListen.String()
	return p, nil
}

// isWildcard reports whether host means "every address".
func isWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || (err == nil && a.IsUnspecified())
}

// resolveIP returns host as an IP literal (memberlist takes only those).
func resolveIP(ctx context.Context, host string) (string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return host, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("resolving %q: %w", host, err)
	}
	for _, ip := range ips {
		if ip.Is4() || ip.Is4In6() {
			return ip.Unmap().String(), nil
		}
	}
	return ips[0].String(), nil
}

// startGossip starts gossip and applies what it learns to the node (see
// the comment at the top of this file). With a seed provider, m.view holds
// its view: gossip's members complete its address-only seeds, and it joins
// gossip through the provider's addresses. Stop it with m.leave.
func (m *Membership) startGossip(ctx context.Context) (*gossip.Gossip, error) {
	cfg := m.cfg
	log := m.log.With("component", "gossip")
	p, err := planGossip(cfg)
	if err != nil {
		return nil, err
	}
	gc := gossip.Config{BindPort: p.bind.Port, Seeds: p.seeds, Interval: cfg.GosInterval}
	if gc.BindAddr, err = resolveIP(ctx, p.bind.Host); err != nil {
		return nil, fmt.Errorf("gossip_listen: %w", err)
	}
	if !p.advertise.IsZero() {
		if gc.AdvertiseAddr, err = resolveIP(ctx, p.advertise.Host); err != nil {
			return nil, fmt.Errorf("gossip_advertise: %w", err)
		}
		gc.AdvertisePort = p.advertise.Port
	}
	// The name is the address peers dial; a wildcard dyn_listen host is
	// replaced by the advertised or bound address, or a private IP.
	if isWildcard(cfg.DynListen.Host) {
		host := gc.AdvertiseAddr
		if host == "" && !isWildcard(gc.BindAddr) {
			host = gc.BindAddr
		}
		if host == "" {
			if host, err = sockaddr.GetPrivateIP(); err != nil || host == "" {
				return nil, fmt.Errorf("enable_gossip: dyn_listen %s is a wildcard address and no private IP was found: set gossip_advertise so other nodes know where to reach this node", cfg.DynListen)
			}
		}
		p.self = net.JoinHostPort(host, strconv.Itoa(cfg.DynListen.Port))
	}
	state := m.app.NodeState().String()
	if state == "UNKNOWN" {
		state = "NORMAL"
	}
	gc.Self = gossip.Meta{Name: p.self, DC: nodeDC(cfg), Rack: nodeRack(cfg), Tokens: cfg.Tokens, State: state}
	a := &gossipApplier{app: m.app, log: log, self: p.self, membership: p.membership, applied: map[string]bool{}}
	if m.view != nil {
		a.onMembers = m.view.setMembers
	}
	gc.OnChange = a.apply
	g, err := gossip.New(gc, log)
	if err != nil {
		return nil, err
	}
	if m.view != nil {
		m.view.useGossip(func(addrs []string) int {
			n, _ := g.Join(ctx, addrs) // until one address answers or ctx ends
			return n
		}, p.bind.Port-cfg.DynListen.Port, p.self)
	}
	mode := "liveness"
	if p.membership {
		mode = "membership and liveness"
	}
	log.Info("gossip started", "addr", g.Addr(), "name", p.self, "seeds", p.seeds, "source_of", mode)
	return g, nil
}

// leave leaves the cluster: the others see this node leave at once instead
// of declaring it dead after a timeout.
func (m *Membership) leave(g *gossip.Gossip) {
	if err := g.Leave(time.Second); err != nil {
		m.log.Debug("gossip leave", "component", "gossip", "err", err)
	}
}

func nodeDC(cfg *config.Config) string   { return cmpOr(cfg.Datacenter, "localdc") }
func nodeRack(cfg *config.Config) string { return cmpOr(cfg.Rack, "localrack") }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// gossipApplier turns gossip's view into ring changes and peer liveness.
type gossipApplier struct {
	app        Applier
	log        *slog.Logger
	self       string
	membership bool
	// onMembers, when set, receives every view first (the other members):
	// the seed provider's membership completes address-only seeds with it
	onMembers func([]gossip.Member)

	mu      sync.Mutex
	applied map[string]bool // ring peer name → alive as last applied
}

func (a *gossipApplier) apply(members []gossip.Member) {
	a.mu.Lock()
	defer a.mu.Unlock()
	others := make([]gossip.Member, 0, len(members))
	for _, m := range members {
		if m.Name != a.self {
			others = append(others, m)
		}
	}
	if a.onMembers != nil {
		a.onMembers(others)
	}
	if a.membership {
		peers := make([]proxy.Peer, 0, len(others))
		for _, m := range others {
			peers = append(peers, peer(m.Name, m.DC, m.Rack, m.Tokens))
		}
		if err := a.app.UpdatePeers(peers); err != nil {
			a.log.Error("gossip membership refused", "err", err)
		} else {
			a.log.Info("membership updated", "provider", "gossip", "peers", len(peers))
		}
	}
	ring := a.app.Peers()
	seen := map[string]bool{}
	for _, m := range others {
		name, ok := ringPeer(ring, m)
		if !ok {
			a.log.Debug("gossip member is not in the ring", "peer", m.Name, "dc", m.DC, "rack", m.Rack)
			continue
		}
		seen[name] = true
		if was, known := a.applied[name]; known && was == m.Alive {
			continue // leave an operator's /peer/down alone until liveness changes
		}
		a.applied[name] = m.Alive
		a.app.SetPeerDown(name, !m.Alive)
		if m.Alive {
			a.log.Info("peer is alive, receiving requests again", "peer", name, "dc", m.DC, "rack", m.Rack)
		} else {
			a.log.Warn("peer is dead, marked down", "peer", name, "dc", m.DC, "rack", m.Rack)
		}
	}
	for name := range a.applied {
		if !seen[name] {
			delete(a.applied, name)
		}
	}
}

// ringPeer finds the ring peer a gossip member is: by name or peer
// address, else by datacenter, rack and tokens.
func ringPeer(ring []proxy.PeerStatus, m gossip.Member) (string, bool) {
	for _, p := range ring {
		if !p.Local && (p.Name == m.Name || p.Addr == m.Name) {
			return p.Name, true
		}
	}
	for _, p := range ring {
		if p.Local || p.DC != m.DC || p.Rack != m.Rack || len(p.Tokens) != len(m.Tokens) {
			continue
		}
		want := Tokens(m.Tokens)
		slices.Sort(want)
		if slices.Equal(slices.Sorted(slices.Values(p.Tokens)), want) {
			return p.Name, true
		}
	}
	return "", false
}
