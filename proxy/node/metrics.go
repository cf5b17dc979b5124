package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/gossip"
	"github.com/dynomite-go/dynomite/proxy/membership"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/seedprovider"
)

// setupMetrics creates the node's registry and metrics (every series
// labelled with the datacenter and rack of opts) and makes them the proxy's
// observer. Call it before proxy.New(*opts).
func setupMetrics(opts *proxy.Options, version string) (*metrics.Metrics, *prometheus.Registry) {
	// the same defaults as proxy.New, so the labels name what the node uses
	dc, rack := cmpOr(opts.DC, "localdc"), cmpOr(opts.Rack, "localrack")
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, dc, rack)
	m.SetVersion(version)
	opts.Observer = m
	return m, reg
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// attachMetrics points the metrics at the running server and serves
// /metrics, /info and /historeset on the stats listener.
func attachMetrics(m *metrics.Metrics, reg *prometheus.Registry, srv *proxy.Server, stats *admin.Server) {
	m.Attach(srv)
	m.Routes(stats, reg)
}

// registerSeedMetrics exports the poll counters of the seed provider name
// as dynomite_seedprovider_refresh_total{provider=name}.
func registerSeedMetrics(m *metrics.Metrics, name string, sm *seedprovider.Metrics) {
	m.RegisterSeedProvider(name, sm.Refreshes.Load, sm.Failures.Load)
}

// registerGossipMetrics exports the running gossip's counters
// (dynomite_gossip_*; proxy/gossip/README.md).
func registerGossipMetrics(m *metrics.Metrics, mem *membership.Membership) error {
	return gossip.RegisterMetrics(m.Registerer(), func() *gossip.Metrics {
		if g := mem.Gossip(); g != nil {
			return g.Metrics()
		}
		return nil
	})
}
