// Package seedprovider defines how a node learns its peers: a [Provider]
// returns a full snapshot of the cluster's seeds each time it is asked, and a
// [Refresher] polls one every gos_interval and reports when the view changes.
//
// # Providers
//
// Each provider lives in its own folder with a README:
//
//	static   simple_provider   dyn_seeds from the configuration file
//	florida  florida_provider  upstream's HTTP endpoint (DYNOMITE_FLORIDA_*)
//	dns      dns_provider      upstream's TXT record (DYNOMITE_DNS_NAME)
//	dnssrv   dns_srv_provider  SRV records plus a TXT record per target
//	ec2      ec2_provider      EC2 DescribeInstances filtered by tags
//
// # Contract
//
// Seeds returns every peer the source knows about, not a delta, so that the
// caller sees additions, address changes and removals alike. It never panics
// on what the source sends. Three outcomes are possible:
//
//   - seeds, nil: a complete snapshot.
//   - seeds, err with [Partial](err) true: the source answered but some
//     entries were unusable (unparsable, unresolvable, conflicting). Each one
//     is an [*EntryError] inside err (joined with [errors.Join]); seeds holds
//     the good entries and is a usable snapshot.
//   - nil, err with Partial(err) false: the source itself failed (unreachable,
//     timeout, bad status, empty answer: [ErrNoSeeds]). The caller keeps its
//     last view.
//
// A name that does not resolve is an entry error, never a provider failure.
package seedprovider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/dynomite-go/dynomite/proxy/config"
)

// Seed is one peer: "host:port:rack:dc:tokens [name]". It is an alias of
// [config.Seed] so that dyn_seeds from the file and provider answers are the
// same type for the cluster code; Seed.Addr gives host:port and Seed.String
// the upstream text form. Host is an IP literal or a host name, Port the
// peer's dyn_listen port, Name an optional label (providers use it for the
// instance ID or the DNS target).
type Seed = config.Seed

// Provider is a source of seeds, selected by dyn_seed_provider.
type Provider interface {
	// Name is the dyn_seed_provider value, e.g. "dns_srv_provider".
	Name() string
	// Seeds returns the full current list of peers, as the package
	// documentation describes. It honours ctx's deadline and cancellation,
	// may be called from several goroutines, and never panics on what the
	// source sends.
	Seeds(ctx context.Context) ([]Seed, error)
}

// ErrNoSeeds reports a source that answered with nothing at all (an empty
// body, no records, no instances). It is a provider failure, not an empty
// snapshot: a cluster does not lose every peer because one answer was empty.
var ErrNoSeeds = errors.New("no seeds in the answer")

// EntryError reports one entry a provider skipped. The entry text is kept
// short so that a hostile answer cannot flood the logs.
type EntryError struct {
	// Entry is the offending entry (a seed string, a DNS name, an instance
	// ID), truncated to 128 bytes.
	Entry string
	// Err says what is wrong with it.
	Err error
}

