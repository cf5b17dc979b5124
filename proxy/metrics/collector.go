package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/backend"
	"github.com/dynomite-go/dynomite/proxy/consistency"
)

// nodeDescs are the metrics read from the node at scrape time: its own
// atomic counters, exported as they are (never counted twice).
type nodeDescs struct {
	clientConns, clientConnsTotal, inFlight, clientLimits                   *prometheus.Desc
	dsUp, dsReqs, dsResps, dsErrors, dsConnects                             *prometheus.Desc
	peerUp, peerAdminDown, peerReqs, peerResps, peerErrors, peerConnects    *prometheus.Desc
	quorumFailures, readFailovers, remoteFailovers, remoteDropped           *prometheus.Desc
	copiesNotSent                                                           *prometheus.Desc
	readRepairs, readRepairFailures, readRepairCleanups, readRepairsActive  *prometheus.Desc
	ringMembers, ringTokens, consistency, nodeState, buildInfo, seedRefresh *prometheus.Desc
}

func desc(name string) *prometheus.Desc {
	i := lookup(name)
	return prometheus.NewDesc(name, i.Help, i.Labels, nil)
}

func newNodeDescs() nodeDescs {
	return nodeDescs{
		clientConns: desc(mClientConnections), clientConnsTotal: desc(mClientConnectionsTotal), inFlight: desc(mClientInFlight),
		clientLimits: desc(mClientLimits),
		dsUp:         desc(mDatastoreUp), dsReqs: desc(mDatastoreRequests), dsResps: desc(mDatastoreResponses),
		dsErrors: desc(mDatastoreErrors), dsConnects: desc(mDatastoreConnects),
		peerUp: desc(mPeerUp), peerAdminDown: desc(mPeerAdminDown), peerReqs: desc(mPeerRequests),
		peerResps: desc(mPeerResponses), peerErrors: desc(mPeerErrors), peerConnects: desc(mPeerConnects),
		quorumFailures: desc(mQuorumFailures), readFailovers: desc(mReadFailovers),
		remoteFailovers: desc(mRemoteFailovers), remoteDropped: desc(mRemoteDropped), copiesNotSent: desc(mCopiesNotSent),
		readRepairs: desc(mReadRepairs), readRepairFailures: desc(mReadRepairFailures),
		readRepairCleanups: desc(mReadRepairCleanups), readRepairsActive: desc(mReadRepairsActive),
		ringMembers: desc(mRingMembers), ringTokens: desc(mRingTokens), consistency: desc(mConsistency),
		nodeState: desc(mNodeState), buildInfo: desc(mBuildInfo), seedRefresh: desc(mSeedRefresh),
	}
}

type nodeCollector struct {
	m     *Metrics
	descs nodeDescs
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.descs
	for _, x := range []*prometheus.Desc{d.clientConns, d.clientConnsTotal, d.inFlight, d.clientLimits,
		d.dsUp, d.dsReqs, d.dsResps, d.dsErrors, d.dsConnects,
		d.peerUp, d.peerAdminDown, d.peerReqs, d.peerResps, d.peerErrors, d.peerConnects,
		d.quorumFailures, d.readFailovers, d.remoteFailovers, d.remoteDropped, d.copiesNotSent,
		d.readRepairs, d.readRepairFailures, d.readRepairCleanups, d.readRepairsActive,
		d.ringMembers, d.ringTokens, d.consistency, d.nodeState, d.buildInfo, d.seedRefresh} {
		ch <- x
	}
}

