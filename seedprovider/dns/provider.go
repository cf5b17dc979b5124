// Package dns is dns_provider: upstream's TXT record holding the seed list
// "host:port:rack:dc:tokens|...", read with miekg/dns from a configurable
// resolver, over TCP when the UDP answer is truncated.
package dns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/dynomite-go/dynomite/seedprovider"
	"github.com/dynomite-go/dynomite/seedprovider/internal/dnsq"
)

// Name is the dyn_seed_provider value that selects this provider.
const Name = "dns_provider"

// Environment variables.
const (
	// EnvName is the TXT record's name, as upstream.
	EnvName = "DYNOMITE_DNS_NAME"
	// EnvResolver is the DNS server to ask, host[:port] (new; upstream uses
	// the system resolver).
	EnvResolver = "DYNOMITE_DNS_RESOLVER"
	// EnvType is upstream's DYNOMITE_DNS_TYPE; "A" made upstream query an A
	// record, which cannot hold seeds. It is ignored.
	EnvType = "DYNOMITE_DNS_TYPE"
)

// DefaultName is upstream's default record name.
const DefaultName = "_dynomite.ec2-internal"

// Config configures the provider.
type Config struct {
	// Name is the TXT record's name; it is queried as is (made fully
	// qualified), without search domains, as upstream's res_query.
	Name string
	// Resolver is the DNS server, host[:port] (port 53 by default). ""
	// means the first nameserver of ResolvConf.
	Resolver string
	// ResolvConf is the file Resolver defaults from; "" = /etc/resolv.conf.
	ResolvConf string
	// Timeout bounds one exchange; 0 means 2 s.
	Timeout time.Duration
}

// ConfigFromEnv reads DYNOMITE_DNS_NAME and DYNOMITE_DNS_RESOLVER through
// getenv (nil means os.Getenv).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Config{Name: DefaultName}
	if v := strings.TrimSpace(getenv(EnvName)); v != "" {
		c.Name = v
	}
	c.Resolver = strings.TrimSpace(getenv(EnvResolver))
	return c, c.Validate()
}

// Validate checks the configuration without contacting anything.
func (c Config) Validate() error {
	var errs []error
	if _, ok := mdns.IsDomainName(c.Name); !ok || c.Name == "" || c.Name == "." {
		errs = append(errs, fmt.Errorf("%s: %q is not a domain name", EnvName, c.Name))
	}
	if err := dnsq.CheckServer(c.Resolver); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvResolver, err))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("dns timeout %v is negative", c.Timeout))
	}
	return errors.Join(errs...)
}

// Provider reads the seeds from a TXT record.
type Provider struct {
	name   string
	client dnsq.Client
}

// New returns a Provider. With no Resolver it reads ResolvConf now.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := dnsq.NewClient(cfg.Resolver, cfg.ResolvConf, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvResolver, err)
	}
	return &Provider{name: mdns.Fqdn(cfg.Name), client: client}, nil
}

// Name returns "dns_provider".
func (p *Provider) Name() string { return Name }

// Server returns the DNS server asked (host:port).
func (p *Provider) Server() string { return p.client.Server }

// Seeds queries the TXT record. The character-strings of one record are
// joined without separator (as Go's net.LookupTXT does), so a list longer
// than 255 bytes may be split anywhere; the records of an RRset are
// unordered in DNS, so each record holds whole entries and the records are
// joined with "|". A name that does not exist, has no TXT record, or holds
// only blanks fails the call (the caller keeps its view); bad entries are
// skipped.
func (p *Provider) Seeds(ctx context.Context) ([]seedprovider.Seed, error) {
	r, err := p.client.Query(ctx, p.name, mdns.TypeTXT)
	if err != nil {
		if errors.Is(err, dnsq.ErrNotFound) {
			return nil, fmt.Errorf("dns: %w: %w", err, seedprovider.ErrNoSeeds)
		}
		return nil, fmt.Errorf("dns: %w", err)
	}
	var records []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*mdns.TXT); ok {
			records = append(records, strings.Join(txt.Txt, ""))
		}
	}
	payload := strings.Join(records, "|")
	if strings.TrimSpace(strings.ReplaceAll(payload, "|", "")) == "" {
		return nil, fmt.Errorf("dns: %s TXT: %w", p.name, seedprovider.ErrNoSeeds)
	}
	return seedprovider.ParseList(payload)
}
