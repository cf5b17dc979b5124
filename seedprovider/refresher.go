package seedprovider

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [RefresherConfig].
const (
	// DefaultInterval is gos_interval's default (30000 ms).
	DefaultInterval = 30 * time.Second
	// DefaultMinInterval is upstream's SEEDS_CHECK_INTERVAL: providers are
	// asked at most once per 30 s, whatever gos_interval says.
	DefaultMinInterval = 30 * time.Second
	// DefaultJitter spreads the polls of a cluster's nodes by ±10 %.
	DefaultJitter = 0.1
)

// RefresherConfig configures a [Refresher]. The zero value polls every 30 s
// with ±10 % jitter.
type RefresherConfig struct {
	// Interval is the time between two polls: gos_interval. 0 means
	// DefaultInterval.
	Interval time.Duration
	// MinInterval is a floor on Interval, upstream's 30 s rate limit. 0 means
	// DefaultMinInterval; a negative value removes the floor (tests, or
	// operators who want faster discovery).
	MinInterval time.Duration
	// Jitter is the fraction of the interval by which each wait varies, in
	// [0, 1): each wait is drawn uniformly from
	// [interval*(1-Jitter), interval*(1+Jitter)]. 0 means DefaultJitter; a
	// negative value means no jitter.
	Jitter float64
	// Timeout bounds one call of the provider. 0 means the effective
	// interval.
	Timeout time.Duration
	// Logger receives one line per failed poll and per change of the skipped
	// entries. nil discards.
	Logger *slog.Logger
	// Metrics receives the counters; nil means a private set, see
	// [Refresher.Metrics].
	Metrics *Metrics
	// OnChange, when set, is called with each new snapshot from the polling
	// goroutine, before the snapshot is offered on Changes. It must not
	// block for long, must not modify the snapshot, and must not call
	// Refresh (which is running); Snapshot may be called.
	OnChange func(Snapshot)
}

// Metrics counts what a [Refresher] does. The fields are safe for
// concurrent use; a Prometheus collector can read them at scrape time
// (dynomite_seedprovider_refresh_total{outcome} and friends).
type Metrics struct {
	// Refreshes counts calls of the provider.
	Refreshes atomic.Uint64
	// Failures counts calls whose answer was not used (the provider failed,
	// timed out, panicked, or returned no usable seed); the last view is
	// kept.
	Failures atomic.Uint64
	// BadEntries counts entries skipped, summed over all calls.
	BadEntries atomic.Uint64
	// Changes counts snapshots that differed from the previous one
	// (including the first).
	Changes atomic.Uint64
	// LastSuccess is the Unix time in nanoseconds of the last used answer,
	// 0 before the first.
	LastSuccess atomic.Int64
}

// Snapshot is one view of the cluster as a provider gave it.
type Snapshot struct {
	// Seeds are the peers after [Normalize]: sorted, without duplicates or
	// conflicts. Shared between readers: do not modify.
	Seeds []Seed
	// Hash identifies the content of Seeds (FNV-1a 64 of their text forms).
	Hash uint64
	// At is when the answer arrived.
	At time.Time
	// Skipped holds the entries left out of Seeds, as a joined error of
	// *EntryError values; nil when none.
	Skipped error
}

// Hash returns the hash a Snapshot of seeds would carry. seeds must be
// normalized (see [Normalize]) for equal views to hash equal.
func Hash(seeds []Seed) uint64 {
	h := fnv.New64a()
	for _, s := range seeds {
		h.Write([]byte(s.String()))
		h.Write([]byte{'\n'})
	}
	return h.Sum64()
}

// Refresher polls a [Provider] and keeps the last good view. Its methods
// are safe for concurrent use.
type Refresher struct {
	p        Provider
	interval time.Duration
	jitter   float64
	timeout  time.Duration
	log      *slog.Logger
	metrics  *Metrics
	onChange func(Snapshot)

	last    atomic.Pointer[Snapshot]
	changes chan Snapshot

	mu        sync.Mutex // serializes refreshes; guards the fields below
	closed    bool
	started   bool
	lastSkips uint64 // hash of the last logged skipped entries
}

// NewRefresher returns a Refresher for p. It does not poll until Run or
// Refresh is called.
func NewRefresher(p Provider, cfg RefresherConfig) (*Refresher, error) {
	if p == nil {
		return nil, errors.New("seedprovider: nil provider")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("gos_interval: %v is negative", cfg.Interval)
	}
	if cfg.Jitter >= 1 {
		return nil, fmt.Errorf("seedprovider: jitter %v is not below 1", cfg.Jitter)
	}
	r := &Refresher{
		p:        p,
		interval: cfg.Interval,
		jitter:   cfg.Jitter,
		timeout:  cfg.Timeout,
		log:      cfg.Logger,
		metrics:  cfg.Metrics,
		onChange: cfg.OnChange,
		changes:  make(chan Snapshot, 1),
	}
	if r.interval == 0 {
		r.interval = DefaultInterval
	}
	minInterval := cfg.MinInterval
	if minInterval == 0 {
		minInterval = DefaultMinInterval
	}
	r.interval = max(r.interval, minInterval)
	switch {
	case r.jitter == 0:
		r.jitter = DefaultJitter
	case r.jitter < 0:
		r.jitter = 0
	}
	if r.timeout <= 0 {
		r.timeout = r.interval
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "seedprovider", "provider", p.Name())
	if r.metrics == nil {
		r.metrics = new(Metrics)
	}
	return r, nil
}