var states = []proxy.State{proxy.StateNormal, proxy.StateStandby, proxy.StateWritesOnly, proxy.StateResuming}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// errorsByCause is a pool's error counters in the order of Causes.
func errorsByCause(st *backend.Stats) [5]uint64 {
	return [5]uint64{st.DownRejects, st.Errors, st.Timeouts, st.ConnectFailures, st.Ejections}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	d := &c.descs
	m := c.m
	counter := func(desc *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), lv...)
	}
	gauge := func(desc *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, lv...)
	}
	gauge(d.buildInfo, 1, *m.version.Load(), runtime.Version())

	m.seedMu.Lock()
	seeds := append([]seedSource(nil), m.seeds...)
	m.seedMu.Unlock()
	for _, s := range seeds {
		total, failed := s.refreshes(), s.failures()
		counter(d.seedRefresh, total-min(failed, total), s.name, OutcomeSuccess)
		counter(d.seedRefresh, failed, s.name, OutcomeError)
	}

	s := m.srv.Load()
	if s == nil {
		return
	}
	st := s.Stats()
	gauge(d.clientConns, float64(st.ClientConnections))
	counter(d.clientConnsTotal, st.ClientConnectionsTotal)
	gauge(d.inFlight, float64(st.InFlight))
	lim := &st.Limits
	for i, v := range [...]uint64{lim.MaxClientConnections, lim.MaxRequestBytes, lim.MaxBufferedBytes, lim.ClientReadTimeout, lim.ClientIdleTimeout, lim.PubSubHard, lim.PubSubSoft} {
		counter(d.clientLimits, v, Limits[i])
	}

	ds := st.Datastore
	gauge(d.dsUp, b2f(ds.Up))
	counter(d.dsReqs, ds.Requests)
	counter(d.dsResps, ds.Replies)
	counter(d.dsConnects, ds.Connects)
	for i, v := range errorsByCause(&ds) {
		counter(d.dsErrors, v, Causes[i])
	}

	counter(d.quorumFailures, st.QuorumFailures)
	counter(d.readFailovers, st.ReadFailovers)
	counter(d.remoteFailovers, st.RemoteFailovers)
	counter(d.remoteDropped, st.RemoteDropped)
	counter(d.copiesNotSent, st.ReadCopiesNotSent)
	rr := &st.ReadRepairs
	counter(d.readRepairs, rr.ByTimestamp, "timestamp")
	counter(d.readRepairs, rr.ByMajority, "majority")
	counter(d.readRepairFailures, rr.WritesFailed)
	counter(d.readRepairCleanups, rr.Cleanups)
	_, active := s.ReadRepairs()
	gauge(d.readRepairsActive, b2f(active))

	// Peers: only the current members are emitted, so the series of a
	// peer that left the ring disappear with it.
	for _, p := range s.PeerStats() {
		lv := []string{p.Name, p.DC, p.Rack}
		gauge(d.peerUp, b2f(p.Up), lv...)
		gauge(d.peerAdminDown, b2f(p.AdminDown), lv...)
		ps := p.Pool
		counter(d.peerReqs, ps.Requests, lv...)
		counter(d.peerResps, ps.Replies, lv...)
		counter(d.peerConnects, ps.Connects, lv...)
		for i, v := range errorsByCause(&ps) {
			counter(d.peerErrors, v, p.Name, p.DC, p.Rack, Causes[i])
		}
	}

	topo := s.Topology()
	for dc := 0; dc < topo.NumDCs(); dc++ {
		for rk := 0; rk < topo.NumRacks(dc); rk++ {
			nodes := topo.RackNodes(dc, rk)
			tokens := 0
			for _, n := range nodes {
				tokens += len(n.Tokens)
			}
			gauge(d.ringMembers, float64(len(nodes)), topo.DCName(dc), topo.RackName(dc, rk))
			gauge(d.ringTokens, float64(tokens), topo.DCName(dc), topo.RackName(dc, rk))
		}
	}

	rl, wl := s.Consistency()
	for l := range consistency.Level(consistency.NumLevels) {
		gauge(d.consistency, b2f(l == rl), "read", l.String())
		gauge(d.consistency, b2f(l == wl), "write", l.String())
	}
	ns := s.NodeState()
	for _, x := range states {
		gauge(d.nodeState, b2f(x == ns), x.String())
	}
}
