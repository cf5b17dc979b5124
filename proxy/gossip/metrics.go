package gossip

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics exports the counters of the gossip get returns (nil
// before gossip starts: everything reads 0) on reg:
//
//	dynomite_gossip_members{state="alive"|"dead"}  gauge
//	dynomite_gossip_joins_total                    counter
//	dynomite_gossip_leaves_total                   counter
//	dynomite_gossip_updates_total                  counter
//	dynomite_gossip_bad_meta_total                 counter
//	dynomite_gossip_join_failures_total            counter
func RegisterMetrics(reg prometheus.Registerer, get func() *Metrics) error {
	read := func(f func(*Metrics) float64) func() float64 {
		return func() float64 {
			if m := get(); m != nil {
				return f(m)
			}
			return 0
		}
	}
	counter := func(name, help string, f func(*Metrics) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "dynomite", Subsystem: "gossip", Name: name, Help: help}, read(f))
	}
	members := func(state string, f func(*Metrics) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "dynomite", Subsystem: "gossip", Name: "members",
			Help:        "Members gossip knows, this node included, by liveness.",
			ConstLabels: prometheus.Labels{"state": state},
		}, read(f))
	}
	cs := []prometheus.Collector{
		members("alive", func(m *Metrics) float64 { return float64(m.Alive.Load()) }),
		members("dead", func(m *Metrics) float64 { return float64(m.Dead.Load()) }),
		counter("joins_total", "Other members seen joining or coming back alive.", func(m *Metrics) float64 { return float64(m.Joins.Load()) }),
		counter("leaves_total", "Other members declared dead or leaving.", func(m *Metrics) float64 { return float64(m.Leaves.Load()) }),
		counter("updates_total", "Metadata changes of other members.", func(m *Metrics) float64 { return float64(m.Updates.Load()) }),
		counter("bad_meta_total", "Members ignored because their metadata did not decode.", func(m *Metrics) float64 { return float64(m.BadMeta.Load()) }),
		counter("join_failures_total", "Join attempts through the seeds that reached no one.", func(m *Metrics) float64 { return float64(m.JoinFailures.Load()) }),
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
