package proxy

import (
	"crypto/sha256"
	"fmt"
	"net"
	"time"

	"github.com/dynomite-go/dynomite/proxy/backend"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Live is the part of Options a configuration reload changes on a running
// server ([Server.Reload]); the fields mean what Options' fields of the
// same names mean, and zero values take the same defaults.
//
// The request path reads them from an immutable snapshot behind an
// atomic pointer (Server.live), as it reads the ring (cluster.state): no
// lock, no allocation, and a reload is one pointer swap that a request
// sees whole or not at all.
type Live struct {
	ReadLevel, WriteLevel consistency.Level
	ReadRepairs           bool

	Timeout, RetryTimeout time.Duration
	AutoEject             bool
	FailureLimit          int

	Datastore, DatastoreName string
	DatastoreConns           int
	DatastorePassword        string

	RequirePass string
	Users       []User

	MaxClientConns, MaxRequestBytes, MaxInflight int
	MaxBufferedBytes                             int64
	ClientIdleTimeout, ClientReadTimeout         time.Duration
	AdminToken                                   string
	PubSubLimits                                 PubSubLimits
}

// Live returns the live part of o.
func (o *Options) Live() Live {
	return Live{
		ReadLevel: o.ReadLevel, WriteLevel: o.WriteLevel, ReadRepairs: o.ReadRepairs,
		Timeout: o.Timeout, RetryTimeout: o.RetryTimeout, AutoEject: o.AutoEject, FailureLimit: o.FailureLimit,
		Datastore: o.Datastore, DatastoreName: o.DatastoreName, DatastoreConns: o.DatastoreConns, DatastorePassword: o.DatastorePassword,
		RequirePass: o.RequirePass, Users: o.Users,
		MaxClientConns: o.MaxClientConns, MaxRequestBytes: o.MaxRequestBytes, MaxInflight: o.MaxInflight,
		MaxBufferedBytes: o.MaxBufferedBytes, ClientIdleTimeout: o.ClientIdleTimeout, ClientReadTimeout: o.ClientReadTimeout,
		AdminToken: o.AdminToken, PubSubLimits: o.PubSubLimits,
	}
}

// Live returns the live settings in force (with New's defaults filled in).
func (s *Server) Live() Live { return s.live.Load().Live }

// withDefaults fills the zero values as New does.
func (l Live) withDefaults() Live {
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = 512<<20 + 64<<10
	}
	if l.Timeout <= 0 {
		l.Timeout = 5 * time.Second
	}
	if l.MaxInflight <= 0 {
		l.MaxInflight = inflightLen
	}
	if l.MaxBufferedBytes <= 0 {
		l.MaxBufferedBytes = 1 << 30
	}
	l.PubSubLimits = l.PubSubLimits.withDefaults()
	return l
}

// liveState is one immutable snapshot of the live settings, with what is
// derived from them once.
type liveState struct {
	Live
	// defaultPW is requirepass's digest (nil without one), users the named
	// users' (client_users); with either, clients must authenticate
	defaultPW *[sha256.Size]byte
	users     map[string][sha256.Size]byte
	// levelsSeq counts the reloads that changed the consistency levels: a
	// session that sees it move takes the new levels, unless it chose its
	// own (DYNO_CONFIG:CONN_CONSISTENCY)
	levelsSeq uint64
}

func newLiveState(l Live, proto msg.Proto) (*liveState, error) {
	st := &liveState{Live: l.withDefaults()}
	if l.RequirePass != "" {
		d := sha256.Sum256([]byte(l.RequirePass))
		st.defaultPW = &d
	}
	if proto == msg.Redis && len(l.Users) > 0 {
		st.users = make(map[string][sha256.Size]byte, len(l.Users))
		for _, u := range l.Users {
			if u.Name == "" || u.Name == "default" {
				return nil, fmt.Errorf("client_users: user %q: the name must be set and not default (requirepass's)", u.Name)
			}
			st.users[u.Name] = u.Digest
		}
	}
	return st, nil
}

