// Package dnssrv is dns_srv_provider: the peers are the targets of an SRV
// record (Kubernetes headless services, Consul, a zone file), each target
// with a TXT record giving its datacenter, rack and tokens (see [Node]).
//
// Queries go to one configurable DNS server with miekg/dns, over UDP first
// and over TCP when an answer is truncated.
//
// # Lookups
//
//  1. SRV dns_srv_name: each record is one peer, its port the peer's
//     dyn_listen port. Priority and weight are ignored (every target is a
//     peer). No record, NXDOMAIN, or the single target "." fail the poll
//     ([seedprovider.ErrNoSeeds]).
//  2. For each target: its addresses from the A/AAAA records in the SRV
//     answer's additional section (glue), else an A query, then an AAAA query
//     if there is no A record. The lowest IPv4 address is used, else the
//     lowest IPv6 address, so a round-robin answer is not a change.
//  3. For each target: its TXT records (glue or a TXT query), parsed by
//     [ParseTXT]. A record with port= applies only to the SRV entry with that
//     port; a record without port applies to the others.
//
// # Errors
//
// A target that does not exist (NXDOMAIN), has no address, no TXT record, a
// bad TXT record, or two matching TXT records, is skipped and reported as a
// [seedprovider.EntryError] named after the target and port; with
// [Config.AddressOnly] (gossip on) a target without a TXT record is kept
// as an address-only seed instead. A query that
// gets no answer (timeout, SERVFAIL, REFUSED) fails the whole poll, so the
// caller keeps its last view instead of dropping healthy peers.
package dnssrv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/internal/dnsq"
)

// Name is the dyn_seed_provider value that selects this provider.
const Name = "dns_srv_provider"

// Configuration keys.
const (
	KeyName     = "dns_srv_name"
	KeyResolver = "dns_srv_resolver"
	KeyTimeout  = "dns_srv_timeout"
)

// DefaultTimeout is dns_srv_timeout's default: one exchange, UDP and TCP.
const DefaultTimeout = 2 * time.Second

// parallel bounds the targets looked up at once.
const parallel = 8

// Config configures the provider; the fields are the dns_srv_* keys.
type Config struct {
	// Name is the SRV record, e.g. _dynomite._tcp.prod.example.com
	// (dns_srv_name, required). It is queried as is, without search domains.
	Name string `yaml:"dns_srv_name"`
	// Resolver is the DNS server, host[:port], port 53 by default
	// (dns_srv_resolver). "" means the first nameserver of /etc/resolv.conf.
	Resolver string `yaml:"dns_srv_resolver"`
	// Timeout bounds one DNS exchange (dns_srv_timeout, milliseconds in the
	// file); 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"dns_srv_timeout"`
	// ResolvConf is where Resolver defaults from; "" = /etc/resolv.conf.
	// Not a key; tests set it.
	ResolvConf string `yaml:"-"`
	// AddressOnly keeps the targets that have no TXT record, as seeds
	// with only an address (no datacenter, rack or tokens; see
	// [seedprovider.AddressOnly]): with enable_gossip the node learns the
	// rest from the peer's gossip. Not a key: the node sets it when gossip
	// is on. A TXT record that is there but wrong is still an entry error.
	AddressOnly bool `yaml:"-"`
}

// Validate checks the configuration without contacting anything. Its
// errors name the key.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fmt.Errorf("%s: required with dyn_seed_provider: %s", KeyName, Name))
	} else if _, ok := dns.IsDomainName(c.Name); !ok || c.Name == "." {
		errs = append(errs, fmt.Errorf("%s: %q is not a domain name", KeyName, c.Name))
	}
	if err := dnsq.CheckServer(c.Resolver); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", KeyResolver, err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s: %v is negative", KeyTimeout, c.Timeout))
	}
	return errors.Join(errs...)
}

// Provider reads the seeds from SRV and TXT records.
type Provider struct {
	name        string
	client      dnsq.Client
	addressOnly bool
}

// New returns a Provider. With no Resolver it reads ResolvConf now.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := dnsq.NewClient(cfg.Resolver, cfg.ResolvConf, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyResolver, err)
	}
	return &Provider{name: dns.Fqdn(cfg.Name), client: client, addressOnly: cfg.AddressOnly}, nil
}

// Name returns "dns_srv_provider".
func (p *Provider) Name() string { return Name }

// Server returns the DNS server asked (host:port).
func (p *Provider) Server() string { return p.client.Server }

// target is one SRV target and what was found about it.
type target struct {
	name  string // FQDN, lower case
	ports []int  // the SRV entries pointing at it

	glueAddrs []netip.Addr
	glueTXT   [][]string

	seeds []seedprovider.Seed
	bad   []*seedprovider.EntryError
}

