// Package static is simple_provider: the peers are the dyn_seeds list of the
// configuration file, as upstream.
package static

import (
	"context"

	"github.com/dynomite-go/dynomite/seedprovider"
)

// Name is the dyn_seed_provider value that selects this provider (also the
// default).
const Name = "simple_provider"

// Provider returns a fixed list of seeds.
type Provider struct {
	seeds []seedprovider.Seed
}

// New returns a Provider for seeds (dyn_seeds as parsed by the
// configuration). The list is copied. An empty list is a node without peers
// and is returned as such, never as an error.
func New(seeds []seedprovider.Seed) *Provider {
	return &Provider{seeds: seedprovider.Clone(seeds)}
}

// Parse returns a Provider for dyn_seeds entries in text form
// ("host:port:rack:dc:tokens [name]"). Bad entries are left out and reported
// in the joined error (see [seedprovider.Partial]); the Provider is never
// nil.
func Parse(entries []string) (*Provider, error) {
	var (
		seeds []seedprovider.Seed
		bad   seedprovider.EntryErrors
	)
	for _, e := range entries {
		s, err := seedprovider.ParseSeed(e)
		if err != nil {
			bad.Add(e, err)
			continue
		}
		seeds = append(seeds, s)
	}
	return &Provider{seeds: seeds}, bad.Err()
}

// Name returns "simple_provider".
func (p *Provider) Name() string { return Name }

// Seeds returns a copy of the list. It never fails; ctx is not used.
func (p *Provider) Seeds(context.Context) ([]seedprovider.Seed, error) {
	return seedprovider.Clone(p.seeds), nil
}