// Interval returns the effective polling interval (before jitter).
func (r *Refresher) Interval() time.Duration { return r.interval }

// Metrics returns the counters the Refresher updates.
func (r *Refresher) Metrics() *Metrics { return r.metrics }

// Snapshot returns the last good view; ok is false before the first.
func (r *Refresher) Snapshot() (s Snapshot, ok bool) {
	p := r.last.Load()
	if p == nil {
		return Snapshot{}, false
	}
	return *p, true
}

// Changes delivers each new view. It holds at most one snapshot: a slow
// reader sees only the latest. It is closed when Run returns.
func (r *Refresher) Changes() <-chan Snapshot { return r.changes }

// Run polls at once and then every interval (with jitter) until ctx is
// done, then closes Changes and returns nil. Failed polls are logged and
// counted; they never stop Run. Run may be called once.
func (r *Refresher) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("seedprovider: Refresher.Run called twice")
	}
	r.started = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.closed = true
		close(r.changes)
		r.mu.Unlock()
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		_, _, _ = r.Refresh(ctx) // logged and counted inside
		timer.Reset(r.wait())
	}
}

func (r *Refresher) wait() time.Duration {
	if r.jitter == 0 {
		return r.interval
	}
	f := 1 + r.jitter*(2*rand.Float64()-1)
	return time.Duration(float64(r.interval) * f)
}

// Refresh polls the provider once. It returns the current view (the new one,
// or the last good one when the answer was not used), whether the view
// changed, and the error of the poll: a provider failure, or the skipped
// entries of a used answer (see [Partial]). When there has never been a
// good view the returned snapshot is the zero value.
func (r *Refresher) Refresh(ctx context.Context) (Snapshot, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics.Refreshes.Add(1)

	seeds, err := r.call(ctx)
	if err != nil && (!Partial(err) || len(seeds) == 0) {
		return r.fail(err)
	}
	norm, nerr := Normalize(seeds)
	skipped := errors.Join(err, nerr)
	if len(norm) == 0 && skipped != nil {
		return r.fail(fmt.Errorf("no usable seed: %w", skipped))
	}
	r.logSkipped(skipped)

	snap := Snapshot{Seeds: norm, Hash: Hash(norm), At: time.Now(), Skipped: skipped}
	r.metrics.LastSuccess.Store(snap.At.UnixNano())
	prev := r.last.Load()
	if prev != nil && prev.Hash == snap.Hash {
		// Same view: keep the old snapshot (and its time of change) but
		// record the fresh skipped entries.
		if prev.Skipped != skipped {
			kept := *prev
			kept.Skipped = skipped
			r.last.Store(&kept)
			return kept, false, skipped
		}
		return *prev, false, skipped
	}
	r.last.Store(&snap)
	r.metrics.Changes.Add(1)
	r.log.Info("seeds changed", "seeds", len(norm), "hash", fmt.Sprintf("%016x", snap.Hash))
	if r.onChange != nil {
		r.onChange(snap)
	}
	if !r.closed {
		select { // latest wins
		case <-r.changes:
		default:
		}
		r.changes <- snap
	}
	return snap, true, skipped
}

// call asks the provider, turning a panic into an error: the node never
// exits because of what a provider returned.
func (r *Refresher) call(ctx context.Context) (seeds []Seed, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			seeds, err = nil, fmt.Errorf("provider panicked: %v", v)
		}
	}()
	return r.p.Seeds(ctx)
}

func (r *Refresher) fail(err error) (Snapshot, bool, error) {
	r.metrics.Failures.Add(1)
	prev := r.last.Load()
	if prev == nil {
		r.log.Warn("seed provider failed, no view yet", "err", err)
		return Snapshot{}, false, err
	}
	r.log.Warn("seed provider failed, keeping the last view", "err", err, "seeds", len(prev.Seeds))
	return *prev, false, err
}

// logSkipped counts skipped entries and logs them when the set differs from
// the last one logged, so a bad entry is not repeated every poll.
func (r *Refresher) logSkipped(skipped error) {
	entries := Entries(skipped)
	r.metrics.BadEntries.Add(uint64(len(entries)))
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	sum := h.Sum64()
	if sum == r.lastSkips {
		return
	}
	r.lastSkips = sum
	for _, e := range entries {
		r.log.Warn("seed entry skipped", "entry", e.Entry, "err", e.Err)
	}
}
