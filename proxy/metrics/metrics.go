package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// LatencyBuckets are the upper bounds, in seconds, of every latency
// histogram: 50µs to 10s, dense below a millisecond where a proxy in front
// of Redis lives, wide enough for cross-datacenter round trips.
var LatencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// HistoResetInterval is how often the /info histograms start over, as
// upstream's do.
const HistoResetInterval = 5 * time.Minute

// Metrics turns a node's measurements into Prometheus metrics and
// upstream's /info. It implements proxy.Observer: set it as
// proxy.Options.Observer, then call Attach with the server. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg      prometheus.Registerer // wrapped: datacenter and rack on every series
	dc, rack string
	started  time.Time
	version  atomic.Pointer[string]

	// per-request instruments, resolved once (no label lookups per request)
	clientReqs       *prometheus.CounterVec
	clientDur        *prometheus.HistogramVec
	clientReqBytes   *prometheus.CounterVec
	clientReplyBytes *prometheus.CounterVec
	protoMu          sync.Mutex
	protos           [2]*protoSet // by msg.Proto
	cur              atomic.Pointer[protoSet]
	dsDur            prometheus.Histogram
	peerDur          [3]prometheus.Observer // by proxy.PeerScope

	// for /info: upstream's read/write split and estimated histograms
	reads, writes              atomic.Uint64
	latency, payload           estHist
	crossDC, crossRack, server estHist
	resetMu                    sync.Mutex
	resetTimer                 *time.Timer
	closed                     bool

	srv atomic.Pointer[proxy.Server]

	seedMu sync.Mutex
	seeds  []seedSource

	config atomic.Pointer[configStatus] // config.go

	jobs *jobs.Registry // jobs.go
}

// protoSet holds the client instruments of one protocol, indexed by
// msg.Class and outcome (0 success, 1 error).
type protoSet struct {
	reqs       [][2]prometheus.Counter
	dur        []prometheus.Observer
	reqBytes   prometheus.Counter
	replyBytes prometheus.Counter
}

type seedSource struct {
	name                string
	refreshes, failures func() uint64
}

var _ proxy.Observer = (*Metrics)(nil)

// New registers the node's metrics on reg, every series labelled
// datacenter=dc and rack=rack, plus the Go runtime and process collectors.
// It panics if reg already holds them (one Metrics per registry).
func New(reg prometheus.Registerer, dc, rack string) *Metrics {
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"datacenter": dc, "rack": rack}, reg)
	m := &Metrics{reg: wrapped, dc: dc, rack: rack, started: time.Now(), jobs: jobs.NewRegistry()}
	m.SetConfigLoaded("", m.started)
	v := "unknown"
	m.version.Store(&v)

	m.clientReqs = prometheus.NewCounterVec(counterOpts(mClientRequests), lookup(mClientRequests).Labels)
	m.clientDur = prometheus.NewHistogramVec(histOpts(mClientDuration), lookup(mClientDuration).Labels)
	m.clientReqBytes = prometheus.NewCounterVec(counterOpts(mClientRequestBytes), lookup(mClientRequestBytes).Labels)
	m.clientReplyBytes = prometheus.NewCounterVec(counterOpts(mClientResponseBytes), lookup(mClientResponseBytes).Labels)
	m.dsDur = prometheus.NewHistogram(histOpts(mDatastoreDuration))
	peerDur := prometheus.NewHistogramVec(histOpts(mPeerDuration), lookup(mPeerDuration).Labels)
	for sc := range m.peerDur {
		m.peerDur[sc] = peerDur.WithLabelValues(proxy.PeerScope(sc).String())
	}
	wrapped.MustRegister(m.clientReqs, m.clientDur, m.clientReqBytes, m.clientReplyBytes, m.dsDur, peerDur,
		&nodeCollector{m: m, descs: newNodeDescs()}, newConfigCollector(m), newHintCollector(m), newJobCollector(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.resetMu.Lock()
	m.resetTimer = time.AfterFunc(HistoResetInterval, m.periodicReset)
	m.resetMu.Unlock()
	return m
}

func counterOpts(name string) prometheus.CounterOpts {
	return prometheus.CounterOpts{Name: name, Help: lookup(name).Help}
}

func histOpts(name string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Name: name, Help: lookup(name).Help, Buckets: LatencyBuckets}
}

// Registerer is the registry New was given, wrapped so that every series
// carries the node's datacenter and rack: later packages (gossip, seed
// providers) register their collectors here.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// SetVersion sets the version reported by dynomite_build_info and /info.
func (m *Metrics) SetVersion(v string) { m.version.Store(&v) }

