package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// applyFlagDefaults: -m and -M apply only when the file leaves mbuf_size and
// max_msgs unset, as upstream.
func applyFlagDefaults(cfg *config.Config, f *flags) {
	if !cfg.IsSet("mbuf_size") {
		cfg.MbufSize = f.mbufSize
	}
	if !cfg.IsSet("max_msgs") {
		cfg.MaxMsgs = f.maxMsgs
	}
}

// options maps the configuration onto the proxy's options.
func options(cfg *config.Config, log *slog.Logger) proxy.Options {
	ds := cfg.Servers[0]
	proto := msg.Redis
	if cfg.DataStore == config.DataStoreMemcache {
		proto = msg.Memcache
	}
	return proxy.Options{
		Pool:           cfg.Pool,
		Proto:          proto,
		Listen:         cfg.Listen.String(),
		Backlog:        cfg.Backlog,
		Datastore:      ds.Endpoint.String(),
		DatastoreName:  ds.StatsName(),
		DatastoreConns: cfg.DatastoreConnections,
		Timeout:        cfg.Timeout,
		RetryTimeout:   cfg.ServerRetryTimeout,
		Preconnect:     cfg.Preconnect,
		AutoEject:      cfg.AutoEjectHosts,
		FailureLimit:   cfg.ServerFailureLimit,
		Logger:         log,

		DynListen:       cfg.DynListen.String(),
		DC:              cfg.Datacenter,
		Rack:            cfg.Rack,
		Tokens:          cfg.Tokens,
		Peers:           peers(cfg),
		Hash:            cfg.Hash.String(),
		HashTag:         cfg.HashTag,
		ReadLevel:       cfg.ReadConsistency,
		WriteLevel:      cfg.WriteConsistency,
		LocalPeerConns:  cfg.LocalPeerConnections,
		RemotePeerConns: cfg.RemotePeerConnections,

		RequirePass:       cfg.RequirePass,
		Users:             users(cfg.ClientUsers),
		DatastorePassword: cfg.DatastorePassword,
		MaxClientConns:    cfg.MaxClientConnections,
		MaxRequestBytes:   cfg.MaxRequestBytes,
		MaxInflight:       cfg.MaxInflightRequests,
		MaxBufferedBytes:  int64(cfg.MaxBufferedBytes),
		ClientIdleTimeout: cfg.ClientIdleTimeout,
		ClientReadTimeout: cfg.ClientReadTimeout,
		AdminToken:        cfg.StatsAdminToken,
	}
}

// peers maps dyn_seeds; a seed is named by its host:port, as upstream.
func peers(cfg *config.Config) []proxy.Peer {
	out := make([]proxy.Peer, 0, len(cfg.DynSeeds))
	for _, s := range cfg.DynSeeds {
		out = append(out, proxy.Peer{Name: s.Addr(), Addr: s.Addr(), DC: s.DC, Rack: s.Rack, Tokens: s.Tokens})
	}
	return out
}

type healthOf struct{ s *proxy.Server }

func (h healthOf) Healthy() (bool, string) {
	if !h.s.Backend().Up() {
		return false, "datastore not connected"
	}
	return true, ""
}

// serve runs the node and its stats listener until ctx ends.
func serve(ctx context.Context, cfg *config.Config, f *flags, log *slog.Logger, level *slog.LevelVar) error {
	if err := validateProvider(cfg); err != nil {
		return err
	}
	info, err := detectEnv(ctx, cfg, log)
	if err != nil {
		return err
	}
	provider, err := newProvider(ctx, cfg, info)
	if err != nil {
		return err
	}
	opts := options(cfg, log)
	opts.AdminMode = f.admin
	certs, err := setupTLS(cfg, &opts)
	if err != nil {
		return err
	}
	certReload.Store(&certs)
	m, reg := setupMetrics(&opts, opts.DC, opts.Rack)
	defer m.Close()
	srv, err := proxy.New(opts)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	stats := admin.New(cfg.StatsListen.String(), healthOf{srv}, log)
	admin.RegisterCluster(stats, srv.Admin(), logControl{level})
	attachMetrics(m, reg, srv, stats)
	if provider != nil {
		registerSeedMetrics(m, provider.Name())
	}
	if cfg.EnableGossip {
		if err := registerGossipMetrics(m); err != nil {
			return err
		}
	}
	if err := stats.Listen(); err != nil {
		return err
	}
	if f.admin > 0 {
		log.Info("admin operation mode", "x", f.admin)
	}
	var mem *membership
	if provider != nil {
		mem = newMembership(cfg, info, srv, log)
	}
	stopGossip, err := startGossip(ctx, cfg, srv, log, mem)
	if err != nil {
		return err
	}
	defer stopGossip()
	errc := make(chan error, 2)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- stats.Serve(sctx) }()
	go func() { errc <- srv.Serve(sctx) }()
	if provider != nil {
		go func() { _ = runSeeds(sctx, cfg, provider, mem, log) }()
	}
	first := <-errc
	cancel()
	second := <-errc
	if first != nil {
		return first
	}
	return second
}

// runHealth is the container healthcheck: `dynomite health` asks the stats
// listener whether the node serves (the image has no shell or curl).
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("health", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:22222", "stats listener of the node")
	timeout := fs.Duration("timeout", 3*time.Second, "request timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := &http.Client{Timeout: *timeout}
	res, err := c.Get("http://" + *addr + "/health")
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "%v: %s: %s\n", errUnhealthy, res.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "healthy\n")
	return 0
}

// describeStats prints every metric with its description, as `-D` does
// upstream (there: pool and server stats; here: the Prometheus metrics and
// the /info fields).
func describeStats(w io.Writer) { metrics.Describe(w, version) }

// certReload holds the node's reloadable certificates once it is wired.
var certReload atomic.Pointer[reloaders]

// reloadCerts is called on SIGHUP.
func reloadCerts(log *slog.Logger) {
	if rs := certReload.Load(); rs != nil {
		rs.reload(log)
	}
}

// logControl serves /setloglevel, /loglevelup and /logleveldown.
type logControl struct{ level *slog.LevelVar }

func (l logControl) SetVerbosity(v int) bool {
	if v < 0 || v > 11 {
		return false
	}
	l.level.Set(levelFor(v))
	return true
}

func (l logControl) Adjust(delta int) { l.level.Set(l.level.Level() - slog.Level(delta)) }

// users converts client_users for the proxy.
func users(in []config.User) []proxy.User {
	out := make([]proxy.User, len(in))
	for i, u := range in {
		out[i] = proxy.User{Name: u.Name, Digest: u.Digest}
	}
	return out
}
