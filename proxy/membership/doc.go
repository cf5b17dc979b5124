// Package membership decides which peers make up a node's ring and which of
// them are alive, and applies that to the running node.
//
// # Sources
//
// Two sources feed one stream of peer sets:
//
//   - the seed provider dyn_seed_provider names (florida, dns, dns_srv,
//     ec2; seedprovider/*), polled every gos_interval by a
//     [seedprovider.Refresher]. simple_provider's dyn_seeds are static: the
//     proxy gets them at start ([Peers]) and nothing here polls.
//   - gossip (enable_gossip; proxy/gossip), which reports liveness and,
//     when nothing else supplies peers, the membership itself.
//
// One source owns the membership at a time, so two never fight over the
// ring: the provider when there is one (gossip then only completes its
// address-only entries and marks dead peers down), gossip otherwise. The
// rules are spelled out in gossip.go and view.go; upstream's counterparts
// are dyn_gossip.c and seedsprovider/dyn_{florida,dns}.c.
//
// # Use
//
// The node (proxy/node) calls [DetectEnv] before deriving the proxy's
// options, builds a [Membership] with [New] over its *proxy.Server (an
// [Applier]) and runs [Membership.Run] beside the listeners until its
// context ends. A configuration reload that changes the provider's own
// settings (dns_srv_*, ec2_*) calls [Membership.Reload], which builds the
// provider anew and, once the rest of the reload applied, has Run poll it
// instead. Tests give New a fake Applier: nothing here needs a server.
// There are no package globals; the counters are reached through
// [Membership.SeedMetrics] and [Membership.Gossip].
package membership
