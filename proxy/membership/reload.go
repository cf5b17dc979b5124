package membership

import (
	"context"

	"github.com/dynomite-go/dynomite/proxy/config"
)

// Reload prepares the seed provider cfg describes, for a configuration
// reload that changed its settings (dns_srv_*, ec2_*: the provider itself,
// dyn_seed_provider, does not change without a restart). It builds the
// provider as New does, without polling it, and returns commit, which
// makes Run poll it from then on instead of the current one; a node
// without a seed provider (simple_provider) has nothing to prepare and
// commit does nothing. An error (the provider cannot be set up) changes
// nothing.
func (m *Membership) Reload(ctx context.Context, cfg *config.Config) (commit func(), err error) {
	if err := ValidateProvider(cfg); err != nil {
		return nil, err
	}
	m.mu.Lock()
	none := m.provider == nil
	m.mu.Unlock()
	if none {
		return func() {}, nil
	}
	p, err := newProvider(ctx, cfg, m.info)
	if err != nil {
		return nil, err
	}
	r, err := m.newRefresher(p, cfg)
	if err != nil {
		return nil, err
	}
	return func() {
		m.mu.Lock()
		m.provider, m.refresher = p, r
		m.mu.Unlock()
		select {
		case m.swapped <- struct{}{}:
		default: // a swap is already pending: Run takes the latest refresher
		}
		m.log.Info("seed provider settings reloaded", "provider", p.Name())
	}, nil
}
