package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy/jobs"
)

// jobCollector exports the node's data-movement jobs (proxy/jobs) at
// scrape time, one series per kind whether or not a job of it ran.
type jobCollector struct {
	m                                                                *Metrics
	running, finished, failed, scanned, copied, skipped, bytes, errs *prometheus.Desc
	rate, eta                                                        *prometheus.Desc
}

func newJobCollector(m *Metrics) *jobCollector {
	return &jobCollector{m: m, running: desc(mStreamRunning), finished: desc(mStreamFinished), failed: desc(mStreamAttemptsFailed),
		scanned: desc(mStreamScanned), copied: desc(mStreamCopied), skipped: desc(mStreamSkipped), bytes: desc(mStreamBytes),
		errs: desc(mStreamKeyErrors), rate: desc(mStreamRate), eta: desc(mStreamETA)}
}

func (c *jobCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.running, c.finished, c.failed, c.scanned, c.copied, c.skipped, c.bytes, c.errs, c.rate, c.eta} {
		ch <- d
	}
}

func (c *jobCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.m.jobs.Totals() {
		k := string(t.Kind)
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, k)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), k)
		}
		gauge(c.running, float64(t.Running))
		for _, st := range jobs.Ended {
			ch <- prometheus.MustNewConstMetric(c.finished, prometheus.CounterValue, float64(t.Finished[st]), k, string(st))
		}
		counter(c.failed, t.FailedAttempts)
		counter(c.scanned, t.Scanned)
		counter(c.copied, t.Copied)
		counter(c.skipped, t.Skipped)
		counter(c.bytes, t.Bytes)
		counter(c.errs, t.Errors)
		gauge(c.rate, t.KeysPerSec)
		eta := -1.0
		if t.ETA >= 0 {
			eta = t.ETA.Seconds()
		}
		gauge(c.eta, eta)
	}
}

// Jobs is the node's registry of data-movement jobs, exported by these
// metrics, /info and GET /streams (Routes).
func (m *Metrics) Jobs() *jobs.Registry { return m.jobs }

// jobsInfo writes /info's data-movement fields. A cleanup's job counts the
// keys it deleted as copied (proxy/jobs): they are cleanup_keys_deleted,
// not part of stream_keys_copied. scale_phase is the phase of the move
// installed on this node (dual, switched, done, aborted), empty when none
// was.
func (m *Metrics) jobsInfo(j *jsonw) {
	var running, warming, failed, copied, bytes, deleted uint64
	for _, t := range m.jobs.Totals() {
		running += uint64(t.Running)
		failed += uint64(t.FailedAttempts)
		if t.Kind == jobs.Cleanup {
			deleted += uint64(t.Copied)
		} else {
			copied += uint64(t.Copied)
			bytes += uint64(t.Bytes)
		}
		if t.Kind == jobs.Warmup && t.Running > 0 {
			warming = 1
		}
	}
	phase := ""
	if s := m.srv.Load(); s != nil {
		if p := s.ScalePlan(); p != nil {
			phase = string(p.Phase)
		}
	}
	j.num("streams_running", running)
	j.num("streams_failed_attempts", failed)
	j.num("stream_keys_copied", copied)
	j.num("stream_bytes", bytes)
	j.num("warming_up", warming)
	j.str("scale_phase", phase)
	j.num("cleanup_keys_deleted", deleted)
}

// jobsInfoFields are the keys jobsInfo writes, in order.
var jobsInfoFields = []string{"streams_running", "streams_failed_attempts", "stream_keys_copied", "stream_bytes", "warming_up",
	"scale_phase", "cleanup_keys_deleted"}