// datastoreTarget is where the datastore pool connects for l.
func (l *Live) datastoreTarget(proto msg.Proto) backend.Target {
	var init func(net.Conn) error
	if l.DatastorePassword != "" && proto == msg.Redis {
		init = datastoreAuth(l.DatastorePassword)
	}
	network, addr := splitNetwork(l.Datastore)
	return backend.Target{Name: l.DatastoreName, Network: network, Addr: addr, Conns: l.DatastoreConns, Init: init}
}

// tuning is the datastore pool's tuning for l.
func (l *Live) tuning() backend.Tuning {
	return backend.Tuning{Timeout: l.Timeout, RetryTimeout: l.RetryTimeout, AutoEject: l.AutoEject, FailureLimit: l.FailureLimit}
}

// Reload applies l to the running server, as a whole or not at all: it
// returns an error, and changes nothing, when l is invalid or when the
// datastore changed and the new one does not accept its connections
// within the timeout (the pool stays on the old one). Otherwise:
//
//   - a new datastore address, connection count or datastore_password
//     moves the datastore pool (backend.Pool.Retarget: requests already
//     sent finish on the old connections);
//   - timeouts and ejection rules apply to the datastore and peer pools at
//     their next check;
//   - changed consistency levels become the node-wide levels, and every
//     open connection takes them for its next request unless it set its
//     own with DYNO_CONFIG:CONN_CONSISTENCY; a changed read_repairs_enabled
//     turns read repair on or off for the next request;
//   - requirepass and client_users apply to the next AUTH (connections
//     already authenticated stay so); the client limits and timeouts to
//     the next connection, request or read; max_request_bytes and
//     max_inflight_requests to connections accepted afterwards.
//
// Settings Reload does not know (listeners, ring, protocol) need a new
// Server; the caller refuses such changes before calling it.
func (s *Server) Reload(l Live) error {
	s.reloadMu.Lock() // two at once would both compare against the same snapshot
	defer s.reloadMu.Unlock()
	next, err := newLiveState(l, s.opts.Proto)
	if err != nil {
		return err
	}
	cur := s.live.Load()
	nt, ct := next.datastoreTarget(s.opts.Proto), cur.datastoreTarget(s.opts.Proto)
	if nt.Addr != ct.Addr || nt.Network != ct.Network || nt.Conns != ct.Conns || nt.Name != ct.Name ||
		next.DatastorePassword != cur.DatastorePassword {
		// tuned first, so that the new connections dial with the new timeout
		s.backend.SetTuning(next.tuning())
		if err := s.backend.Retarget(nt); err != nil {
			s.backend.SetTuning(cur.tuning())
			return fmt.Errorf("servers: %w", err)
		}
	}
	next.levelsSeq = cur.levelsSeq
	if next.ReadLevel != cur.ReadLevel || next.WriteLevel != cur.WriteLevel {
		s.SetConsistency(false, next.ReadLevel)
		s.SetConsistency(true, next.WriteLevel)
		next.levelsSeq++
	}
	if next.ReadRepairs != cur.ReadRepairs {
		// only a change of the file's value: a reload that leaves it alone
		// keeps what /read_repairs/enable|disable set
		s.SetReadRepairs(next.ReadRepairs)
	}
	s.live.Store(next)
	s.backend.SetTuning(next.tuning())
	if next.Timeout != cur.Timeout {
		s.cluster.retune()
	}
	return nil
}

// followLevels is called for each request a session forwards: when a
// reload changed the levels since the session last looked, it takes them,
// unless the client chose its own. One atomic load and a compare.
func (ss *session) followLevels(l *liveState) {
	if l.levelsSeq == ss.levelsSeq {
		return
	}
	ss.levelsSeq = l.levelsSeq
	if !ss.ownLevels {
		ss.rl, ss.wl = l.ReadLevel, l.WriteLevel
	}
}

// retune gives every peer pool the timeout derived from the current
// `timeout` (peerTimeout), under mu so that a membership change does not
// slip a pool past it.
func (c *cluster) retune() {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state.Load()
	local := st.topo.Local()
	for i, p := range st.pools {
		if p == nil {
			continue
		}
		t := p.Tuning()
		t.Timeout = c.peerTimeout(st.topo.Node(i).DC == local.DC)
		p.SetTuning(t)
	}
}