// Attach reads s at scrape time (connections, datastore and peer counters,
// ring, consistency, state) and labels client requests with s's protocol.
// Call it before s serves; a later call replaces the server.
func (m *Metrics) Attach(s *proxy.Server) {
	m.srv.Store(s)
	m.useProto(s.Proto())
}

// useProto resolves the client instruments of p and makes them current.
func (m *Metrics) useProto(p msg.Proto) *protoSet {
	m.protoMu.Lock()
	defer m.protoMu.Unlock()
	i := int(p)
	if i >= len(m.protos) {
		i = int(msg.Redis)
	}
	if m.protos[i] == nil {
		name := msg.Proto(i).String()
		ps := &protoSet{
			reqBytes:   m.clientReqBytes.WithLabelValues(name),
			replyBytes: m.clientReplyBytes.WithLabelValues(name),
		}
		for c := msg.Class(0); c.String() != "unknown" && c < 255; c++ {
			ps.reqs = append(ps.reqs, [2]prometheus.Counter{
				m.clientReqs.WithLabelValues(name, c.String(), OutcomeSuccess),
				m.clientReqs.WithLabelValues(name, c.String(), OutcomeError),
			})
			ps.dur = append(ps.dur, m.clientDur.WithLabelValues(name, c.String()))
		}
		m.protos[i] = ps
	}
	m.cur.Store(m.protos[i])
	return m.protos[i]
}

// ClientRequest implements proxy.Observer.
func (m *Metrics) ClientRequest(class msg.Class, failed bool, d time.Duration, reqBytes, replyBytes int) {
	ps := m.cur.Load()
	if ps == nil {
		ps = m.useProto(msg.Redis) // not attached (tests)
	}
	c := int(class)
	if c >= len(ps.reqs) {
		c = int(msg.ClassUnsupported)
	}
	o := 0
	if failed {
		o = 1
	}
	ps.reqs[c][o].Inc()
	ps.dur[c].Observe(d.Seconds())
	ps.reqBytes.Add(float64(reqBytes))
	ps.replyBytes.Add(float64(replyBytes))
	m.latency.observe(micros(d))
	switch class {
	case msg.ClassRead:
		m.reads.Add(1)
	case msg.ClassWrite:
		m.writes.Add(1)
		m.payload.observe(uint64(max(reqBytes, 0)))
	}
}

// Datastore implements proxy.Observer.
func (m *Metrics) Datastore(d time.Duration, failed bool) {
	m.dsDur.Observe(d.Seconds())
	m.server.observe(micros(d))
}

// Peer implements proxy.Observer.
func (m *Metrics) Peer(scope proxy.PeerScope, d time.Duration, failed bool) {
	if int(scope) >= len(m.peerDur) {
		return
	}
	m.peerDur[scope].Observe(d.Seconds())
	switch scope {
	case proxy.ScopeCrossRack:
		m.crossRack.observe(micros(d))
	case proxy.ScopeCrossDC:
		m.crossDC.observe(micros(d))
	}
}

func micros(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d / time.Microsecond)
}

// RegisterSeedProvider exports a seed provider's poll counters as
// dynomite_seedprovider_refresh_total{provider=name,outcome}: refreshes
// counts every poll, failures those whose answer was not used (both read
// at scrape time, e.g. seedprovider.Metrics' Refreshes.Load and
// Failures.Load). Registering a name again replaces it.
func (m *Metrics) RegisterSeedProvider(name string, refreshes, failures func() uint64) {
	m.seedMu.Lock()
	defer m.seedMu.Unlock()
	for i := range m.seeds {
		if m.seeds[i].name == name {
			m.seeds[i] = seedSource{name, refreshes, failures}
			return
		}
	}
	m.seeds = append(m.seeds, seedSource{name, refreshes, failures})
}

// HistoReset starts the /info histograms over (upstream's /historeset).
func (m *Metrics) HistoReset() {
	for _, h := range []*estHist{&m.latency, &m.payload, &m.crossDC, &m.crossRack, &m.server} {
		h.reset()
	}
}

func (m *Metrics) periodicReset() {
	m.HistoReset()
	m.resetMu.Lock()
	defer m.resetMu.Unlock()
	if !m.closed {
		m.resetTimer.Reset(HistoResetInterval)
	}
}

// Close stops the periodic histogram reset. The metrics stay registered.
func (m *Metrics) Close() {
	m.resetMu.Lock()
	defer m.resetMu.Unlock()
	m.closed = true
	m.resetTimer.Stop()
}
