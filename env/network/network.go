// Package network is env: network. Everything comes from the configuration
// file and the machine itself: it never sends a packet, never resolves a
// name, and in particular never contacts a metadata service.
//
// # Values
//
//   - Datacenter and Rack: the configuration's datacenter and rack.
//   - PrivateIP, the address announced to peers, first match wins:
//     1. the LOCAL_IPV4 variable;
//     2. the host of dyn_listen when it is a specific address (not
//     0.0.0.0, ::, or empty) or a host name (kept as the name);
//     3. the first global unicast IPv4 address of the local interfaces, in
//     the system's interface order, skipping loopback and link-local
//     addresses; then the first such IPv6 address;
//     4. 127.0.0.1 (a laptop without a network: single-node clusters only).
//   - PublicIP and PublicHostname: the PUBLIC_IPV4 and PUBLIC_HOSTNAME
//     variables, upstream's non-AWS snitch variables (which upstream, by a
//     bug, never read).
package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/dynomite-go/dynomite/env"
)

// Name is the env key's value that selects this environment.
const Name = "network"

// Variables read, as named by upstream's dyn_node_snitch.c for non-AWS
// environments.
const (
	EnvLocalIPv4      = "LOCAL_IPV4"
	EnvPublicIPv4     = "PUBLIC_IPV4"
	EnvPublicHostname = "PUBLIC_HOSTNAME"
)

// Config configures the environment.
type Config struct {
	// Datacenter and Rack are the configuration's values.
	Datacenter, Rack string
	// Listen is dyn_listen, host:port.
	Listen string
	// Getenv reads the variables; nil means os.Getenv.
	Getenv func(string) string
	// InterfaceAddrs lists the local addresses; nil means
	// net.InterfaceAddrs (a local system call, no traffic).
	InterfaceAddrs func() ([]net.Addr, error)
}

// Env is env: network.
type Env struct{ cfg Config }

// New returns the environment.
func New(cfg Config) *Env {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.InterfaceAddrs == nil {
		cfg.InterfaceAddrs = net.InterfaceAddrs
	}
	return &Env{cfg: cfg}
}

// Name returns "network".
func (e *Env) Name() string { return Name }

// Detect returns the configured values and the announced address. ctx is
// not used: nothing here waits.
func (e *Env) Detect(context.Context) (env.Info, error) {
	info := env.Info{
		Datacenter:     e.cfg.Datacenter,
		Rack:           e.cfg.Rack,
		PublicIP:       strings.TrimSpace(e.cfg.Getenv(EnvPublicIPv4)),
		PublicHostname: strings.TrimSpace(e.cfg.Getenv(EnvPublicHostname)),
	}
	var errs []error
	if info.Datacenter == "" {
		errs = append(errs, errors.New("env network: datacenter is not set in the configuration"))
	}
	if info.Rack == "" {
		errs = append(errs, errors.New("env network: rack is not set in the configuration"))
	}
	for _, name := range []string{EnvLocalIPv4, EnvPublicIPv4} {
		v := strings.TrimSpace(e.cfg.Getenv(name))
		if _, err := netip.ParseAddr(v); v != "" && err != nil {
			errs = append(errs, fmt.Errorf("env network: %s=%q is not an IP address", name, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return env.Info{}, err
	}
	ip, err := e.announce()
	if err != nil {
		return env.Info{}, err
	}
	info.PrivateIP = ip
	return info, nil
}

func (e *Env) announce() (string, error) {
	if v := strings.TrimSpace(e.cfg.Getenv(EnvLocalIPv4)); v != "" {
		return v, nil
	}
	if e.cfg.Listen != "" {
		host, _, err := net.SplitHostPort(e.cfg.Listen)
		if err != nil {
			return "", fmt.Errorf("env network: dyn_listen %q: %w", e.cfg.Listen, err)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if !a.IsUnspecified() {
				return a.String(), nil
			}
		} else if host != "" {
			return host, nil // a host name, announced as such
		}
	}
	addrs, err := e.cfg.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("env network: listing the local addresses: %w", err)
	}
	if a, ok := FirstAddr(addrs); ok {
		return a.String(), nil
	}
	return "127.0.0.1", nil
}

// FirstAddr returns the first global unicast IPv4 address of addrs, else
// the first global unicast IPv6 address. Loopback, link-local, multicast
// and unspecified addresses are skipped; private ranges (10/8, fd00::/8)
// count as global unicast.
func FirstAddr(addrs []net.Addr) (netip.Addr, bool) {
	var v6 netip.Addr
	for _, a := range addrs {
		var ip net.IP
		switch v := a.(type) {
		case *net.IPNet:
			ip = v.IP
		case *net.IPAddr:
			ip = v.IP
		default:
			continue
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		addr = addr.Unmap()
		if !addr.IsGlobalUnicast() {
			continue
		}
		if addr.Is4() {
			return addr, true
		}
		if !v6.IsValid() {
			v6 = addr
		}
	}
	return v6, v6.IsValid()
}