// Seeds looks up the SRV record and every target.
func (p *Provider) Seeds(ctx context.Context) ([]seedprovider.Seed, error) {
	r, err := p.client.Query(ctx, p.name, dns.TypeSRV)
	if err != nil {
		if errors.Is(err, dnsq.ErrNotFound) {
			return nil, fmt.Errorf("dnssrv: %w: %w", err, seedprovider.ErrNoSeeds)
		}
		return nil, fmt.Errorf("dnssrv: %w", err)
	}
	var (
		targets []*target
		byName  = map[string]*target{}
	)
	for _, rr := range r.Answer {
		srv, ok := rr.(*dns.SRV)
		if !ok || srv.Target == "." || srv.Port == 0 {
			continue
		}
		name := strings.ToLower(srv.Target)
		t := byName[name]
		if t == nil {
			t = &target{name: name}
			byName[name] = t
			targets = append(targets, t)
		}
		t.ports = append(t.ports, int(srv.Port))
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("dnssrv: %s SRV: %w", p.name, seedprovider.ErrNoSeeds)
	}
	for _, rr := range r.Extra {
		t := byName[strings.ToLower(rr.Header().Name)]
		if t == nil {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A); ok {
				t.glueAddrs = append(t.glueAddrs, a.Unmap())
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				t.glueAddrs = append(t.glueAddrs, a)
			}
		case *dns.TXT:
			t.glueTXT = append(t.glueTXT, v.Txt)
		}
	}

	if err := p.lookupAll(ctx, targets); err != nil {
		return nil, fmt.Errorf("dnssrv: %w", err)
	}
	var (
		seeds []seedprovider.Seed
		bad   seedprovider.EntryErrors
	)
	for _, t := range targets {
		seeds = append(seeds, t.seeds...)
		for _, e := range t.bad {
			bad.Add(e.Entry, e.Err)
		}
	}
	return seeds, bad.Err()
}

// lookupAll resolves the targets, at most parallel at a time, and returns
// the first failure (which cancels the rest).
func (p *Provider) lookupAll(ctx context.Context, targets []*target) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, parallel)
	)
	for _, t := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.lookup(ctx, t); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// lookup fills t.seeds and t.bad; it returns an error only for a failure
// that must fail the poll.
func (p *Provider) lookup(ctx context.Context, t *target) error {
	host := strings.TrimSuffix(t.name, ".")
	skipAll := func(err error) {
		for _, port := range t.ports {
			t.bad = append(t.bad, seedprovider.NewEntryError(host+":"+strconv.Itoa(port), err))
		}
	}

	addrs := t.glueAddrs
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a} // an IP literal as target: tolerated
	}
	if len(addrs) == 0 {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			r, err := p.client.Query(ctx, t.name, qt)
			if errors.Is(err, dnsq.ErrNotFound) {
				skipAll(err)
				return nil
			}
			if err != nil {
				return err
			}
			for _, rr := range r.Answer {
				switch v := rr.(type) {
				case *dns.A:
					if a, ok := netip.AddrFromSlice(v.A); ok {
						addrs = append(addrs, a.Unmap())
					}
				case *dns.AAAA:
					if a, ok := netip.AddrFromSlice(v.AAAA); ok {
						addrs = append(addrs, a)
					}
				}
			}
			if len(addrs) > 0 {
				break
			}
		}
	}
	ip, ok := seedprovider.PickAddr(addrs)
	if !ok {
		skipAll(errors.New("no A or AAAA record"))
		return nil
	}

	txts := t.glueTXT
	if len(txts) == 0 {
		r, err := p.client.Query(ctx, t.name, dns.TypeTXT)
		switch {
		case errors.Is(err, dnsq.ErrNotFound):
			if !p.addressOnly {
				skipAll(err)
				return nil
			}
		case err != nil:
			return err
		default:
			for _, rr := range r.Answer {
				if v, ok := rr.(*dns.TXT); ok {
					txts = append(txts, v.Txt)
				}
			}
		}
	}
	if len(txts) == 0 && p.addressOnly {
		// gossip will tell where it sits and which tokens it holds
		for _, port := range t.ports {
			t.seeds = append(t.seeds, seedprovider.Seed{Host: ip.String(), Port: port, Name: host})
		}
		return nil
	}
	if len(txts) == 0 {
		skipAll(errors.New("no TXT record with dc, rack and tokens"))
		return nil
	}
	var nodes []Node
	for _, strs := range txts {
		n, err := ParseTXT(strs)
		if err != nil {
			t.bad = append(t.bad, seedprovider.NewEntryError(host+" TXT "+strings.Join(strs, " "), err))
			continue
		}
		nodes = append(nodes, n)
	}
	for _, port := range t.ports {
		entry := host + ":" + strconv.Itoa(port)
		n, err := match(nodes, port)
		if err != nil {
			t.bad = append(t.bad, seedprovider.NewEntryError(entry, err))
			continue
		}
		s := seedprovider.Seed{Host: ip.String(), Port: port, DC: n.DC, Rack: n.Rack, Tokens: n.Tokens, Name: host}
		if err := seedprovider.Check(s); err != nil {
			t.bad = append(t.bad, seedprovider.NewEntryError(entry, err))
			continue
		}
		t.seeds = append(t.seeds, s)
	}
	return nil
}

// match picks the node description for an SRV entry's port: the record
// naming that port, else the record naming none.
func match(nodes []Node, port int) (Node, error) {
	var exact, general []Node
	for _, n := range nodes {
		switch n.Port {
		case port:
			exact = append(exact, n)
		case 0:
			general = append(general, n)
		}
	}
	for _, set := range [][]Node{exact, general} {
		switch len(set) {
		case 0:
			continue
		case 1:
			return set[0], nil
		default:
			return Node{}, fmt.Errorf("%d TXT records match port %d", len(set), port)
		}
	}
	return Node{}, fmt.Errorf("no valid TXT record for port %d", port)
}
