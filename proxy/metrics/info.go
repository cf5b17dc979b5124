package metrics

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/hints"
)

// infoSnap is what the /info fields are computed from: one read of the
// node's counters.
type infoSnap struct {
	m     *Metrics
	node  proxy.NodeStats
	peers []proxy.PeerStats
	hints []hints.TargetStats
}

// hintSum adds f over every target's hint log.
func (s *infoSnap) hintSum(f func(t *hints.TargetStats) uint64) uint64 {
	var n uint64
	for i := range s.hints {
		n += f(&s.hints[i])
	}
	return n
}

// sum adds f over the peers that local (same datacenter) selects: 1 for
// same-datacenter peers, -1 for remote ones, 0 for all.
func (s *infoSnap) sum(sel int, f func(p *proxy.PeerStats) uint64) uint64 {
	var n uint64
	for i := range s.peers {
		p := &s.peers[i]
		remote := p.Scope == proxy.ScopeCrossDC
		if sel == 1 && remote || sel == -1 && !remote {
			continue
		}
		n += f(p)
	}
	return n
}

type infoField struct {
	name, help string
	// get is nil for what this implementation does not have (reported 0;
	// README.md says why)
	get func(s *infoSnap) uint64
}

// poolFields are upstream's pool statistics (STATS_POOL_CODEC), in its order.
var poolFields = []infoField{
	{"client_eof", "# client connections closed", func(s *infoSnap) uint64 {
		return s.node.ClientConnectionsTotal - min(uint64(max(s.node.ClientConnections, 0)), s.node.ClientConnectionsTotal)
	}},
	{"client_err", "# errors on client connections", nil},
	{"client_connections", "# active client connections", func(s *infoSnap) uint64 { return uint64(max(s.node.ClientConnections, 0)) }},
	{"client_read_requests", "# client read requests", func(s *infoSnap) uint64 { return s.m.reads.Load() }},
	{"client_write_requests", "# client write requests", func(s *infoSnap) uint64 { return s.m.writes.Load() }},
	{"client_dropped_requests", "# client dropped requests", nil},
	{"client_non_quorum_w_responses", "# write requests that failed their consistency level (always 0: counted in client_non_quorum_r_responses)", nil},
	{"client_non_quorum_r_responses", "# requests, reads and writes, that failed their consistency level", func(s *infoSnap) uint64 { return s.node.QuorumFailures }},
	{"server_ejects", "# times the datastore was ejected", func(s *infoSnap) uint64 { return s.node.Datastore.Ejections }},
	{"dnode_client_eof", "# eof on peer-client connections", nil},
	{"dnode_client_err", "# errors on peer-client connections", nil},
	{"dnode_client_connections", "# active peer-client connections", nil},
	{"dnode_client_in_queue", "# requests in incoming queue of peer-client connections", nil},
	{"dnode_client_in_queue_bytes", "current request bytes in incoming queue of peer-client connections", nil},
	{"dnode_client_out_queue", "# requests in outgoing queue of peer-client connections", nil},
	{"dnode_client_out_queue_bytes", "current request bytes in outgoing queue of peer-client connections", nil},
	{"peer_dropped_requests", "# requests to same-datacenter peers refused (peer not connected)", func(s *infoSnap) uint64 {
		return s.sum(1, func(p *proxy.PeerStats) uint64 { return p.Pool.DownRejects })
	}},
	{"peer_timedout_requests", "# requests to same-datacenter peers that timed out", nil},
	{"remote_peer_dropped_requests", "# remote-datacenter copies that no rack accepted", func(s *infoSnap) uint64 { return s.node.RemoteDropped }},
	{"remote_peer_timedout_requests", "# requests to remote peers that timed out", nil},
	{"remote_peer_failover_requests", "# remote-datacenter copies re-sent to another rack", func(s *infoSnap) uint64 { return s.node.RemoteFailovers }},
	{"peer_eof", "# eof on peer connections", nil},
	{"peer_err", "# requests lost with a broken peer connection", func(s *infoSnap) uint64 {
		return s.sum(0, func(p *proxy.PeerStats) uint64 { return p.Pool.Errors })
	}},
	{"peer_timedout", "# timeouts on same-datacenter peer connections", func(s *infoSnap) uint64 {
		return s.sum(1, func(p *proxy.PeerStats) uint64 { return p.Pool.Timeouts })
	}},
	{"remote_peer_timedout", "# timeouts on remote peer connections", func(s *infoSnap) uint64 {
		return s.sum(-1, func(p *proxy.PeerStats) uint64 { return p.Pool.Timeouts })
	}},
	{"peer_connections", "# peers connected", func(s *infoSnap) uint64 {
		return s.sum(0, func(p *proxy.PeerStats) uint64 { return uint64(b2f(p.Pool.Up)) })
	}},
	{"peer_forward_error", "# requests not forwarded to a peer", nil},
	{"peer_requests", "# requests sent to peers", func(s *infoSnap) uint64 {
		return s.sum(0, func(p *proxy.PeerStats) uint64 { return p.Pool.Requests })
	}},
	{"peer_request_bytes", "total request bytes sent to peers", nil},
	{"peer_responses", "# replies received from peers", func(s *infoSnap) uint64 {
		return s.sum(0, func(p *proxy.PeerStats) uint64 { return p.Pool.Replies })
	}},
	{"peer_response_bytes", "total reply bytes received from peers", nil},
	{"peer_ejected_at", "timestamp when a peer was ejected in usec since epoch", nil},
	{"peer_ejects", "# times a peer was ejected", func(s *infoSnap) uint64 {
		return s.sum(0, func(p *proxy.PeerStats) uint64 { return p.Pool.Ejections })
	}},
	{"peer_in_queue", "# requests in incoming queue of same-datacenter peers", nil},
	{"remote_peer_in_queue", "# requests in incoming queue of remote peers", nil},
	{"peer_in_queue_bytes", "current request bytes in incoming queue of same-datacenter peers", nil},
	{"remote_peer_in_queue_bytes", "current request bytes in incoming queue of remote peers", nil},
	{"peer_out_queue", "# requests in outgoing queue of same-datacenter peers", nil},
	{"remote_peer_out_queue", "# requests in outgoing queue of remote peers", nil},
	{"peer_out_queue_bytes", "current request bytes in outgoing queue of same-datacenter peers", nil},
	{"remote_peer_out_queue_bytes", "current request bytes in outgoing queue of remote peers", nil},
	{"peer_mismatch_requests", "# replies whose id did not match the request", nil},
	{"forward_error", "# requests not forwarded", nil},
	{"fragments", "# fragments created from a multi-key request", nil},
	{"stats_count", "# stats requests", nil},
	// ours, after upstream's: read repair (upstream counts none)
	{"read_repairs", "# quorum reads whose stale replicas were sent a repair write", func(s *infoSnap) uint64 {
		return s.node.ReadRepairs.ByTimestamp + s.node.ReadRepairs.ByMajority
	}},
	{"read_repair_writes_failed", "# read-repair and tombstone-cleanup writes that failed", func(s *infoSnap) uint64 { return s.node.ReadRepairs.WritesFailed }},
}

