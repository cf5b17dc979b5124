package membership

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/dynomite-go/dynomite/env"
	envaws "github.com/dynomite-go/dynomite/env/aws"
	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/dns"
	"github.com/dynomite-go/dynomite/seedprovider/dnssrv"
	"github.com/dynomite-go/dynomite/seedprovider/ec2"
	"github.com/dynomite-go/dynomite/seedprovider/florida"
)

// ValidateProvider checks the selected seed provider's settings without any
// network traffic (used by -t and at start). The error names
// dyn_seed_provider and the provider.
func ValidateProvider(cfg *config.Config) error {
	if err := validateProvider(cfg); err != nil {
		return fmt.Errorf("dyn_seed_provider: %s: %w", cfg.DynSeedProvider, err)
	}
	return nil
}

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

// DetectEnv fills datacenter and rack from the environment when the file
// asks for it: `env: aws` written in the file and datacenter or rack left
// out. Upstream's default env (aws) is not acted upon unless written, so a
// node never probes the instance metadata service by surprise. Call it
// before the proxy's options are derived from cfg: it may set
// cfg.Datacenter and cfg.Rack.
func DetectEnv(ctx context.Context, cfg *config.Config, log *slog.Logger) (env.Info, error) {
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
// simple_provider (static dyn_seeds, given to the proxy at start).
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

// Peers turns seeds (dyn_seeds, or a provider's answer) into the proxy's
// peers; a seed is named by its host:port, as upstream.
func Peers(seeds []seedprovider.Seed) []proxy.Peer {
	out := make([]proxy.Peer, 0, len(seeds))
	for _, s := range seeds {
		out = append(out, peer(s.Addr(), s.DC, s.Rack, s.Tokens))
	}
	return out
}

// peer is the one place a seed or a gossip member becomes a ring peer: the
// peer is named by the address it is dialled at (its dyn_listen host:port).
func peer(addr, dc, rack string, tokens []uint32) proxy.Peer {
	return proxy.Peer{Name: addr, Addr: addr, DC: dc, Rack: rack, Tokens: Tokens(tokens)}
}

// Tokens is the one place tokens as the configuration and the seed
// providers parse them (config.ParseTokens) become ring tokens; the node's
// own tokens go through it too.
func Tokens(ts []uint32) []ring.Token {
	out := make([]ring.Token, len(ts))
	for i, t := range ts {
		out[i] = ring.Token(t)
	}
	return out
}

// peersFrom turns a provider's seeds into the proxy's peers, this node
// excluded.
func peersFrom(cfg *config.Config, info env.Info, seeds []seedprovider.Seed) []proxy.Peer {
	others := make([]seedprovider.Seed, 0, len(seeds))
	for _, s := range seeds {
		if !isSelf(cfg, info, s) {
			others = append(others, s)
		}
	}
	return Peers(others)
}
