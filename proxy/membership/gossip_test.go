package membership

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/env"
	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/gossip"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/seedprovider"
)

func TestPlanGossip(t *testing.T) {
	for name, tc := range map[string]struct {
		yml        string
		bind, adv  string
		seeds      []string
		membership bool
		err        string
	}{
		"gossip listens on dyn_listen's port + 2 and seeds on the dyn_seeds' + 2": {
			yml:  "  dyn_listen: 10.0.0.1:8101\n  dyn_seeds:\n  - 10.0.0.2:8101:rack2:dc1:0\n  - node3.internal:8101:rack3:dc1:0\n",
			bind: "10.0.0.1:8103", seeds: []string{"10.0.0.2:8103", "node3.internal:8103"},
		},
		"explicit gossip keys win": {
			yml:  "  dyn_listen: 10.0.0.1:8101\n  dyn_seeds:\n  - 10.0.0.2:8101:rack2:dc1:0\n  gossip_listen: 0.0.0.0:7946\n  gossip_seeds: 10.0.0.2:7946\n  gossip_advertise: 203.0.113.1:17946\n",
			bind: "0.0.0.0:7946", adv: "203.0.113.1:17946", seeds: []string{"10.0.0.2:7946"},
		},
		"without dyn_seeds, gossip owns the membership": {
			yml:  "  dyn_listen: 10.0.0.1:8101\n  gossip_seeds: 10.0.0.2:8103,10.0.0.3:8103\n",
			bind: "10.0.0.1:8103", seeds: []string{"10.0.0.2:8103", "10.0.0.3:8103"}, membership: true,
		},
		"gossip needs dyn_listen": {yml: "", err: "needs dyn_listen"},
		"a dyn_listen port over 65533 needs gossip_listen": {
			yml: "  dyn_listen: 10.0.0.1:65535\n", err: "set gossip_listen",
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse([]byte("dyn_o_mite:\n  listen: 127.0.0.1:8102\n  servers:\n  - 127.0.0.1:22122:1\n  tokens: '0'\n  enable_gossip: true\n"+tc.yml), "node.yml")
			require.NoError(t, err)
			p, err := planGossip(cfg)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.bind, p.bind.String())
			require.Equal(t, tc.adv, p.advertise.String())
			require.Equal(t, tc.seeds, p.seeds)
			require.Equal(t, tc.membership, p.membership)
		})
	}
}

// fakeNode is an Applier that records what membership applies.
type fakeNode struct {
	mu      sync.Mutex
	peers   []proxy.Peer
	down    map[string]bool
	updates int
	refuse  error
}

func (f *fakeNode) UpdatePeers(peers []proxy.Peer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.peers = slices.Clone(peers)
	f.updates++
	return nil
}

func (f *fakeNode) Peers() []proxy.PeerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]proxy.PeerStatus, 0, len(f.peers))
	for _, p := range f.peers {
		out = append(out, proxy.PeerStatus{Node: p})
	}
	return out
}

func (f *fakeNode) SetPeerDown(name string, down bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down == nil {
		f.down = map[string]bool{}
	}
	f.down[name] = down
	return true
}

func (f *fakeNode) NodeState() proxy.State { return 0 }

// ring lists the applied peers as "addr dc/rack tokens", sorted.
func (f *fakeNode) ring() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.peers {
		out = append(out, fmt.Sprintf("%s %s/%s %v", p.Addr, p.DC, p.Rack, p.Tokens))
	}
	slices.Sort(out)
	return out
}

func parseConf(t *testing.T, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("dyn_o_mite:\n  listen: 127.0.0.1:8102\n  servers:\n  - 127.0.0.1:22122:1\n"+yml), "node.yml")
	require.NoError(t, err)
	return cfg
}