// serverFields are upstream's datastore statistics (STATS_SERVER_CODEC).
var serverFields = []infoField{
	{"server_eof", "# eof on datastore connections", nil},
	{"server_err", "# requests lost with a broken datastore connection", func(s *infoSnap) uint64 { return s.node.Datastore.Errors }},
	{"server_timedout", "# timeouts on datastore connections", func(s *infoSnap) uint64 { return s.node.Datastore.Timeouts }},
	{"server_ejected_at", "timestamp when the datastore was ejected in usec since epoch", nil},
	{"server_dropped_requests", "# requests refused: datastore not connected or ejected", func(s *infoSnap) uint64 { return s.node.Datastore.DownRejects }},
	{"server_timedout_requests", "# requests that timed out on the datastore", nil},
	{"read_requests", "# read requests", nil},
	{"read_request_bytes", "total read request bytes", nil},
	{"write_requests", "# write requests", nil},
	{"write_request_bytes", "total write request bytes", nil},
	{"read_responses", "# read responses", nil},
	{"read_response_bytes", "total read response bytes", nil},
	{"write_responses", "# write responses", nil},
	{"write_response_bytes", "total write response bytes", nil},
	{"in_queue", "# requests in incoming queue", nil},
	{"in_queue_bytes", "current request bytes in incoming queue", nil},
	{"out_queue", "# requests in outgoing queue", nil},
	{"out_queue_bytes", "current request bytes in outgoing queue", nil},
	{"redis_req_get", "# Redis get", nil},
	{"redis_req_set", "# Redis set", nil},
	{"redis_req_del", "# Redis del", nil},
	{"redis_req_incr_decr", "# Redis incr or decr", nil},
	{"redis_req_keys", "# Redis keys", nil},
	{"redis_req_mget", "# Redis mget", nil},
	{"redis_req_scan", "# Redis scan", nil},
	{"redis_req_sort", "# Redis sort", nil},
	{"redis_req_lreqm", "# Redis lreqm", nil},
	{"redis_req_sunion", "# Redis sunion", nil},
	{"redis_req_ping", "# Redis ping", nil},
	{"redis_req_lists", "# Redis lists", nil},
	{"redis_req_sets", "# Redis sets", nil},
	{"redis_req_hashes", "# Redis hashes", nil},
	{"redis_req_sortedsets", "# Redis sortedsets", nil},
	{"redis_req_other", "# Redis other", nil},
}

