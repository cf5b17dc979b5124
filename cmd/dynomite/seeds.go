package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/dynomite-go/dynomite/env"
	envaws "github.com/dynomite-go/dynomite/env/aws"
	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/dns"
	"github.com/dynomite-go/dynomite/seedprovider/dnssrv"
	"github.com/dynomite-go/dynomite/seedprovider/ec2"
	"github.com/dynomite-go/dynomite/seedprovider/florida"
)

// seedMetrics are the running refresher's counters, for the metrics.
var seedMetrics atomic.Pointer[seedprovider.Metrics]

// validateProvider checks the selected provider's settings without any
// network traffic, naming the key (used by -t and at start).
func validateProvider(cfg *config.Config) error {
	switch cfg.DynSeedProvider {
	case dnssrv.Name:
		return dnssrv.Config{Name: cfg.DNSSRVName, Resolver: cfg.DNSSRVResolver, Timeout: cfg.DNSSRVTimeout}.Validate()
	case ec2.Name:
		return ec2.Config{Regions: ec2.ParseRegions(cfg.EC2Regions), ClusterTagKey: cfg.EC2ClusterTagKey,
			ClusterTagValue: cfg.EC2ClusterTagValue, PeerAddress: cfg.EC2PeerAddress, PeerPort: max(cfg.EC2PeerPort, 1),
			Endpoint: cfg.EC2Endpoint}.Validate()
	case florida.Name:
		_, err := florida.ConfigFromEnv(nil)
		return err
	case dns.Name:
		_, err := dns.ConfigFromEnv(nil)
		return err
	}
	return nil
}

// detectEnv fills datacenter and rack from the environment when the file
// asks for it: `env: aws` written in the file and datacenter or rack left
// out. Upstream's default env (aws) is not acted upon unless written, so a
// node never probes the instance metadata service by surprise.
func detectEnv(ctx context.Context, cfg *config.Config, log *slog.Logger) (env.Info, error) {
	known := env.Info{}
	if cfg.IsSet("datacenter") {
		known.Datacenter = cfg.Datacenter
	}
	if cfg.IsSet("rack") {
		known.Rack = cfg.Rack
	}
	if !cfg.IsSet("env") || cfg.Env != "aws" || (known.Datacenter != "" && known.Rack != "" && cfg.DynSeedProvider != ec2.Name) {
		return known, nil
	}
	info, err := envaws.New(envaws.Config{Known: known}).Detect(ctx)
	if err != nil {
		return known, fmt.Errorf("env: aws: %w", err)
	}
	if known.Datacenter == "" && info.Datacenter != "" {
		cfg.Datacenter = info.Datacenter
	}
	if known.Rack == "" && info.Rack != "" {
		cfg.Rack = info.Rack
	}
	log.Info("environment detected", "env", "aws", "datacenter", cfg.Datacenter, "rack", cfg.Rack, "private_ip", info.PrivateIP, "region", info.Region)
	return info, nil
}

// newProvider builds the seed provider dyn_seed_provider names; nil for
// simple_provider (static dyn_seeds, applied at start).
func newProvider(ctx context.Context, cfg *config.Config, info env.Info) (seedprovider.Provider, error) {
	switch cfg.DynSeedProvider {
	case florida.Name:
		fc, err := florida.ConfigFromEnv(nil)
		if err != nil {
			return nil, fmt.Errorf("dyn_seed_provider: %s: %w", florida.Name, err)
		}
		p, err := florida.New(fc, nil)
		if err != nil {
			return nil, err
		}
		return seedprovider.Resolving(p, nil), nil
	case dns.Name:
		dc, err := dns.ConfigFromEnv(nil)
		if err != nil {
			return nil, fmt.Errorf("dyn_seed_provider: %s: %w", dns.Name, err)
		}
		p, err := dns.New(dc)
		if err != nil {
			return nil, err
		}
		return seedprovider.Resolving(p, nil), nil
	case dnssrv.Name:
		// with gossip, a target without a TXT record is completed from gossip
		return dnssrv.New(dnssrv.Config{Name: cfg.DNSSRVName, Resolver: cfg.DNSSRVResolver, Timeout: cfg.DNSSRVTimeout, AddressOnly: cfg.EnableGossip})
	case ec2.Name:
		port := cfg.EC2PeerPort
		if !cfg.IsSet("ec2_peer_port") && cfg.DynListen.Port != 0 {
			port = cfg.DynListen.Port
		}
		return ec2.New(ctx, ec2.Config{
			Regions: ec2.ParseRegions(cfg.EC2Regions), ClusterTagKey: cfg.EC2ClusterTagKey,
			ClusterTagValue: cfg.EC2ClusterTagValue, PeerAddress: cfg.EC2PeerAddress, PeerPort: port,
			Endpoint: cfg.EC2Endpoint, LocalRegion: info.Region,
		})
	}
	return nil, nil
}

// isSelf tells this node's own entry in a provider's answer: its peer
// address, or its place and tokens.
func isSelf(cfg *config.Config, info env.Info, s seedprovider.Seed) bool {
	return isSelfAddr(cfg, info, s) || (s.DC == cfg.Datacenter && s.Rack == cfg.Rack && slices.Equal(s.Tokens, cfg.Tokens))
}

// isSelfAddr tells an entry with this node's peer address: dyn_listen's
// host, or the private IP the environment reported, with dyn_listen's port.
func isSelfAddr(cfg *config.Config, info env.Info, s seedprovider.Seed) bool {
	return s.Port == cfg.DynListen.Port && (s.Host == cfg.DynListen.Host || (info.PrivateIP != "" && s.Host == info.PrivateIP))
}

// peersFrom turns a provider's seeds into the proxy's peers.
func peersFrom(cfg *config.Config, info env.Info, seeds []seedprovider.Seed) []proxy.Peer {
	out := make([]proxy.Peer, 0, len(seeds))
	for _, s := range seeds {
		if isSelf(cfg, info, s) {
			continue
		}
		addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
		out = append(out, proxy.Peer{Name: addr, Addr: addr, DC: s.DC, Rack: s.Rack, Tokens: s.Tokens})
	}
	return out
}

// runSeeds polls the provider every gos_interval and hands each new view
// to mem, which applies it to the running node (completed by gossip, when
// on).
func runSeeds(ctx context.Context, cfg *config.Config, p seedprovider.Provider, mem *membership, log *slog.Logger) error {
	r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{
		Interval: cfg.GosInterval,
		// gos_interval is honoured as written; upstream also rate-limits to
		// 30 s, which would make a 1 s interval in a test cluster useless.
		MinInterval: -1,
		Logger:      log, // the refresher adds component=seedprovider and provider
		OnChange:    func(s seedprovider.Snapshot) { mem.setSeeds(s.Seeds) },
	})
	if err != nil {
		return err
	}
	seedMetrics.Store(r.Metrics())
	return r.Run(ctx)
}
