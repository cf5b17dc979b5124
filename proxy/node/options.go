package node

import (
	"log/slog"
	"time"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/hints"
	"github.com/dynomite-go/dynomite/proxy/membership"
)

// proxyOptions maps the configuration onto the proxy's options; the TLS
// parts are setupTLS's, the observer is setupMetrics's.
func proxyOptions(cfg *config.Config, log *slog.Logger) proxy.Options {
	ds := cfg.Servers[0]
	return proxy.Options{
		Pool:           cfg.Pool,
		Proto:          cfg.DataStore,
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
		Tokens:          membership.Tokens(cfg.Tokens),
		Peers:           membership.Peers(cfg.DynSeeds),
		Hash:            cfg.Hash.String(),
		HashTag:         cfg.HashTag,
		ReadLevel:       cfg.ReadConsistency,
		WriteLevel:      cfg.WriteConsistency,
		LocalPeerConns:  cfg.LocalPeerConnections,
		RemotePeerConns: cfg.RemotePeerConnections,
		ReadRepairs:     cfg.ReadRepairsEnabled,

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
		AllowFlush:        cfg.AllowFlush,

		HintsDir:       cfg.HintsDir,
		HintsFsync:     hintsFsync(cfg.HintsFsync),
		MaxHintWindow:  cfg.MaxHintWindow,
		MaxHintsBytes:  int64(cfg.MaxHintsBytes),
		HintReplayRate: int64(cfg.HintReplayRate),
		PubSubLimits: proxy.PubSubLimits{
			Hard:    offLimit(int64(cfg.PubSubOutputBufferHardLimit)),
			Soft:    offLimit(int64(cfg.PubSubOutputBufferSoftLimit)),
			SoftFor: time.Duration(offLimit(int64(cfg.PubSubOutputBufferSoftSeconds))) * time.Second,
		},
	}
}

// hintsFsync maps hints_fsync, which the configuration has checked.
func hintsFsync(s string) hints.Fsync {
	f, _ := hints.ParseFsync(s)
	return f
}

// offLimit maps a limit key's 0 (off) onto the proxy's -1 (its 0 is "the
// default").
func offLimit(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

// users converts client_users for the proxy.
func users(in []config.User) []proxy.User {
	out := make([]proxy.User, len(in))
	for i, u := range in {
		out[i] = proxy.User{Name: u.Name, Digest: u.Digest}
	}
	return out
}
