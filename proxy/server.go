package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/backend"
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/drain"
	"github.com/dynomite-go/dynomite/proxy/hints"
	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/netio"
	"github.com/dynomite-go/dynomite/proxy/pubsub"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Options is everything a node needs to serve, already validated (the
// command maps the YAML configuration onto it).
type Options struct {
	// Pool is the pool name (the configuration's root key).
	Pool string
	// Proto is the client and datastore protocol (data_store).
	Proto msg.Proto
	// Listen is the client listener: host:port or a unix socket path.
	Listen string
	// Backlog is the listen backlog (informational: Go uses the system's).
	Backlog int
	// Datastore is the local datastore: host:port or a unix socket path.
	Datastore string
	// DatastoreName names it in logs and stats.
	DatastoreName string
	// DatastoreConns is datastore_connections.
	DatastoreConns int
	// Timeout is the datastore request timeout.
	Timeout time.Duration
	// RetryTimeout is server_retry_timeout.
	RetryTimeout time.Duration
	// Preconnect, AutoEject and FailureLimit map the keys of the same names.
	Preconnect   bool
	AutoEject    bool
	FailureLimit int
	// MaxRequestBytes caps one client request (default 512 MiB + 64 KiB).
	MaxRequestBytes int
	// ShutdownGrace bounds the drain when the node stops: how long the
	// requests already read (and their copies to peers) may take to finish
	// and their replies to be written (default Timeout + 1s). What is left
	// then is cut.
	ShutdownGrace time.Duration
	// Logger is the node's logger.
	Logger *slog.Logger

	// Cluster settings. With no Peers and no DynListen the node serves alone.
	// LocalName names this node in the ring (default: DynListen).
	LocalName string
	// DynListen is the peer listener (dyn_listen).
	DynListen string
	// DC, Rack and Tokens place this node.
	DC, Rack string
	Tokens   []ring.Token
	// Peers are the other nodes (dyn_seeds).
	Peers []Peer
	// Hash and HashTag map keys to tokens (upstream's names).
	Hash, HashTag string
	// ReadLevel and WriteLevel are the initial consistency levels.
	ReadLevel, WriteLevel consistency.Level
	// LocalPeerConns and RemotePeerConns are connections per peer.
	LocalPeerConns, RemotePeerConns int
	// AdminMode is -x.
	AdminMode int
	// Observer receives per-request measurements (metrics); nil for none.
	Observer Observer
	// ReadRepairs is read_repairs_enabled: the initial state of read
	// repair (/read_repairs/enable and /disable change it). It acts only
	// while both node-wide levels are above DC_ONE, as upstream.
	ReadRepairs bool
	// Clock stamps the writes this node coordinates (nil: a new one).
	Clock *hlc.Clock

	// Security and limits.
	// RequirePass is the password Redis clients must AUTH with ("" = none).
	RequirePass string
	// Users are further named users Redis clients may AUTH as (AUTH <name>
	// <password>, HELLO ... AUTH <name> <password>). With users and no
	// RequirePass, clients must authenticate as one of them.
	Users []User
	// DatastorePassword is sent to the local Redis on every connection.
	DatastorePassword string
	// MaxClientConns caps client connections (0 = unlimited).
	MaxClientConns int
	// MaxInflight bounds the requests a client may have in flight; beyond
	// it the node stops reading from that client (back-pressure).
	MaxInflight int
	// MaxBufferedBytes caps the bytes of all requests in flight; beyond it
	// requests get an error reply.
	MaxBufferedBytes int64
	// ClientIdleTimeout closes connections idle that long (0 = never);
	// ClientReadTimeout closes those that take longer to send one request.
	ClientIdleTimeout, ClientReadTimeout time.Duration
	// AdminToken protects the stats listener's runtime-changing endpoints.
	AdminToken string
	// AllowFlush lets FLUSHDB and FLUSHALL through, to every node of the
	// cluster (allow_flush).
	AllowFlush bool

	// ClientTLSListen and ClientTLS: an optional TLS client listener.
	ClientTLSListen string
	ClientTLS       *tls.Config
	// PeerTLSServer/PeerTLSClient secure the peer links that
	// SecureOption (secure_server_option) selects.
	PeerTLSServer, PeerTLSClient *tls.Config
	SecureOption                 string

	// Hinted handoff (proxy/hints): HintsDir holds the hints ("" = off);
	// HintsFsync, MaxHintWindow (0: no limit), MaxHintsBytes (per target,
	// 0: 1 GiB) and HintReplayRate (bytes a second per target, 0:
	// unthrottled) are hints_fsync, max_hint_window, max_hints_bytes and
	// hint_replay_rate.
	HintsDir       string
	HintsFsync     hints.Fsync
	MaxHintWindow  time.Duration
	MaxHintsBytes  int64
	HintReplayRate int64
	// PubSubLimits bound what a Redis pub/sub subscriber may leave unread
	// (pubsub_output_buffer_*; zero fields: Redis's defaults).
	PubSubLimits PubSubLimits
}

// Server is one node: its client listener, its sessions and its datastore pool.
type Server struct {
	opts    Options
	log     *slog.Logger
	codec   codec
	backend *backend.Pool
	reqs    msg.Pool

	ln      net.Listener
	tlsLn   net.Listener
	peers   *dnode.Server // the peer listener (dyn_listen), nil without one
	cluster *cluster
	baseCtx context.Context
	// hangups watches the client sockets for their peer's shutdown
	// (session_lazy.go); nil: sessions read as net.Conn.Read does
	hangups *netio.Hangups
	// conns holds every open connection, client and peer: they drain
	// together when the node stops
	conns  drain.Group
	nextID atomic.Uint64

	inFlight atomic.Int64
	buffered atomic.Int64 // bytes of requests in flight (max_buffered_bytes)
	// fanouts counts fan-outs with copies outstanding: a stopping node
	// keeps its peer pools until they are done
	fanouts atomic.Int64
	// warming: the node is filling its datastore and routes its reads
	// elsewhere (warming.go)
	warming atomic.Bool
	// live is the settings a reload changes (live.go): read per request,
	// replaced whole by Reload
	live     atomic.Pointer[liveState]
	reloadMu sync.Mutex // one Reload at a time
	// clientAuth: sessions answer AUTH and check credentials (RESP only;
	// memcached's ASCII protocol has no AUTH command)
	clientAuth bool

	// pubsub holds this node's clients' subscriptions (Redis only)
	pubsub *pubsub.Registry

	// limit counters (NodeStats.Limits)
	rejectedConns, rejectedBuffered, rejectedLarge atomic.Uint64
	closedSlow, closedIdle                         atomic.Uint64
	pubsubClosedHard, pubsubClosedSoft             atomic.Uint64

	// counters for the stats listener
	clientConns atomic.Int64
	clientTotal atomic.Uint64

	// tracking is the client-side caching table (tracking.go)
	tracking tracker

	// sessions: the client sessions, whose idle writers a sweep retires
	// (session_writer.go)
	sessions sessionSet
}

// New builds a node from opts. Nothing is opened until Listen/Serve.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	live := opts.Live().withDefaults()
	opts.MaxRequestBytes, opts.Timeout, opts.MaxInflight, opts.MaxBufferedBytes = live.MaxRequestBytes, live.Timeout, live.MaxInflight, live.MaxBufferedBytes
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = opts.Timeout + time.Second
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	s := &Server{opts: opts, log: opts.Logger.With("component", "proxy")}
	switch opts.Proto {
	case msg.Redis:
		s.codec = newRedisCodec(opts.MaxRequestBytes)
		s.clientAuth = true
		s.pubsub = pubsub.New()
	case msg.Memcache:
		s.codec = newMemcacheCodec(opts.MaxRequestBytes)
	default:
		return nil, fmt.Errorf("data_store: unknown protocol %d", opts.Proto)
	}
	ls, err := newLiveState(live, opts.Proto)
	if err != nil {
		return nil, err
	}
	s.live.Store(ls)
	ds := live.datastoreTarget(opts.Proto)
	s.backend = backend.New(backend.Options{Init: ds.Init,
		Name: ds.Name, Network: ds.Network, Addr: ds.Addr,
		Conns: opts.DatastoreConns, Timeout: opts.Timeout, RetryTimeout: opts.RetryTimeout,
		Preconnect: opts.Preconnect, AutoEject: opts.AutoEject, FailureLimit: opts.FailureLimit,
		Parse: s.codec.parseReply, Logger: opts.Logger, Observe: opts.Observer.Datastore,
	})
	s.baseCtx = context.Background()
	if s.opts.DC == "" {
		s.opts.DC = "localdc"
	}
	if s.opts.Rack == "" {
		s.opts.Rack = "localrack"
	}
	if opts.DynListen == "" && opts.LocalName == "" {
		s.opts.LocalName = "local"
	} else if opts.LocalName == "" {
		s.opts.LocalName = opts.DynListen
	}
	if s.cluster, err = newCluster(s); err != nil {
		return nil, err
	}
	return s, nil
}

