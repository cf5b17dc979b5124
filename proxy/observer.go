package proxy

import (
	"time"

	"github.com/dynomite-go/dynomite/proxy/backend"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// PeerScope says how far a peer is from this node, for latency metrics.
type PeerScope uint8

const (
	// ScopeSameRack: another node of this node's rack.
	ScopeSameRack PeerScope = iota
	// ScopeCrossRack: a node of another rack in this datacenter.
	ScopeCrossRack
	// ScopeCrossDC: a node of another datacenter.
	ScopeCrossDC
)

var scopeNames = [...]string{"same_rack", "cross_rack", "cross_dc"}

func (s PeerScope) String() string { return scopeNames[s] }

// Observer receives per-request measurements. Implementations must be cheap
// and safe for concurrent use: they run on the request path (the metrics
// package turns them into Prometheus histograms and upstream's /info).
type Observer interface {
	// ClientRequest: one client request answered (or not, for noreply):
	// its routing class, whether the reply was an error, and the time from
	// parse to reply.
	ClientRequest(class msg.Class, failed bool, d time.Duration, reqBytes, replyBytes int)
	// Datastore: one request to the local datastore completed.
	Datastore(d time.Duration, failed bool)
	// Peer: one request to a peer completed.
	Peer(scope PeerScope, d time.Duration, failed bool)
}

type nopObserver struct{}

func (nopObserver) ClientRequest(msg.Class, bool, time.Duration, int, int) {}
func (nopObserver) Datastore(time.Duration, bool)                          {}
func (nopObserver) Peer(PeerScope, time.Duration, bool)                    {}

// replyIsError tells error replies of either protocol.
func replyIsError(reply []byte) bool {
	if len(reply) == 0 {
		return false
	}
	switch reply[0] {
	case '-':
		return true
	case 'S':
		return len(reply) >= 12 && string(reply[:12]) == "SERVER_ERROR"
	case 'C':
		return len(reply) >= 12 && string(reply[:12]) == "CLIENT_ERROR"
	case 'E':
		return len(reply) >= 5 && string(reply[:5]) == "ERROR"
	}
	return false
}

// NodeStats are a node's cumulative counters, read at scrape time.
type NodeStats struct {
	// ClientConnections is the number of open client connections;
	// ClientConnectionsTotal counts every accepted one.
	ClientConnections      int64
	ClientConnectionsTotal uint64
	// Datastore is the local datastore pool's counters.
	Datastore backend.Stats
	// ReadFailovers counts DC_ONE reads served by a replica other than the
	// local rack's owner; RemoteFailovers remote-datacenter copies sent to
	// another rack; RemoteDropped remote copies no rack accepted;
	// QuorumFailures requests that failed their consistency level.
	ReadFailovers, RemoteFailovers, RemoteDropped, QuorumFailures uint64
	// ReadCopiesNotSent counts copies of reads left unsent because the
	// answer was decided before their turn came.
	ReadCopiesNotSent uint64
	// InFlight is the number of client requests being served.
	InFlight int64
	// ReadRepairs counts read repair's work.
	ReadRepairs ReadRepairStats
	// HintsSuperseded counts replayed hints this node refused: it had
	// applied a newer write of the key (lww.go).
	HintsSuperseded uint64
	// Limits counts what the client limits refused or closed.
	Limits LimitStats
}

// ReadRepairStats counts read repair's work (proxy/readrepair.go).
type ReadRepairStats struct {
	// ByTimestamp and ByMajority: reads whose stale replicas were sent a
	// repair, by how the value was chosen (the newest metadata; the value a
	// quorum held, for keys without metadata).
	ByTimestamp, ByMajority uint64
	// WritesFailed: repair and cleanup writes that failed (the replica did
	// not answer, or answered an error).
	WritesFailed uint64
	// Cleanups: tombstone cleanups sent (to every replica of a key).
	Cleanups uint64
}

// LimitStats counts the clients a limit turned away, by limit.
type LimitStats struct {
	// MaxClientConnections: connections refused at max_client_connections.
	MaxClientConnections uint64
	// MaxRequestBytes: requests refused (and their connections closed)
	// for declaring more than max_request_bytes.
	MaxRequestBytes uint64
	// MaxBufferedBytes: requests refused at max_buffered_bytes.
	MaxBufferedBytes uint64
	// ClientReadTimeout: connections closed with a request that did not
	// arrive whole within client_read_timeout.
	ClientReadTimeout uint64
	// ClientIdleTimeout: connections closed after client_idle_timeout
	// without a request.
	ClientIdleTimeout uint64
	// PubSubHard and PubSubSoft: pub/sub subscribers closed for leaving
	// more than pubsub_output_buffer_hard_limit unread, or more than
	// pubsub_output_buffer_soft_limit for pubsub_output_buffer_soft_seconds.
	PubSubHard, PubSubSoft uint64
}

// Stats returns the node's counters.
func (s *Server) Stats() NodeStats {
	return NodeStats{
		ClientConnections:      s.clientConns.Load(),
		ClientConnectionsTotal: s.clientTotal.Load(),
		Datastore:              s.backend.Stats(),
		ReadFailovers:          s.cluster.readFailovers.Load(),
		RemoteFailovers:        s.cluster.remoteFailovers.Load(),
		RemoteDropped:          s.cluster.remoteDropped.Load(),
		QuorumFailures:         s.cluster.quorumFailures.Load(),
		ReadCopiesNotSent:      s.cluster.copiesNotSent.Load(),
		InFlight:               s.inFlight.Load(),
		ReadRepairs: ReadRepairStats{
			ByTimestamp:  s.cluster.repairs.byTimestamp.Load(),
			ByMajority:   s.cluster.repairs.byMajority.Load(),
			WritesFailed: s.cluster.repairs.writesFailed.Load(),
			Cleanups:     s.cluster.repairs.cleanups.Load(),
		},
		HintsSuperseded: s.cluster.hintsSuperseded.Load(),
		Limits: LimitStats{
			MaxClientConnections: s.rejectedConns.Load(),
			MaxRequestBytes:      s.rejectedLarge.Load(),
			MaxBufferedBytes:     s.rejectedBuffered.Load(),
			ClientReadTimeout:    s.closedSlow.Load(),
			ClientIdleTimeout:    s.closedIdle.Load(),
			PubSubHard:           s.pubsubClosedHard.Load(),
			PubSubSoft:           s.pubsubClosedSoft.Load(),
		},
	}
}

// PeerStats pairs a peer's status with its connection pool's counters.
type PeerStats struct {
	PeerStatus
	Scope PeerScope
	Pool  backend.Stats
}

// PeerStats lists every other node with its counters.
func (s *Server) PeerStats() []PeerStats {
	st := s.cluster.state.Load()
	local := st.topo.Local()
	var out []PeerStats
	for i, ps := range s.Peers() {
		if ps.Local {
			continue
		}
		scope := ScopeCrossDC
		if ps.DC == local.DC {
			scope = ScopeCrossRack
			if ps.Rack == local.Rack {
				scope = ScopeSameRack
			}
		}
		out = append(out, PeerStats{PeerStatus: ps, Scope: scope, Pool: st.pools[i].Stats()})
	}
	return out
}

// Pool is the pool name (the configuration's root key).
func (s *Server) Pool() string { return s.opts.Pool }

// DatastoreName is the datastore's name in stats (upstream's rule).
func (s *Server) DatastoreName() string { return s.live.Load().DatastoreName }

// Proto is the node's protocol.
func (s *Server) Proto() msg.Proto { return s.opts.Proto }

// Place is the node's datacenter and rack.
func (s *Server) Place() (dc, rack string) { return s.opts.DC, s.opts.Rack }