// poolExtraFields follow upstream's pool fields: the hinted handoff
// (proxy/hints), summed over the targets.
var poolExtraFields = []infoField{
	{"hints_pending_records", "# hints not yet delivered", func(s *infoSnap) uint64 {
		return s.hintSum(func(t *hints.TargetStats) uint64 { return uint64(t.PendingRecords) })
	}},
	{"hints_pending_bytes", "bytes of hints not yet delivered", func(s *infoSnap) uint64 {
		return s.hintSum(func(t *hints.TargetStats) uint64 { return uint64(t.PendingBytes) })
	}},
	{"hints_written", "# hints kept", func(s *infoSnap) uint64 { return s.hintSum(func(t *hints.TargetStats) uint64 { return t.Written }) }},
	{"hints_replayed", "# hints delivered", func(s *infoSnap) uint64 { return s.hintSum(func(t *hints.TargetStats) uint64 { return t.Replayed }) }},
	{"hints_dropped", "# writes a peer missed with no hint kept, or hints lost", func(s *infoSnap) uint64 {
		return s.hintSum(func(t *hints.TargetStats) uint64 {
			var n uint64
			for _, v := range t.Dropped {
				n += v
			}
			return n
		})
	}},
	{"hints_superseded", "# replayed hints refused: a newer write of the key was applied", func(s *infoSnap) uint64 { return s.node.HintsSuperseded }},
	{"hint_replay_lag", "age in seconds of the oldest hint not yet delivered", func(s *infoSnap) uint64 {
		var oldest time.Time
		for _, t := range s.hints {
			if !t.Oldest.IsZero() && (oldest.IsZero() || t.Oldest.Before(oldest)) {
				oldest = t.Oldest
			}
		}
		if oldest.IsZero() {
			return 0
		}
		return uint64(max(time.Since(oldest), 0) / time.Second)
	}},
}

// serverExtraFields follow upstream's server fields: the datastore's
// request and reply totals, which this implementation does not split into
// reads and writes.
var serverExtraFields = []infoField{
	{"requests", "# requests sent to the datastore (reads and writes)", func(s *infoSnap) uint64 { return s.node.Datastore.Requests }},
	{"responses", "# replies from the datastore (reads and writes)", func(s *infoSnap) uint64 { return s.node.Datastore.Replies }},
}

// InfoFields lists every key of /info: the top level, the pool object's and
// the datastore object's, in upstream's order (the extra datastore keys
// "requests" and "responses" are not included).
func InfoFields() (top, pool, server []string) {
	top = append([]string{"service", "source", "version", "uptime", "timestamp", "rack", "dc"}, topStatNames...)
	top = append(top, configInfoFields...)
	top = append(top, jobsInfoFields...)
	for _, f := range poolFields {
		pool = append(pool, f.name)
	}
	for _, f := range serverFields {
		server = append(server, f.name)
	}
	return top, pool, server
}

var topStatNames = []string{
	"latency_max", "latency_999th", "latency_99th", "latency_95th", "latency_mean",
	"payload_size_max", "payload_size_999th", "payload_size_99th", "payload_size_95th", "payload_size_mean",
	"average_cross_region_rtt", "99_cross_region_rtt", "average_cross_zone_latency", "99_cross_zone_latency",
	"average_server_latency", "99_server_latency",
	"average_cross_region_queue_wait", "99_cross_region_queue_wait", "average_cross_zone_queue_wait",
	"99_cross_zone_queue_wait", "average_server_queue_wait", "99_server_queue_wait",
	"client_out_queue_99", "server_in_queue_99", "server_out_queue_99", "dnode_client_out_queue_99",
	"peer_in_queue_99", "peer_out_queue_99", "remote_peer_out_queue_99", "remote_peer_in_queue_99",
	"alloc_msgs", "free_msgs", "alloc_mbufs", "free_mbufs", "dyn_memory",
}

// jsonw writes one JSON object with keys in a fixed order.
type jsonw struct {
	b     []byte
	first bool
}

func (j *jsonw) key(k string) {
	if !j.first {
		j.b = append(j.b, ',')
	}
	j.first = false
	j.b = appendJSONString(j.b, k)
	j.b = append(j.b, ':')
}

