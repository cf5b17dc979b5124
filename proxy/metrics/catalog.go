package metrics

import (
	"fmt"
	"io"
	"strings"
)

// Type is a metric's Prometheus type.
type Type string

// The metric types the catalog uses.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Info describes one metric this package exports (without the
// datacenter/rack labels every series carries).
type Info struct {
	Name   string
	Type   Type
	Labels []string
	Help   string
}

// Label values that the catalog's labels take (all bounded).
const (
	OutcomeSuccess = "success"
	OutcomeError   = "error"

	CauseDown           = "down"
	CauseFailed         = "failed"
	CauseTimeout        = "timeout"
	CauseConnectFailure = "connect_failure"
	CauseEjection       = "ejection"
)

// Causes are the values of the cause label, in output order.
var Causes = []string{CauseDown, CauseFailed, CauseTimeout, CauseConnectFailure, CauseEjection}

// The names of every metric, prefixed dynomite_ (Prometheus' naming
// practice: one namespace for the whole program, units and _total suffixes).
const (
	mClientConnections      = "dynomite_client_connections"
	mClientConnectionsTotal = "dynomite_client_connections_total"
	mClientInFlight         = "dynomite_client_requests_in_flight"
	mClientRequests         = "dynomite_client_requests_total"
	mClientRequestBytes     = "dynomite_client_request_bytes_total"
	mClientResponseBytes    = "dynomite_client_response_bytes_total"
	mClientDuration         = "dynomite_client_request_duration_seconds"
	mClientLimits           = "dynomite_client_limit_rejections_total"

	mDatastoreUp        = "dynomite_datastore_up"
	mDatastoreRequests  = "dynomite_datastore_requests_total"
	mDatastoreResponses = "dynomite_datastore_responses_total"
	mDatastoreErrors    = "dynomite_datastore_errors_total"
	mDatastoreConnects  = "dynomite_datastore_connects_total"
	mDatastoreDuration  = "dynomite_datastore_request_duration_seconds"

	mPeerUp        = "dynomite_peer_up"
	mPeerAdminDown = "dynomite_peer_admin_down"
	mPeerRequests  = "dynomite_peer_requests_total"
	mPeerResponses = "dynomite_peer_responses_total"
	mPeerErrors    = "dynomite_peer_errors_total"
	mPeerConnects  = "dynomite_peer_connects_total"
	mPeerDuration  = "dynomite_peer_request_duration_seconds"

	mQuorumFailures  = "dynomite_quorum_failures_total"
	mReadFailovers   = "dynomite_read_failover_requests_total"
	mRemoteFailovers = "dynomite_remote_dc_failover_requests_total"
	mRemoteDropped   = "dynomite_remote_dc_dropped_requests_total"
	mCopiesNotSent   = "dynomite_read_copies_not_sent_total"

	mReadRepairs        = "dynomite_read_repairs_total"
	mReadRepairFailures = "dynomite_read_repair_writes_failed_total"
	mReadRepairCleanups = "dynomite_read_repair_tombstone_cleanups_total"
	mReadRepairsActive  = "dynomite_read_repairs_active"

	mRingMembers = "dynomite_ring_members"
	mRingTokens  = "dynomite_ring_tokens"
	mConsistency = "dynomite_consistency_level"
	mNodeState   = "dynomite_node_state"
	mBuildInfo   = "dynomite_build_info"
	mSeedRefresh = "dynomite_seedprovider_refresh_total"

	mConfigReloadOK      = "dynomite_config_last_reload_successful"
	mConfigReloadTime    = "dynomite_config_last_reload_success_timestamp_seconds"
	mConfigHash          = "dynomite_config_hash"
	mHintsPendingRecords = "dynomite_hints_pending_records"
	mHintsPendingBytes   = "dynomite_hints_pending_bytes"
	mHintsWritten        = "dynomite_hints_written_total"
	mHintsReplayed       = "dynomite_hints_replayed_total"
	mHintsDropped        = "dynomite_hints_dropped_total"
	mHintReplayLag       = "dynomite_hint_replay_lag_seconds"
	mHintsSuperseded     = "dynomite_hints_superseded_total"

	mStreamRunning        = "dynomite_stream_jobs_running"
	mStreamFinished       = "dynomite_stream_jobs_finished_total"
	mStreamAttemptsFailed = "dynomite_stream_attempts_failed_total"
	mStreamScanned        = "dynomite_stream_keys_scanned_total"
	mStreamCopied         = "dynomite_stream_keys_copied_total"
	mStreamSkipped        = "dynomite_stream_keys_skipped_total"
	mStreamBytes          = "dynomite_stream_bytes_total"
	mStreamKeyErrors      = "dynomite_stream_key_errors_total"
	mStreamRate           = "dynomite_stream_keys_per_second"
	mStreamETA            = "dynomite_stream_eta_seconds"
)

var peerLabels = []string{"peer", "peer_dc", "peer_rack"}

