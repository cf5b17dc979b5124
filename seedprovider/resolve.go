package seedprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// HostResolver is the one method of [*net.Resolver] that [Resolving] uses;
// tests pass a fake.
type HostResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Resolving wraps p so that every seed whose host is a name is resolved on
// each call, as upstream resolves names that do not start with a digit. The
// seed's host becomes an IP address (the lowest IPv4 address, else the lowest
// IPv6 address, so round-robin answers do not look like changes) and, when
// the seed had no name, its name becomes the host name it was given as.
// Resolving each time means that a name now pointing somewhere else shows up
// as an address change.
//
// A name the resolver says does not exist, or that has no address, is
// skipped as an *EntryError. A resolver that gives no answer (timeout,
// SERVFAIL) fails the whole call, so the caller keeps its last view rather
// than dropping a healthy peer because of a flaky resolver. r nil means
// [net.DefaultResolver].
func Resolving(p Provider, r HostResolver) Provider {
	if r == nil {
		r = net.DefaultResolver
	}
	return &resolving{p: p, r: r}
}

type resolving struct {
	p Provider
	r HostResolver
}

func (r *resolving) Name() string { return r.p.Name() }

func (r *resolving) Seeds(ctx context.Context) ([]Seed, error) {
	seeds, err := r.p.Seeds(ctx)
	if err != nil && !Partial(err) {
		return nil, err
	}
	var bad EntryErrors
	for _, e := range Entries(err) {
		bad.Add(e.Entry, e.Err)
	}
	out := seeds[:0:0]
	for _, s := range seeds {
		if _, perr := netip.ParseAddr(s.Host); perr == nil {
			out = append(out, s)
			continue
		}
		addrs, lerr := r.r.LookupNetIP(ctx, "ip", s.Host)
		if lerr != nil {
			var de *net.DNSError
			if errors.As(lerr, &de) && de.IsNotFound {
				bad.Add(s.String(), fmt.Errorf("host %s does not resolve: %w", s.Host, lerr))
				continue
			}
			return nil, fmt.Errorf("resolving %s: %w", s.Host, lerr)
		}
		ip, ok := PickAddr(addrs)
		if !ok {
			bad.Add(s.String(), fmt.Errorf("host %s has no address", s.Host))
			continue
		}
		if s.Name == "" {
			s.Name = s.Host
		}
		s.Host = ip.String()
		out = append(out, s)
	}
	return out, bad.Err()
}

// PickAddr returns the lowest IPv4 address of addrs, else the lowest IPv6
// address (IPv4-mapped IPv6 addresses count as IPv4). Zones are kept.
func PickAddr(addrs []netip.Addr) (netip.Addr, bool) {
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		switch {
		case !a.IsValid() || a.IsUnspecified():
		case a.Unmap().Is4():
			v4 = append(v4, a.Unmap())
		default:
			v6 = append(v6, a)
		}
	}
	for _, set := range [][]netip.Addr{v4, v6} {
		if len(set) > 0 {
			return slices.MinFunc(set, func(a, b netip.Addr) int { return a.Compare(b) }), true
		}
	}
	return netip.Addr{}, false
}