// NewEntryError returns an *EntryError for entry, truncating it.
func NewEntryError(entry string, err error) *EntryError {
	const limit = 128
	if len(entry) > limit {
		entry = entry[:limit] + "..."
	}
	return &EntryError{Entry: entry, Err: err}
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %q skipped: %v", e.Entry, e.Err) }

func (e *EntryError) Unwrap() error { return e.Err }

// Partial reports whether err is made only of [*EntryError] values (possibly
// joined), that is whether the seeds returned along with it form a usable
// snapshot. Partial(nil) is false.
func Partial(err error) bool {
	if err == nil {
		return false
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		if len(errs) == 0 {
			return false
		}
		for _, e := range errs {
			if !Partial(e) {
				return false
			}
		}
		return true
	}
	_, ok := err.(*EntryError)
	return ok
}

// Entries lists the *EntryError values inside err (in order).
func Entries(err error) []*EntryError {
	var out []*EntryError
	var walk func(error)
	walk = func(e error) {
		switch v := e.(type) {
		case nil:
		case *EntryError:
			out = append(out, v)
		case interface{ Unwrap() []error }:
			for _, c := range v.Unwrap() {
				walk(c)
			}
		}
	}
	walk(err)
	return out
}

// MaxEntryErrors caps the entry errors one answer reports; the rest are
// summed up in a last *EntryError.
const MaxEntryErrors = 32

// EntryErrors collects entry errors up to MaxEntryErrors. The zero value is
// ready to use.
type EntryErrors struct {
	errs    []error
	dropped int
}

// Add records one skipped entry.
func (c *EntryErrors) Add(entry string, err error) {
	if len(c.errs) >= MaxEntryErrors {
		c.dropped++
		return
	}
	c.errs = append(c.errs, NewEntryError(entry, err))
}

// Err returns the joined entry errors, or nil.
func (c *EntryErrors) Err() error {
	errs := c.errs
	if c.dropped > 0 {
		errs = append(slices.Clip(errs), NewEntryError("...", fmt.Errorf("%d more bad entries", c.dropped)))
	}
	return errors.Join(errs...)
}

// AddressOnly reports whether s carries only an address: no datacenter,
// rack or tokens. Only a provider told that gossip is on returns such seeds
// (dns_srv_provider for an SRV target without a TXT record); the node joins
// the address's gossip and takes the rest from the peer's gossip metadata.
func AddressOnly(s Seed) bool { return s.DC == "" && s.Rack == "" && len(s.Tokens) == 0 }

// ParseSeed parses one entry "host:port:rack:dc:tokens [name]"; it is
// [config.ParseSeed]. Nothing is resolved.
func ParseSeed(entry string) (Seed, error) { return config.ParseSeed(entry) }

// ParseTokens parses comma-separated decimal tokens in 0..4294967295; it is
// [config.ParseTokens].
func ParseTokens(s string) ([]uint32, error) { return config.ParseTokens(s) }

// Check reports whether s is a valid seed: a host, a port in 1..65535, a
// datacenter and rack without ':' or blanks, at least one token, and a name
// without blanks. Providers that build seeds field by field call it.
func Check(s Seed) error {
	for _, f := range []struct{ what, v string }{{"datacenter", s.DC}, {"rack", s.Rack}} {
		if f.v == "" {
			return fmt.Errorf("has an empty %s", f.what)
		}
		if strings.ContainsFunc(f.v, func(r rune) bool { return r == ':' || r == '|' || unicode.IsSpace(r) }) {
			return fmt.Errorf("has an invalid %s %q", f.what, f.v)
		}
	}
	if strings.ContainsFunc(s.Name, func(r rune) bool { return r == '|' || unicode.IsSpace(r) }) {
		return fmt.Errorf("has an invalid name %q", s.Name)
	}
	if len(s.Tokens) == 0 {
		return errors.New("has no token")
	}
	if strings.ContainsFunc(s.Host, unicode.IsSpace) {
		return fmt.Errorf("has an invalid host %q", s.Host)
	}
	_, err := ParseSeed(s.String())
	return err
}

// ParseList parses a seed payload as upstream's providers send it:
// "host:port:rack:dc:tokens|host:port:rack:dc:tokens|...", each entry in the
// dyn_seeds format ([config.ParseSeed]). Line breaks separate entries too, so
// a seeds.list file with one entry per line is accepted; blank entries
// (a trailing "|" or newline) are ignored and whitespace around an entry is
// trimmed. A bad entry is skipped and reported as an *EntryError in the
// returned joined error, next to the good seeds. Nothing is resolved.
func ParseList(payload string) ([]Seed, error) {
	var (
		seeds []Seed
		bad   EntryErrors
	)
	for item := range strings.FieldsFuncSeq(payload, func(r rune) bool { return r == '|' || r == '\n' || r == '\r' }) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		s, err := ParseSeed(item)
		if err != nil {
			bad.Add(item, err)
			continue
		}
		seeds = append(seeds, s)
	}
	return seeds, bad.Err()
}

// Normalize returns seeds in a canonical order, without exact duplicates,
// address conflicts or token conflicts, so that two answers listing the same
// peers in a different order (DNS round robin, EC2 pagination) compare equal.
//
// Seeds are sorted by datacenter, rack, host, port, name and tokens, and
// exact duplicates are dropped silently. Then, in that order, the first entry
// wins: an entry whose address (host:port) an earlier entry already has, or
// that claims a token an earlier entry of the same datacenter and rack
// already holds, is skipped and reported as an *EntryError. The input slice
// is not modified.
func Normalize(seeds []Seed) ([]Seed, error) {
	sorted := slices.Clone(seeds)
	slices.SortStableFunc(sorted, compareSeeds)
	var (
		out []Seed
		bad EntryErrors
		// addrs maps host:port to the entry that has it, owner maps
		// dc/rack/token to the address that holds it.
		addrs = make(map[string]string, len(sorted))
		owner = make(map[string]string, len(sorted))
	)
	for i, s := range sorted {
		if i > 0 && compareSeeds(sorted[i-1], s) == 0 {
			continue // exact duplicate
		}
		if o, ok := addrs[s.Addr()]; ok {
			bad.Add(s.String(), fmt.Errorf("address %s is already listed as %s", s.Addr(), o))
			continue
		}
		conflict := ""
		for _, t := range s.Tokens {
			if o, ok := owner[tokenKey(s, t)]; ok {
				conflict = fmt.Sprintf("token %d in %s/%s is already held by %s", t, s.DC, s.Rack, o)
				break
			}
		}
		if conflict != "" {
			bad.Add(s.String(), errors.New(conflict))
			continue
		}
		addrs[s.Addr()] = s.String()
		for _, t := range s.Tokens {
			owner[tokenKey(s, t)] = s.Addr()
		}
		s.Tokens = slices.Clone(s.Tokens)
		out = append(out, s)
	}
	return out, bad.Err()
}

func tokenKey(s Seed, t uint32) string { return fmt.Sprintf("%s\x00%s\x00%d", s.DC, s.Rack, t) }

func compareSeeds(a, b Seed) int {
	if c := strings.Compare(a.DC, b.DC); c != 0 {
		return c
	}
	if c := strings.Compare(a.Rack, b.Rack); c != 0 {
		return c
	}
	if c := strings.Compare(a.Host, b.Host); c != 0 {
		return c
	}
	if a.Port != b.Port {
		return a.Port - b.Port
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return slices.Compare(a.Tokens, b.Tokens)
}

// Clone returns a deep copy of seeds.
func Clone(seeds []Seed) []Seed {
	if seeds == nil {
		return nil
	}
	out := make([]Seed, len(seeds))
	for i, s := range seeds {
		s.Tokens = slices.Clone(s.Tokens)
		out[i] = s
	}
	return out
}