// Limits are the values of the limit label of
// dynomite_client_limit_rejections_total: the configuration keys.
var Limits = []string{"max_client_connections", "max_request_bytes", "max_buffered_bytes", "client_read_timeout", "client_idle_timeout",
	"pubsub_output_buffer_hard_limit", "pubsub_output_buffer_soft_limit"}

// catalog is the single list of metrics: New builds them from it, Describe
// prints it (-D), and a test checks README.md against it.
var catalog = []Info{
	{mClientConnections, Gauge, nil, "Open client connections."},
	{mClientConnectionsTotal, Counter, nil, "Client connections accepted since start."},
	{mClientInFlight, Gauge, nil, "Client requests being served (parsed, reply not yet written)."},
	{mClientRequests, Counter, []string{"proto", "class", "outcome"}, "Client requests answered, by protocol, routing class (read, write, multikey, local, allnodes, ...) and outcome (success, or error when the reply is an error)."},
	{mClientRequestBytes, Counter, []string{"proto"}, "Bytes of client requests, as received."},
	{mClientResponseBytes, Counter, []string{"proto"}, "Bytes of replies sent to clients."},
	{mClientDuration, Histogram, []string{"proto", "class"}, "Client-facing latency: from parsing a request to its reply being ready."},
	{mClientLimits, Counter, []string{"limit"}, "Clients turned away by a limit, named by its key: connections refused (max_client_connections), requests refused (max_request_bytes, which also closes the connection; max_buffered_bytes), connections closed (client_read_timeout: a request not whole in time; client_idle_timeout: no request in time; pubsub_output_buffer_hard_limit, pubsub_output_buffer_soft_limit: a pub/sub subscriber not reading its messages)."},

	{mDatastoreUp, Gauge, nil, "1 when at least one connection to the local datastore is up and it is not ejected."},
	{mDatastoreRequests, Counter, nil, "Requests sent to the local datastore (local clients and peers)."},
	{mDatastoreResponses, Counter, nil, "Replies received from the local datastore."},
	{mDatastoreErrors, Counter, []string{"cause"}, "Local datastore errors by cause: down (request refused: no connection or ejected), failed (request lost with a broken connection), timeout (connection closed after no reply within timeout), connect_failure (dial failed), ejection (auto_eject_hosts ejected it)."},
	{mDatastoreConnects, Counter, nil, "Connections established to the local datastore."},
	{mDatastoreDuration, Histogram, nil, "Local datastore round trip: from writing a request to reading its reply."},

	{mPeerUp, Gauge, peerLabels, "1 when the peer is connected and not marked down by /peer/down."},
	{mPeerAdminDown, Gauge, peerLabels, "1 when the peer was marked down through /peer/down."},
	{mPeerRequests, Counter, peerLabels, "Requests sent to the peer."},
	{mPeerResponses, Counter, peerLabels, "Replies received from the peer."},
	{mPeerErrors, Counter, append(append([]string(nil), peerLabels...), "cause"), "Peer errors by cause (same causes as dynomite_datastore_errors_total; peers are never ejected)."},
	{mPeerConnects, Counter, peerLabels, "Connections established to the peer."},
	{mPeerDuration, Histogram, []string{"scope"}, "Peer round trip by distance: same_rack, cross_rack (same datacenter) or cross_dc."},

	{mQuorumFailures, Counter, nil, "Client requests that failed their consistency level (no quorum, or a DC_SAFE_QUORUM mismatch)."},
	{mReadFailovers, Counter, nil, "DC_ONE reads retried on another replica because the local rack's owner failed."},
	{mRemoteFailovers, Counter, nil, "Remote-datacenter copies of writes re-sent to another rack of that datacenter (upstream remote_peer_failover_requests)."},
	{mRemoteDropped, Counter, nil, "Remote-datacenter copies of writes that no rack of that datacenter accepted (upstream remote_peer_dropped_requests)."},
	{mCopiesNotSent, Counter, nil, "Copies of quorum reads left unsent because the answer was decided before their turn (writes are always sent)."},

	{mReadRepairs, Counter, []string{"kind"}, "Quorum reads whose stale replicas were sent a repair write, by how the value was chosen: timestamp (the newest read-repair metadata) or majority (keys without metadata: the value a quorum held)."},
	{mReadRepairFailures, Counter, nil, "Read-repair and tombstone-cleanup writes that failed (the replica did not answer, or answered an error)."},
	{mReadRepairCleanups, Counter, nil, "Tombstone cleanups sent to every replica of a key once all of them had the delete."},
	{mReadRepairsActive, Gauge, nil, "1 while read repair acts (read_repairs_enabled or /read_repairs/enable, with both node-wide levels above DC_ONE), else 0."},

	{mRingMembers, Gauge, []string{"ring_dc", "ring_rack"}, "Nodes in the token ring, per datacenter and rack, this node included."},
	{mRingTokens, Gauge, []string{"ring_dc", "ring_rack"}, "Tokens in the token ring, per datacenter and rack."},
	{mConsistency, Gauge, []string{"op", "level"}, "1 for the node-wide read and write consistency level in force (op read or write), 0 for the other levels."},
	{mNodeState, Gauge, []string{"state"}, "1 for the node's state (NORMAL, STANDBY, WRITES_ONLY, RESUMING; set by /state/...), 0 for the others."},
	{mBuildInfo, Gauge, []string{"version", "goversion"}, "Always 1; the labels carry the build's version."},
	{mSeedRefresh, Counter, []string{"provider", "outcome"}, "Seed-provider polls by outcome (success, or error when the answer was not used)."},
	{mConfigReloadOK, Gauge, nil, "1 when the last configuration reload (SIGHUP, POST /reload) succeeded, 0 when it was refused and the previous configuration stayed in force."},
	{mConfigReloadTime, Gauge, nil, "When the configuration in force was loaded (at start or by the last successful reload), in unix seconds."},
	{mConfigHash, Gauge, []string{"hash"}, "Always 1; the hash label is the SHA-256 (hex) of the configuration file in force."},

	{mHintsPendingRecords, Gauge, []string{"target"}, "Hints this node holds for the target peer and has not delivered yet (proxy/hints): writes the target is missing."},
	{mHintsPendingBytes, Gauge, []string{"target"}, "Bytes of the hints this node holds for the target peer."},
	{mHintsWritten, Counter, []string{"target"}, "Hints kept for the target: copies of writes that did not reach it."},
	{mHintsReplayed, Counter, []string{"target"}, "Hints delivered to the target (applied, or refused by it as older than a write it holds)."},
	{mHintsDropped, Counter, []string{"target", "reason"}, "Writes the target missed and no hint was kept for (reason window: down longer than max_hint_window; max_bytes: its log is full; disk_error), or hints lost (corrupt: a damaged segment). The target stays different until repaired."},
	{mHintReplayLag, Gauge, []string{"target"}, "Age of the oldest hint not yet delivered to the target (0 when none)."},
	{mHintsSuperseded, Counter, nil, "Replayed hints this node refused because it had applied a newer write of the key (last writer wins)."},

	{mStreamRunning, Gauge, []string{"kind"}, "Data-movement jobs running (proxy/jobs; GET /streams), by kind: warmup, repair, scale."},
	{mStreamFinished, Counter, []string{"kind", "outcome"}, "Data-movement jobs that ended, by kind and outcome: done, failed, aborted."},
	{mStreamAttemptsFailed, Counter, []string{"kind"}, "Attempts of data-movement jobs that failed, whether the job retried (a warm-up does) or failed with them."},
	{mStreamScanned, Counter, []string{"kind"}, "Keys read from a source datastore by data-movement jobs."},
	{mStreamCopied, Counter, []string{"kind"}, "Keys written to a target datastore by data-movement jobs."},
	{mStreamSkipped, Counter, []string{"kind"}, "Keys of the ranges that data-movement jobs left alone because the target held them (a newer write) or a newer version of them."},
	{mStreamBytes, Counter, []string{"kind"}, "Payload bytes copied by data-movement jobs."},
	{mStreamKeyErrors, Counter, []string{"kind"}, "Keys that data-movement jobs failed to copy (an error reply; the job went on)."},
	{mStreamRate, Gauge, []string{"kind"}, "Keys per second copied by the running jobs of the kind (each job's average over its current attempt), 0 when none runs."},
	{mStreamETA, Gauge, []string{"kind"}, "Seconds left until the running jobs of the kind have scanned their source, -1 when unknown or none runs."},
}