// splitNetwork tells a unix socket path from host:port.
func splitNetwork(addr string) (network, address string) {
	if len(addr) > 0 && addr[0] == '/' {
		return "unix", addr
	}
	return "tcp", addr
}

// Listen opens the client listener.
func (s *Server) Listen() error {
	network, addr := splitNetwork(s.opts.Listen)
	if network == "unix" {
		_ = os.Remove(addr)
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return fmt.Errorf("listen: %q: %w", s.opts.Listen, err)
	}
	s.ln = ln
	if s.opts.ClientTLSListen != "" && s.opts.ClientTLS != nil {
		tln, err := net.Listen("tcp", s.opts.ClientTLSListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("client_tls_listen: %q: %w", s.opts.ClientTLSListen, err)
		}
		s.tlsLn = tls.NewListener(tln, s.opts.ClientTLS)
	}
	if peers := s.newPeerServer(); peers != nil {
		if err := peers.Listen(s.opts.DynListen); err != nil {
			s.closeListeners()
			return err
		}
		s.peers = peers
	}
	return nil
}

// Close closes the listeners of a server that Listen opened and that will
// not Serve (Serve closes them itself when it stops).
func (s *Server) Close() {
	if s.ln != nil {
		s.closeListeners()
	}
}

// closeListeners closes every listener Listen opened.
func (s *Server) closeListeners() {
	s.ln.Close()
	if s.tlsLn != nil {
		s.tlsLn.Close()
	}
	if s.peers != nil {
		_ = s.peers.Close()
	}
}

