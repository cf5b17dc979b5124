package main

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/dynomite-go/dynomite/env"
	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/gossip"
	"github.com/dynomite-go/dynomite/seedprovider"
)

// membership is the ring's membership when a seed provider runs: the
// provider's seeds, completed by gossip when it is on.
//
// A seed with datacenter, rack and tokens is a peer as it is. An
// address-only seed (dns_srv_provider's SRV target without a TXT record,
// [seedprovider.AddressOnly]) becomes a peer once gossip knows a member of
// that name (its dyn_listen address), with the member's datacenter, rack
// and tokens; it leaves the ring when the provider drops it or gossip
// forgets it. The provider stays the owner: gossip only fills in what the
// provider's answer lacks, and never adds a node the provider does not list.
//
// With gossip on, every address the provider lists is also joined, at its
// gossip port: the peer port plus the same offset this node's gossip port
// has from its own peer port (8103 for 8101 by default), so gossip finds
// its cluster without gossip_seeds.
type membership struct {
	cfg  *config.Config
	info env.Info
	srv  *proxy.Server
	log  *slog.Logger

	mu       sync.Mutex
	full     []seedprovider.Seed          // complete seeds, this node excluded
	addrOnly []string                     // addresses of address-only seeds, sorted
	members  map[string]gossip.Member     // gossip's view, by member name
	joined   map[string]bool              // gossip addresses asked to join
	join     func(addrs []string) (n int) // nil without gossip
	offset   int                          // gossip port - peer port
	self     string                       // this node's gossip name (its peer address)
	last     []proxy.Peer
	applied  bool
}

func newMembership(cfg *config.Config, info env.Info, srv *proxy.Server, log *slog.Logger) *membership {
	return &membership{cfg: cfg, info: info, srv: srv, log: log, members: map[string]gossip.Member{}, joined: map[string]bool{}}
}

// useGossip is called once gossip runs: join asks gossip to join addrs
// (blocking until one answers), offset is this node's gossip port minus its
// peer port, self its name in gossip.
func (m *membership) useGossip(join func(addrs []string) int, offset int, self string) {
	m.mu.Lock()
	m.join, m.offset, m.self = join, offset, self
	m.mu.Unlock()
}

// setSeeds takes a new view from the provider.
func (m *membership) setSeeds(seeds []seedprovider.Seed) {
	m.mu.Lock()
	m.full, m.addrOnly = m.full[:0], m.addrOnly[:0]
	var toJoin []string
	for _, s := range seeds {
		if seedprovider.AddressOnly(s) {
			if m.isSelfAddr(s) {
				continue
			}
			m.addrOnly = append(m.addrOnly, s.Addr())
		} else {
			if isSelf(m.cfg, m.info, s) {
				continue
			}
			m.full = append(m.full, s)
		}
		if m.join != nil {
			g := net.JoinHostPort(s.Host, strconv.Itoa(s.Port+m.offset))
			if !m.joined[g] {
				m.joined[g] = true
				toJoin = append(toJoin, g)
			}
		}
	}
	slices.Sort(m.addrOnly)
	join := m.join
	m.applyLocked()
	m.mu.Unlock()
	if len(toJoin) > 0 {
		go func() {
			if join(toJoin) == 0 {
				// not joined (shutting down): let a later view try again
				m.mu.Lock()
				for _, g := range toJoin {
					delete(m.joined, g)
				}
				m.mu.Unlock()
			}
		}()
	}
}

// isSelfAddr tells this node's own address-only entry: its peer address,
// as gossip names this node, as the file and environment give it, or on
// gossip_advertise's host.
func (m *membership) isSelfAddr(s seedprovider.Seed) bool {
	return (m.self != "" && s.Addr() == m.self) || isSelfAddr(m.cfg, m.info, s) ||
		(m.cfg.GossipAdvertise.Host != "" && s.Host == m.cfg.GossipAdvertise.Host && s.Port == m.cfg.DynListen.Port)
}

// setMembers takes gossip's view (this node excluded).
func (m *membership) setMembers(members []gossip.Member) {
	m.mu.Lock()
	clear(m.members)
	for _, g := range members {
		m.members[g.Name] = g
	}
	if len(m.addrOnly) > 0 {
		m.applyLocked()
	}
	m.mu.Unlock()
}

// applyLocked swaps the ring's peers when they changed.
func (m *membership) applyLocked() {
	peers := peersFrom(m.cfg, m.info, m.full)
	fromGossip, waiting := 0, 0
	for _, addr := range m.addrOnly {
		g, ok := m.members[addr]
		if !ok || len(g.Tokens) == 0 {
			waiting++
			continue
		}
		fromGossip++
		peers = append(peers, proxy.Peer{Name: addr, Addr: addr, DC: g.DC, Rack: g.Rack, Tokens: slices.Clone(g.Tokens)})
	}
	if m.applied && slices.EqualFunc(peers, m.last, samePeer) {
		return
	}
	if err := m.srv.UpdatePeers(peers); err != nil {
		m.log.Error("seed provider membership refused", "provider", m.cfg.DynSeedProvider, "err", err)
		return
	}
	m.last, m.applied = peers, true
	if len(m.addrOnly) > 0 {
		m.log.Info("membership updated", "provider", m.cfg.DynSeedProvider, "peers", len(peers),
			"completed_by_gossip", fromGossip, "waiting_for_gossip", waiting)
		return
	}
	m.log.Info("membership updated", "provider", m.cfg.DynSeedProvider, "peers", len(peers))
}

func samePeer(a, b proxy.Peer) bool {
	return a.Name == b.Name && a.Addr == b.Addr && a.DC == b.DC && a.Rack == b.Rack && slices.Equal(a.Tokens, b.Tokens)
}

// gossipJoiner returns the join function membership uses: g.Join until one
// address answers or ctx ends.
func gossipJoiner(ctx context.Context, g *gossip.Gossip) func([]string) int {
	return func(addrs []string) int {
		n, _ := g.Join(ctx, addrs)
		return n
	}
}
