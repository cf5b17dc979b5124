package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The configuration in force and the outcome of the last reload (SIGHUP,
// POST /reload), under the names Prometheus gives its own:
// dynomite_config_last_reload_successful,
// dynomite_config_last_reload_success_timestamp_seconds, and
// dynomite_config_hash{hash} (always 1, an info-style gauge). /info carries
// the same as config_hash, config_last_reload_time and
// config_last_reload_successful.

// configStatus is one immutable record of the last reload.
type configStatus struct {
	hash string // of the configuration in force
	// at is the last reload's time, lastOK the last successful one's
	at, lastOK time.Time
	ok         bool
}

// SetConfigLoaded records the configuration loaded at start: hash (the
// SHA-256 of its file, hex) is in force, loaded successfully at at.
func (m *Metrics) SetConfigLoaded(hash string, at time.Time) {
	m.config.Store(&configStatus{hash: hash, at: at, lastOK: at, ok: true})
}

// SetConfigReload records a reload at at: when ok, hash is now the
// configuration in force; when not, the previous one stays in force.
func (m *Metrics) SetConfigReload(hash string, ok bool, at time.Time) {
	prev := m.config.Load()
	st := &configStatus{hash: prev.hash, at: at, lastOK: prev.lastOK, ok: ok}
	if ok {
		st.hash, st.lastOK = hash, at
	}
	m.config.Store(st)
}

// ConfigHash returns the hash of the configuration in force.
func (m *Metrics) ConfigHash() string { return m.config.Load().hash }

// configCollector exports the status at scrape time.
type configCollector struct {
	m                 *Metrics
	ok, okTime, hashD *prometheus.Desc
}

func newConfigCollector(m *Metrics) *configCollector {
	return &configCollector{m: m, ok: desc(mConfigReloadOK), okTime: desc(mConfigReloadTime), hashD: desc(mConfigHash)}
}

func (c *configCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ok
	ch <- c.okTime
	ch <- c.hashD
}

func (c *configCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.m.config.Load()
	ch <- prometheus.MustNewConstMetric(c.ok, prometheus.GaugeValue, b2f(st.ok))
	ch <- prometheus.MustNewConstMetric(c.okTime, prometheus.GaugeValue, float64(st.lastOK.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.hashD, prometheus.GaugeValue, 1, st.hash)
}

// configInfo writes /info's configuration fields.
func (m *Metrics) configInfo(j *jsonw) {
	st := m.config.Load()
	j.str("config_hash", st.hash)
	j.num("config_last_reload_time", uint64(st.at.Unix()))
	j.key("config_last_reload_successful")
	j.b = strconv.AppendBool(j.b, st.ok)
}

// configInfoFields are the keys configInfo writes, in order.
var configInfoFields = []string{"config_hash", "config_last_reload_time", "config_last_reload_successful"}