// Catalog returns every metric the package exports. Besides these, a
// registry from New carries the Go runtime (go_*) and process (process_*)
// collectors.
func Catalog() []Info { return append([]Info(nil), catalog...) }

func lookup(name string) Info {
	for _, i := range catalog {
		if i.Name == name {
			return i
		}
	}
	panic("metrics: no catalog entry " + name) // programming error, caught by every test
}

// Describe writes the `-D` output: the version line, upstream's /info
// statistics with their descriptions, then every Prometheus metric with its
// type, labels and help.
func Describe(w io.Writer, version string) {
	fmt.Fprintf(w, "This is dynomite-%s\n\npool stats:\n", version)
	field := func(f infoField) {
		note := ""
		if f.get == nil {
			note = " (always 0 here: not measured by this implementation)"
		}
		fmt.Fprintf(w, "  %-32s\"%s%s\"\n", f.name, f.help, note)
	}
	for _, f := range poolFields {
		field(f)
	}
	fmt.Fprintf(w, "\nserver stats:\n")
	for _, f := range serverFields {
		field(f)
	}
	fmt.Fprintf(w, "\nprometheus metrics (/metrics; every series also has datacenter and rack labels):\n")
	for _, i := range catalog {
		labels := ""
		if len(i.Labels) > 0 {
			labels = "{" + strings.Join(i.Labels, ",") + "}"
		}
		fmt.Fprintf(w, "  %-58s %-9s \"%s\"\n", i.Name+labels, i.Type, i.Help)
	}
	fmt.Fprintf(w, "  %-58s %-9s \"%s\"\n", "go_*, process_*", "", "Go runtime and process collectors (client_golang).")
}
