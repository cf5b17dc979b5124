package node

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// registerRepairMetrics exports the repairs' counters (docs/operations.md
// lists them):
//
//	dynomite_repair_divergent_keys_found_total  keys the replicas disagreed on
//	dynomite_repair_divergent_keys_fixed_total  of them, brought to the winner everywhere
//	dynomite_repair_runs_total{outcome}         finished repairs, success or error
//	dynomite_repair_running                     1 while a repair runs
func registerRepairMetrics(reg prometheus.Registerer, p *repairer) error {
	counter := func(name, help string, f func() float64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "dynomite", Subsystem: "repair", Name: name,
			Help: help, ConstLabels: labels}, f)
	}
	load := func(v interface{ Load() uint64 }) func() float64 { return func() float64 { return float64(v.Load()) } }
	cs := []prometheus.Collector{
		counter("divergent_keys_found_total", "Keys anti-entropy repairs found different between replicas (missing, other value or expiry).", load(&p.found), nil),
		counter("divergent_keys_fixed_total", "Divergent keys repairs brought to the winning version on every replica.", load(&p.fixed), nil),
		counter("runs_total", "Repairs finished, by outcome (error: a datastore could not be read).", load(&p.runsOK), prometheus.Labels{"outcome": "success"}),
		counter("runs_total", "Repairs finished, by outcome (error: a datastore could not be read).", load(&p.runsFailed), prometheus.Labels{"outcome": "error"}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "dynomite", Subsystem: "repair", Name: "running",
			Help: "1 while an anti-entropy repair runs on this node."}, func() float64 {
			if p.RepairStatus().State == admin.RepairRunning {
				return 1
			}
			return 0
		}),
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
