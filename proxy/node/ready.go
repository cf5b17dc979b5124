package node

import (
	"strings"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/membership"
)

// readiness answers /ready: the node is ready once its datastore is
// connected and every peer its seed provider lists (dyn_seeds under
// simple_provider) is in its ring and its state is known: it has been
// connected at least once, or it is marked down (/peer/down, dead in
// gossip), or the node failed to connect to it server_failure_limit times
// (the count after which upstream, too, takes a server for down:
// src/dyn_server.c, server_failure). Its ring is then complete as far as
// the provider says. A peer that dies later does not make every other node
// unready (the peer's state is what `dynomite status` shows), and a node
// restarted while a peer is down becomes ready once it has found the peer
// unreachable, rather than never. With preconnect off (or an admin
// operation mode) peers are dialled on first use, so being in the ring is
// enough.
type readiness struct {
	srv     *proxy.Server
	m       *membership.Membership
	connect bool
	// failures is server_failure_limit: connection failures to a peer that
	// was never connected after which it counts as known down
	failures uint64
}

func (r readiness) Missing() []string {
	var missing []string
	if !r.srv.Backend().Up() {
		missing = append(missing, "datastore not connected")
	}
	if r.srv.Warming() {
		missing = append(missing, "warming up: the datastore is being filled from a replica; reads go to other racks (dynomite streams)")
	}
	expected, ok := r.m.Expected()
	if !ok {
		return append(missing, "waiting for the seed provider ("+r.m.Provider()+") to answer")
	}
	ring := map[string]proxy.PeerStats{}
	for _, p := range r.srv.PeerStats() {
		ring[p.Name] = p
	}
	var waiting []string
	for _, e := range expected {
		p, in := ring[e.Name]
		switch {
		case !in && e.DC == "":
			waiting = append(waiting, e.Name+" (address only: its place comes from gossip)")
		case !in:
			waiting = append(waiting, e.DC+"/"+e.Rack+" "+e.Name+" (not in the ring)")
		case p.AdminDown || p.Pool.Connects > 0 || !r.connect || p.Pool.ConnectFailures >= r.failures:
		default:
			waiting = append(waiting, p.DC+"/"+p.Rack+" "+p.Name)
		}
	}
	if len(waiting) > 0 {
		missing = append(missing, "waiting for peers: "+strings.Join(waiting, ", "))
	}
	return missing
}

// clusterView is the admin endpoints' view of the node with the host other
// nodes reach it at (admin.Advertiser), for /cluster_describe.
type clusterView struct {
	admin.Cluster
	n *Node
}

func (c clusterView) AdvertisedHost() string { return c.n.advertisedHost() }

func (n *Node) advertisedHost() string {
	if n.membership == nil {
		return ""
	}
	return n.membership.AdvertisedHost()
}
