package node

import (
	"context"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/dynomite-go/dynomite/env"
	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/membership"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// Option adjusts what New builds.
type Option func(*settings)

type settings struct {
	log       *slog.Logger
	version   string
	logs      admin.LogControl
	adminMode int
	tune      func(*proxy.Options)
	confFile  string
	peerStats func(peer string) string // warmup.go
}

// WithLogger sets the logger of every component (default: discard).
func WithLogger(log *slog.Logger) Option { return func(s *settings) { s.log = log } }

// WithVersion sets the version dynomite_build_info and /info report.
func WithVersion(v string) Option { return func(s *settings) { s.version = v } }

// WithLogControl lets the stats listener's /setloglevel, /loglevelup and
// /logleveldown change the log level (the command owns the level).
func WithLogControl(lc admin.LogControl) Option { return func(s *settings) { s.logs = lc } }

// WithAdminMode sets upstream's admin operation mode (-x; 1: deletes only
// on the local node).
func WithAdminMode(x int) Option { return func(s *settings) { s.adminMode = x } }

// WithProxyOptions adjusts the proxy's options after they were derived
// from the configuration, for what the file cannot say (tests).
func WithProxyOptions(f func(*proxy.Options)) Option { return func(s *settings) { s.tune = f } }

// Node is one running Dynomite node: the proxy (client and peer
// listeners), its stats listener with the metrics, and its membership
// (seed provider and gossip).
type Node struct {
	log        *slog.Logger
	adminMode  int
	srv        *proxy.Server
	stats      *admin.Server
	metrics    *metrics.Metrics
	reg        *prometheus.Registry
	certs      reloaders
	membership *membership.Membership
	listening  bool
	reload     reloader  // reload.go
	warm       *warmer   // warmup.go
	repair     *repairer // repair.go
	scale      *scaler   // scale.go
}

// Validate checks what New checks beyond config.Parse without any network
// traffic: the seed provider's settings (used by -t).
func Validate(cfg *config.Config) error { return membership.ValidateProvider(cfg) }

// New builds a node from cfg without opening any socket. It may detect the
// datacenter and rack from the environment (env: aws, see
// membership.DetectEnv), which updates cfg, and may reach the seed
// provider's API to set up its client (ec2_provider); ctx bounds both.
func New(ctx context.Context, cfg *config.Config, opts ...Option) (*Node, error) {
	s := settings{log: slog.New(slog.DiscardHandler), version: "dev"}
	for _, o := range opts {
		o(&s)
	}
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	info, err := membership.DetectEnv(ctx, cfg, s.log)
	if err != nil {
		return nil, err
	}
	po := proxyOptions(cfg, s.log)
	po.AdminMode = s.adminMode
	certs, err := setupTLS(cfg, &po)
	if err != nil {
		return nil, err
	}
	if s.tune != nil {
		s.tune(&po)
	}
	m, reg := setupMetrics(&po, s.version)
	n := &Node{log: s.log, adminMode: s.adminMode, metrics: m, reg: reg, certs: certs}
	if err := n.build(ctx, cfg, info, po, s); err != nil {
		m.Close()
		return nil, err
	}
	n.initReload(cfg, s.confFile, s.logs)
	return n, nil
}

// build is the part of New whose failure must close the metrics.
func (n *Node) build(ctx context.Context, cfg *config.Config, info env.Info, po proxy.Options, s settings) error {
	srv, err := proxy.New(po)
	if err != nil {
		return err
	}
	n.srv = srv
	n.stats = admin.New(cfg.StatsListen.String(), healthOf{srv}, s.log)
	admin.RegisterCluster(n.stats, clusterView{srv.Admin(), n}, s.logs)
	admin.RegisterProfiling(n.stats, srv.Admin().AdminToken)
	attachMetrics(n.metrics, n.reg, srv, n.stats)
	if n.membership, err = membership.New(ctx, cfg, info, srv, s.log); err != nil {
		return err
	}
	n.warm = newWarmer(n, cfg, s.peerStats)
	admin.RegisterWarmup(n.stats, srv.Admin(), n.warm.start, n.datastore)
	// repairs share the warm-ups' throttle and their way of finding a
	// peer's datastore (GET /datastore)
	n.repair = newRepairer(cfg, srv, n.metrics.Jobs(), n.warm.throttle, n.warm.datastoreOf, s.log)
	admin.RegisterRepair(n.stats, srv.Admin(), n.repair)
	if err := registerRepairMetrics(n.metrics.Registerer(), n.repair); err != nil {
		return err
	}
	n.scale = newScaler(n)
	admin.RegisterScale(n.stats, srv.Admin(), n.scale)
	admin.RegisterOps(n.stats, srv.Ops(), readiness{srv, n.membership, po.Preconnect && n.adminMode == 0, uint64(max(cfg.ServerFailureLimit, 1))}, n.advertisedHost)
	if name := n.membership.Provider(); name != "" {
		registerSeedMetrics(n.metrics, name, n.membership.SeedMetrics())
	}
	if cfg.EnableGossip {
		return registerGossipMetrics(n.metrics, n.membership)
	}
	return nil
}

// Listen opens the client, peer and stats listeners; Run calls it when it
// was not called before. Call it first to learn the bound addresses.
func (n *Node) Listen() error {
	if n.listening {
		return nil
	}
	if err := n.srv.Listen(); err != nil {
		return err
	}
	if err := n.stats.Listen(); err != nil {
		n.srv.Close()
		return err
	}
	n.listening = true
	return nil
}

// Run serves until ctx ends or a component fails, then stops every
// component and returns the first error (nil on a clean stop). The
// components (the proxy, the stats listener, the membership: seed
// provider and gossip, the warm-ups) run in one errgroup; any of them returning, even
// without an error, stops the others. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	defer n.metrics.Close()
	if err := n.Listen(); err != nil {
		return err
	}
	if n.adminMode > 0 {
		n.log.Info("admin operation mode", "x", n.adminMode)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range []func(context.Context) error{n.stats.Serve, n.srv.Serve, n.membership.Run, n.warm.run, n.repair.run, n.scale.run} {
		g.Go(func() error {
			defer stop()
			return run(gctx)
		})
	}
	return g.Wait()
}

// Reload is what SIGHUP does: with a configuration file (WithConfigFile),
// ReloadConfig (the file and the TLS certificates); without one, the TLS
// certificates only. Nothing drops connections; what fails to load is
// logged and the configuration or certificate in force kept.
func (n *Node) Reload() {
	if n.reload.path == "" {
		n.certs.reload(n.log)
		return
	}
	n.ReloadConfig()
}

// Server is the node's proxy.
func (n *Node) Server() *proxy.Server { return n.srv }

// Addr is the client listener's address (after Listen).
func (n *Node) Addr() net.Addr { return n.srv.Addr() }

// StatsAddr is the stats listener's address (after Listen).
func (n *Node) StatsAddr() net.Addr { return n.stats.Addr() }

// Metrics are the node's metrics; Registry is the registry they are
// gathered from (GET /metrics).
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// Registry is the node's Prometheus registry.
func (n *Node) Registry() *prometheus.Registry { return n.reg }

// StreamThrottle is the throttle every data movement of the node shares
// (stream_keys_per_sec, stream_bytes_per_sec; a reload changes it).
func (n *Node) StreamThrottle() *stream.Throttle { return n.warm.throttle }

// Jobs is the node's registry of data-movement jobs (GET /streams).
func (n *Node) Jobs() *jobs.Registry { return n.metrics.Jobs() }

// Membership is the node's seed provider and gossip.
func (n *Node) Membership() *membership.Membership { return n.membership }

// healthOf answers /health: the node serves once its datastore is
// connected.
type healthOf struct{ s *proxy.Server }

func (h healthOf) Healthy() (bool, string) {
	if !h.s.Backend().Up() {
		return false, "datastore not connected"
	}
	return true, ""
}