func seeds(t *testing.T, entries ...string) []seedprovider.Seed {
	t.Helper()
	var out []seedprovider.Seed
	for _, e := range entries {
		s, err := seedprovider.ParseSeed(e)
		require.NoError(t, err)
		out = append(out, s)
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestTheProvidersSeedsBecomeTheRingWithoutThisNode(t *testing.T) {
	cfg := parseConf(t, "  dyn_listen: 10.0.0.1:8101\n  datacenter: dc1\n  rack: rack1\n  tokens: '100'\n")
	f := &fakeNode{}
	v := newView(cfg, env.Info{}, f, discard())
	v.setSeeds(seeds(t, "10.0.0.1:8101:rack1:dc1:100", "10.0.0.2:8101:rack2:dc1:200", "10.0.0.3:8101:rack3:dc1:300"))
	require.Equal(t, []string{"10.0.0.2:8101 dc1/rack2 [200]", "10.0.0.3:8101 dc1/rack3 [300]"}, f.ring())
	require.Equal(t, 1, f.updates)

	v.setSeeds(seeds(t, "10.0.0.2:8101:rack2:dc1:200", "10.0.0.3:8101:rack3:dc1:300"))
	require.Equal(t, 1, f.updates, "an unchanged view is not applied again")

	v.setSeeds(seeds(t, "10.0.0.2:8101:rack2:dc1:200"))
	require.Equal(t, []string{"10.0.0.2:8101 dc1/rack2 [200]"}, f.ring(), "a seed the provider drops leaves the ring")
}

func TestGossipCompletesAddressOnlySeedsAndNeverAddsOthers(t *testing.T) {
	cfg := parseConf(t, "  dyn_listen: 10.0.0.1:8101\n  datacenter: dc1\n  rack: rack1\n  tokens: '100'\n  enable_gossip: true\n")
	f := &fakeNode{}
	v := newView(cfg, env.Info{}, f, discard())
	var joined []string
	var mu sync.Mutex
	done := make(chan struct{}, 4)
	v.useGossip(func(addrs []string) int {
		mu.Lock()
		joined = append(joined, addrs...)
		mu.Unlock()
		done <- struct{}{}
		return len(addrs)
	}, 2, "10.0.0.1:8101")
	// dns_srv_provider's SRV targets without a TXT record
	v.setSeeds([]seedprovider.Seed{{Host: "10.0.0.1", Port: 8101}, {Host: "10.0.0.2", Port: 8101}, {Host: "10.0.0.3", Port: 8101}})
	<-done
	mu.Lock()
	require.ElementsMatch(t, []string{"10.0.0.2:8103", "10.0.0.3:8103"}, joined, "the provider's addresses are joined at their gossip port, this node's excluded")
	mu.Unlock()
	require.Empty(t, f.ring(), "address-only seeds wait for gossip")

	v.setMembers([]gossip.Member{
		member(gossip.Meta{Name: "10.0.0.2:8101", DC: "dc1", Rack: "rack2", Tokens: []uint32{200}}, true),
		member(gossip.Meta{Name: "10.0.0.9:8101", DC: "dc1", Rack: "rack9", Tokens: []uint32{900}}, true),
	})
	require.Equal(t, []string{"10.0.0.2:8101 dc1/rack2 [200]"}, f.ring(), "a member the provider does not list stays out")

	v.setMembers(nil)
	require.Empty(t, f.ring(), "a member gossip forgets leaves the ring")
}

func TestGossipLivenessMarksRingPeersDownAndUp(t *testing.T) {
	f := &fakeNode{peers: []proxy.Peer{
		{Name: "node2.internal:8101", Addr: "node2.internal:8101", DC: "dc1", Rack: "rack2", Tokens: []ring.Token{200}},
	}}
	a := &gossipApplier{app: f, log: discard(), self: "10.0.0.1:8101", applied: map[string]bool{}}
	dead := member(gossip.Meta{Name: "10.0.0.2:8101", DC: "dc1", Rack: "rack2", Tokens: []uint32{200}}, false)
	a.apply([]gossip.Member{member(gossip.Meta{Name: "10.0.0.1:8101", DC: "dc1", Rack: "rack1"}, true), dead})
	require.Equal(t, map[string]bool{"node2.internal:8101": true}, f.down, "matched by datacenter, rack and tokens")

	f.down["node2.internal:8101"] = false // an operator's /peer/up
	a.apply([]gossip.Member{dead})
	require.False(t, f.down["node2.internal:8101"], "left alone until liveness changes")

	dead.Alive = true
	a.apply([]gossip.Member{dead})
	require.False(t, f.down["node2.internal:8101"])
	require.Len(t, f.peers, 1, "gossip does not own the membership here")
}

func TestGossipOwnsTheMembershipWithoutOtherSource(t *testing.T) {
	f := &fakeNode{}
	a := &gossipApplier{app: f, log: discard(), self: "10.0.0.1:8101", membership: true, applied: map[string]bool{}}
	a.apply([]gossip.Member{
		member(gossip.Meta{Name: "10.0.0.1:8101", DC: "dc1", Rack: "rack1", Tokens: []uint32{100}}, true),
		member(gossip.Meta{Name: "10.0.0.2:8101", DC: "dc1", Rack: "rack2", Tokens: []uint32{200}}, true),
		member(gossip.Meta{Name: "10.0.0.3:8101", DC: "dc1", Rack: "rack3", Tokens: []uint32{300}}, false),
	})
	require.Equal(t, []string{"10.0.0.2:8101 dc1/rack2 [200]", "10.0.0.3:8101 dc1/rack3 [300]"}, f.ring(), "dead members stay in the ring")
	require.Equal(t, map[string]bool{"10.0.0.2:8101": false, "10.0.0.3:8101": true}, f.down)
}

func TestPeersNamesASeedByItsAddress(t *testing.T) {
	got := Peers(seeds(t, "node2:8101:rack2:dc1:1,2"))
	require.Equal(t, []proxy.Peer{{Name: "node2:8101", Addr: "node2:8101", DC: "dc1", Rack: "rack2", Tokens: []ring.Token{1, 2}}}, got)
}

func member(m gossip.Meta, alive bool) gossip.Member { return gossip.Member{Meta: m, Alive: alive} }
