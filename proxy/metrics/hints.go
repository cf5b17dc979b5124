package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy/hints"
)

// hintCollector exports the hint log of every target (proxy/hints) at
// scrape time.
type hintCollector struct {
	m                                                       *Metrics
	records, bytes, written, replayed, dropped, lag, supers *prometheus.Desc
}

func newHintCollector(m *Metrics) *hintCollector {
	return &hintCollector{m: m, records: desc(mHintsPendingRecords), bytes: desc(mHintsPendingBytes), written: desc(mHintsWritten),
		replayed: desc(mHintsReplayed), dropped: desc(mHintsDropped), lag: desc(mHintReplayLag), supers: desc(mHintsSuperseded)}
}

func (c *hintCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.bytes, c.written, c.replayed, c.dropped, c.lag, c.supers} {
		ch <- d
	}
}

// dropReasons are the reason label's values, all emitted for every target
// so that rate() sees the first drop.
var dropReasons = []string{hints.DropWindow, hints.DropMaxBytes, hints.DropDiskError, hints.DropCorrupt}

func (c *hintCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.srv.Load()
	if s == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.supers, prometheus.CounterValue, float64(s.Stats().HintsSuperseded))
	now := time.Now()
	for _, st := range s.HintStats() {
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.GaugeValue, float64(st.PendingRecords), st.Target)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.PendingBytes), st.Target)
		ch <- prometheus.MustNewConstMetric(c.written, prometheus.CounterValue, float64(st.Written), st.Target)
		ch <- prometheus.MustNewConstMetric(c.replayed, prometheus.CounterValue, float64(st.Replayed), st.Target)
		for _, r := range dropReasons {
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped[r]), st.Target, r)
		}
		lag := 0.0
		if !st.Oldest.IsZero() {
			lag = max(now.Sub(st.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag, st.Target)
	}
}
