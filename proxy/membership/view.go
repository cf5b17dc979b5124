package membership

import (
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

// view is the ring's membership when a seed provider runs: the provider's
// seeds, completed by gossip when it is on.
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
type view struct {
	cfg  *config.Config
	info env.Info
	app  Applier
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
	selfSeed string // this node's own entry in the provider's answer, host:port
}

func newView(cfg *config.Config, info env.Info, app Applier, log *slog.Logger) *view {
	return &view{cfg: cfg, info: info, app: app, log: log, members: map[string]gossip.Member{}, joined: map[string]bool{}}
}

// useGossip is called once gossip runs: join asks gossip to join addrs
// (blocking until one answers), offset is this node's gossip port minus its
// peer port, self its name in gossip.
func (v *view) useGossip(join func(addrs []string) int, offset int, self string) {
	v.mu.Lock()
	v.join, v.offset, v.self = join, offset, self
	v.mu.Unlock()
}

// setSeeds takes a new view from the provider.
func (v *view) setSeeds(seeds []seedprovider.Seed) {
	v.mu.Lock()
	v.full, v.addrOnly = v.full[:0], v.addrOnly[:0]
	var toJoin []string
	for _, s := range seeds {
		if seedprovider.AddressOnly(s) {
			if v.isSelfAddr(s) {
				continue
			}
			v.addrOnly = append(v.addrOnly, s.Addr())
		} else {
			if isSelf(v.cfg, v.info, s) {
				v.selfSeed = s.Addr()
				continue
			}
			v.full = append(v.full, s)
		}
		if v.join != nil {
			g := net.JoinHostPort(s.Host, strconv.Itoa(s.Port+v.offset))
			if !v.joined[g] {
				v.joined[g] = true
				toJoin = append(toJoin, g)
			}
		}
	}
	slices.Sort(v.addrOnly)
	join := v.join
	v.applyLocked()
	v.mu.Unlock()
	if len(toJoin) > 0 {
		go func() {
			if join(toJoin) == 0 {
				// not joined (shutting down): let a later view try again
				v.mu.Lock()
				for _, g := range toJoin {
					delete(v.joined, g)
				}
				v.mu.Unlock()
			}
		}()
	}
}

// isSelfAddr tells this node's own address-only entry: its peer address,
// as gossip names this node, as the file and environment give it, or on
// gossip_advertise's host.
func (v *view) isSelfAddr(s seedprovider.Seed) bool {
	return (v.self != "" && s.Addr() == v.self) || isSelfAddr(v.cfg, v.info, s) ||
		(v.cfg.GossipAdvertise.Host != "" && s.Host == v.cfg.GossipAdvertise.Host && s.Port == v.cfg.DynListen.Port)
}

// setMembers takes gossip's view (this node excluded).
func (v *view) setMembers(members []gossip.Member) {
	v.mu.Lock()
	clear(v.members)
	for _, g := range members {
		v.members[g.Name] = g
	}
	if len(v.addrOnly) > 0 {
		v.applyLocked()
	}
	v.mu.Unlock()
}

// applyLocked swaps the ring's peers when they changed.
func (v *view) applyLocked() {
	peers := peersFrom(v.cfg, v.info, v.full)
	fromGossip, waiting := 0, 0
	for _, addr := range v.addrOnly {
		g, ok := v.members[addr]
		if !ok || len(g.Tokens) == 0 {
			waiting++
			continue
		}
		fromGossip++
		peers = append(peers, peer(addr, g.DC, g.Rack, slices.Clone(g.Tokens)))
	}
	if v.applied && slices.EqualFunc(peers, v.last, samePeer) {
		return
	}
	if err := v.app.UpdatePeers(peers); err != nil {
		v.log.Error("seed provider membership refused", "provider", v.cfg.DynSeedProvider, "err", err)
		return
	}
	v.last, v.applied = peers, true
	if len(v.addrOnly) > 0 {
		v.log.Info("membership updated", "provider", v.cfg.DynSeedProvider, "peers", len(peers),
			"completed_by_gossip", fromGossip, "waiting_for_gossip", waiting)
		return
	}
	v.log.Info("membership updated", "provider", v.cfg.DynSeedProvider, "peers", len(peers))
}

func samePeer(a, b proxy.Peer) bool {
	return a.Name == b.Name && a.Addr == b.Addr && a.DC == b.DC && a.Rack == b.Rack && slices.Equal(a.Tokens, b.Tokens)
}