// PeerAddr is the peer listener's address (after Listen), or nil.
func (s *Server) PeerAddr() net.Addr {
	if s.peers == nil {
		return nil
	}
	return s.peers.Addr()
}

// TLSAddr is the TLS client listener's address, or nil.
func (s *Server) TLSAddr() net.Addr {
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// Addr is the client listener's address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Backend exposes the datastore pool (stats, health).
func (s *Server) Backend() *backend.Pool { return s.backend }

// ClientConnections is the number of open client connections.
func (s *Server) ClientConnections() int64 { return s.clientConns.Load() }

// Serve runs the node until ctx ends, then stops gracefully (see
// [Server.shutdown]) and returns nil on a clean stop.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.baseCtx = context.WithoutCancel(ctx)
	if h, err := netio.NewHangups(); err != nil {
		// the sessions then read as net.Conn.Read does (session_lazy.go)
		s.log.Warn("client sockets read as net.Conn reads them", "err", err)
	} else {
		s.hangups = h
		defer h.Close() // after shutdown: every session has ended
	}
	s.backend.Start(s.baseCtx)
	s.cluster.start(s.baseCtx)
	s.log.Info("serving", "listen", s.ln.Addr().String(), "datastore", s.opts.Datastore, "proto", s.opts.Proto.String(),
		"dyn_listen", s.opts.DynListen, "dc", s.opts.DC, "rack", s.opts.Rack, "peers", len(s.opts.Peers))
	// every accept loop has returned before shutdown looks at the sessions,
	// so none is added behind its back
	var accepting sync.WaitGroup
	if s.peers != nil {
		accepting.Go(s.peers.Serve)
	}
	stopSweep := make(chan struct{})
	var sweeping sync.WaitGroup
	sweeping.Go(func() { s.sweepWriters(stopSweep) })
	acceptDone := make(chan error, 1)
	go func() { acceptDone <- s.acceptLoop(s.ln) }()
	if s.tlsLn != nil {
		accepting.Go(func() { _ = s.acceptLoop(s.tlsLn) })
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-acceptDone:
	}
	s.closeListeners()
	if err == nil {
		<-acceptDone
	}
	accepting.Wait()
	s.shutdown()
	close(stopSweep)
	sweeping.Wait()
	return err
}

