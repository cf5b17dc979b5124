package membership

import (
	"net"
	"os"
)

// ExpectedPeer is a peer the membership's source lists: dyn_seeds, or the
// seed provider's last answer. DC and Rack are empty for an address-only
// seed (a dns_srv_provider target without its TXT record), which joins the
// ring once gossip tells its place.
type ExpectedPeer struct {
	Name, DC, Rack string
}

// Expected lists the peers this node should have in its ring, itself
// excluded: the ring's peers under simple_provider (dyn_seeds are there
// from the start), else the provider's last answer. ok is false while the
// provider has not answered yet, or its answer was refused (then the node
// cannot know what it is missing).
func (m *Membership) Expected() (peers []ExpectedPeer, ok bool) {
	if m.view == nil {
		for _, p := range m.app.Peers() {
			if !p.Local {
				peers = append(peers, ExpectedPeer{Name: p.Name, DC: p.DC, Rack: p.Rack})
			}
		}
		return peers, true
	}
	v := m.view
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.applied {
		return nil, false
	}
	for _, s := range v.full {
		peers = append(peers, ExpectedPeer{Name: s.Addr(), DC: s.DC, Rack: s.Rack})
	}
	for _, a := range v.addrOnly {
		peers = append(peers, ExpectedPeer{Name: a})
	}
	return peers, true
}

// AdvertisedHost is the host other nodes reach this one at, for the admin
// endpoints to show instead of an unspecified dyn_listen host (0.0.0.0):
// dyn_listen's own host when it names one, else this node's entry in the
// seed provider's answer, gossip_advertise, the private IP the environment
// reported, and last the host name (a container's name under compose when
// the service sets `hostname:`).
func (m *Membership) AdvertisedHost() string {
	if h := m.cfg.DynListen.Host; h != "" && !net.ParseIP(h).IsUnspecified() {
		return h
	}
	if m.view != nil {
		m.view.mu.Lock()
		self := m.view.selfSeed
		m.view.mu.Unlock()
		if h, _, err := net.SplitHostPort(self); err == nil && h != "" {
			return h
		}
	}
	if h := m.cfg.GossipAdvertise.Host; h != "" {
		return h
	}
	if m.info.PrivateIP != "" {
		return m.info.PrivateIP
	}
	h, _ := os.Hostname()
	return h
}
