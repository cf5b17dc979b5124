package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/seedprovider"
)

// setupMetrics creates the node's registry and metrics (every series
// labelled with dc and rack) and makes them the proxy's observer. Call it
// before proxy.New(*srvOpts).
func setupMetrics(srvOpts *proxy.Options, dc, rack string) (*metrics.Metrics, *prometheus.Registry) {
	// the same defaults as proxy.New, so the labels name what the node uses
	if dc == "" {
		dc = "localdc"
	}
	if rack == "" {
		rack = "localrack"
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, dc, rack)
	m.SetVersion(version)
	srvOpts.Observer = m
	return m, reg
}

// attachMetrics points the metrics at the running server and serves
// /metrics, /info and /historeset on the stats listener.
func attachMetrics(m *metrics.Metrics, reg *prometheus.Registry, srv *proxy.Server, stats *admin.Server) {
	m.Attach(srv)
	m.Routes(stats, reg)
}

// registerSeedMetrics exports the poll counters of the running seed
// provider (seedMetrics, set by runSeeds) as
// dynomite_seedprovider_refresh_total{provider=name}.
func registerSeedMetrics(m *metrics.Metrics, name string) {
	read := func(f func(*seedprovider.Metrics) uint64) func() uint64 {
		return func() uint64 {
			if sm := seedMetrics.Load(); sm != nil {
				return f(sm)
			}
			return 0
		}
	}
	m.RegisterSeedProvider(name,
		read(func(sm *seedprovider.Metrics) uint64 { return sm.Refreshes.Load() }),
		read(func(sm *seedprovider.Metrics) uint64 { return sm.Failures.Load() }))
}