func (s *Server) acceptLoop(ln net.Listener) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off, keep serving.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept on %s: %w", s.opts.Listen, err)
		}
		delay = 0
		if max := s.live.Load().MaxClientConns; max > 0 && s.clientConns.Load() >= int64(max) {
			// Redis's own words; the node keeps serving everyone else.
			s.rejectedConns.Add(1)
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = nc.Write(s.codec.errorLine(nil, "max number of clients reached (max_client_connections)"))
			nc.Close()
			continue
		}
		s.clientConns.Add(1)
		s.clientTotal.Add(1)
		s.track(nc, func(id uint) {
			defer s.clientConns.Add(-1)
			s.serveClient(nc, id)
		})
	}
}

// track runs serve for a new client connection in its own goroutine,
// registered so that shutdown can stop and wait for it.
func (s *Server) track(nc net.Conn, serve func(id uint)) {
	id := uint(s.nextID.Add(1))
	s.conns.Go(nc, func() { serve(id) })
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// shutdown drains the node once its listeners are closed (new connections
// are refused from then on).
//
// Every session, client or peer, stops reading at the next request
// boundary: a request half read is read to its end, nothing after it is
// read. The requests already read finish, with their copies to peers, and
// their replies are written and flushed. The session then closes gently
// (drain.Group.CloseGently): the client reads every reply and then EOF, and a request
// it sent meanwhile is dropped without resetting the connection. Peers see
// the same (proxy/dnode's Server joins its connections to the same
// drain.Group): their copies this node had not read yet fail as on a closed
// connection, and their fan-outs fail over or decide without this node by
// their consistency level.
//
// Only then are the peer pools and the datastore pool closed, once the
// fan-outs still replicating (remote datacenters' copies, whose client
// already has its reply) are done too. ShutdownGrace bounds the whole
// drain: at the deadline what is still in flight fails with "node is
// shutting down" (and a connection whose client does not read its replies
// is cut a second later).
func (s *Server) shutdown() {
	start := time.Now()
	deadline := start.Add(s.opts.ShutdownGrace)
	n := s.conns.Drain(deadline)
	s.log.Info("stopping: draining connections", "connections", n, "requests_in_flight", s.inFlight.Load(), "grace", s.opts.ShutdownGrace)
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		for s.fanouts.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		close(done)
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.Warn("shutdown grace period over, failing what is still in flight", "requests_in_flight", s.inFlight.Load(),
			"grace", s.opts.ShutdownGrace)
		// what is in flight fails with "node is shutting down", which the
		// sessions still write; a client that does not read is cut a
		// little later
		s.backend.Close()
		s.cluster.close()
		select {
		case <-done:
		case <-time.After(time.Second):
			s.conns.CloseAll()
			<-done
		}
	}
	s.cluster.close()
	s.backend.Close()
	s.log.Info("stopped", "drain", time.Since(start).Round(time.Millisecond))
}

// dispatch routes one client request: straight to the local datastore when
// the ring holds only this node, else through the cluster router.
func (s *Server) dispatch(r *msg.Request, hint uint, rl, wl consistency.Level) {
	if s.cluster.state.Load().single && s.cluster.nodeState.Load() == int32(StateNormal) {
		if s.opts.AdminMode == 1 && (r.Class == msg.ClassMultiKey || r.Flags.Has(msg.FlagDelete)) {
			s.cluster.adminDelete(s.cluster.state.Load(), r, hint)
			return
		}
		s.backend.Send(r, hint)
		return
	}
	if s.warming.Load() && s.cluster.routeWarming(r, hint, rl) {
		return // warming.go
	}
	s.cluster.route(r, hint, rl, wl)
}