func (j *jsonw) num(k string, v uint64) {
	j.key(k)
	j.b = strconv.AppendUint(j.b, v, 10)
}

func (j *jsonw) str(k, v string) {
	j.key(k)
	j.b = appendJSONString(j.b, v)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func (j *jsonw) open(k string) {
	if k != "" {
		j.key(k)
	}
	j.b = append(j.b, '{')
	j.first = true
}

func (j *jsonw) close() {
	j.b = append(j.b, '}')
	j.first = false
}

// Info returns upstream's /info document (dyn_stats.c, stats_make_rsp).
func (m *Metrics) Info() []byte {
	now := time.Now()
	snap := &infoSnap{m: m}
	pool, dsName := "", ""
	if s := m.srv.Load(); s != nil {
		snap.node, snap.peers, snap.hints = s.Stats(), s.PeerStats(), s.HintStats()
		pool, dsName = s.Pool(), s.DatastoreName()
	}
	host, _ := os.Hostname()
	lat, pay := m.latency.summary(), m.payload.summary()
	region, zone, server := m.crossDC.summary(), m.crossRack.summary(), m.server.summary()

	j := &jsonw{}
	j.open("")
	j.str("service", "dynomite")
	j.str("source", host)
	j.str("version", *m.version.Load())
	j.num("uptime", uint64(now.Sub(m.started)/time.Second))
	j.num("timestamp", uint64(now.Unix()))
	j.str("rack", m.rack)
	j.str("dc", m.dc)
	vals := map[string]uint64{
		"latency_max": lat.max, "latency_999th": lat.p999, "latency_99th": lat.p99, "latency_95th": lat.p95, "latency_mean": lat.mean,
		"payload_size_max": pay.max, "payload_size_999th": pay.p999, "payload_size_99th": pay.p99, "payload_size_95th": pay.p95, "payload_size_mean": pay.mean,
		"average_cross_region_rtt": region.mean, "99_cross_region_rtt": region.p99,
		"average_cross_zone_latency": zone.mean, "99_cross_zone_latency": zone.p99,
		"average_server_latency": server.mean, "99_server_latency": server.p99,
		"dyn_memory": maxRSSKB(),
	}
	for _, k := range topStatNames {
		j.num(k, vals[k]) // the queue and allocator fields stay 0
	}
	m.configInfo(j)
	m.jobsInfo(j)
	j.open(pool)
	for _, f := range poolFields {
		j.num(f.name, f.value(snap))
	}
	for _, f := range poolExtraFields {
		j.num(f.name, f.value(snap))
	}
	j.open(dsName)
	for _, f := range serverFields {
		j.num(f.name, f.value(snap))
	}
	for _, f := range serverExtraFields {
		j.num(f.name, f.value(snap))
	}
	j.close()
	j.close()
	j.close()
	return append(j.b, '\n')
}

func (f *infoField) value(s *infoSnap) uint64 {
	if f.get == nil {
		return 0
	}
	return f.get(s)
}

// maxRSSKB is the process's peak resident set in KB (upstream's
// dyn_memory: getrusage's ru_maxrss).
func maxRSSKB() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil || ru.Maxrss < 0 {
		return 0
	}
	return uint64(ru.Maxrss)
}

// Handler serves the Prometheus exposition of g (the registry given to New).
//
// At most MaxScrapesInFlight scrapes are gathered at once; more are turned
// away with 503 at once. Gathering cannot be cancelled: when a scrape
// outlasts the scraper's timeout, the scraper gives up and asks again while
// the first one still runs, and on a busy node those late gatherings queue
// up behind each other until every scrape fails. A bounded number keeps a
// slow node's scrapes slow instead of letting them pile up.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: MaxScrapesInFlight})
}

// MaxScrapesInFlight bounds concurrent /metrics gatherings (Handler): one
// per scraper of a node plus one late retry each, for two scrapers.
const MaxScrapesInFlight = 4

// InfoHandler serves Info as upstream's /info.
func (m *Metrics) InfoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(m.Info())
	})
}

// HistoResetHandler serves upstream's /historeset.
func (m *Metrics) HistoResetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.HistoReset()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK\r\n"))
	})
}

// Routes registers GET /metrics (g's exposition), /info, /historeset and
// /streams (the data-movement jobs, proxy/jobs) on mux (the stats
// listener, admin.Server).
func (m *Metrics) Routes(mux admin.Mux, g prometheus.Gatherer) {
	mux.Handle("GET /metrics", Handler(g))
	mux.Handle("GET /info", m.InfoHandler())
	mux.Handle("GET /historeset", m.HistoResetHandler())
	mux.Handle("GET /streams", m.jobs.Handler())
}
