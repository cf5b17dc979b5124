package seedprovider_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dynomite-go/dynomite/seedprovider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted answers from a list, repeating the last one.
type scripted struct {
	mu      sync.Mutex
	answers []answer
	calls   int
}

type answer struct {
	seeds []seedprovider.Seed
	err   error
	panic bool
	block bool // wait for ctx
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Seeds(ctx context.Context) ([]seedprovider.Seed, error) {
	s.mu.Lock()
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	s.mu.Unlock()
	if a.panic {
		panic("boom")
	}
	if a.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return seedprovider.Clone(a.seeds), a.err
}

func TestNewRefresherIntervals(t *testing.T) {
	p := &scripted{answers: []answer{{}}}
	tests := map[string]struct {
		cfg  seedprovider.RefresherConfig
		want time.Duration
		err  string
	}{
		"defaults to 30 s":                     {want: 30 * time.Second},
		"gos_interval below 30 s is raised":    {cfg: seedprovider.RefresherConfig{Interval: time.Second}, want: 30 * time.Second},
		"gos_interval above 30 s is kept":      {cfg: seedprovider.RefresherConfig{Interval: time.Minute}, want: time.Minute},
		"the floor is configurable":            {cfg: seedprovider.RefresherConfig{Interval: time.Second, MinInterval: 500 * time.Millisecond}, want: time.Second},
		"a negative floor removes it":          {cfg: seedprovider.RefresherConfig{Interval: time.Millisecond, MinInterval: -1}, want: time.Millisecond},
		"a negative interval is rejected":      {cfg: seedprovider.RefresherConfig{Interval: -time.Second}, err: "gos_interval"},
		"a jitter of 1 or more is rejected":    {cfg: seedprovider.RefresherConfig{Jitter: 1}, err: "jitter"},
		"a negative jitter means none (valid)": {cfg: seedprovider.RefresherConfig{Jitter: -1}, want: 30 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := seedprovider.NewRefresher(p, tc.cfg)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, r.Interval())
		})
	}
	_, err := seedprovider.NewRefresher(nil, seedprovider.RefresherConfig{})
	require.Error(t, err)
}

func TestRefresh(t *testing.T) {
	a := seed("127.0.0.1", 8101, "r1", "dc1", 10)
	b := seed("127.0.0.2", 8101, "r1", "dc1", 20)
	b2 := seed("127.0.0.3", 8101, "r1", "dc1", 20) // b with a new address
	entry := seedprovider.NewEntryError("junk", errors.New("bad"))

	type step struct {
		answer  answer
		seeds   []seedprovider.Seed // view after the step
		changed bool
		err     string
	}
	tests := map[string][]step{
		"the first answer is a change, the same answer again is not": {
			{answer: answer{seeds: []seedprovider.Seed{b, a}}, seeds: []seedprovider.Seed{a, b}, changed: true},
			{answer: answer{seeds: []seedprovider.Seed{a, b}}, seeds: []seedprovider.Seed{a, b}},
		},
		"additions, address changes and removals are changes": {
			{answer: answer{seeds: []seedprovider.Seed{a}}, seeds: []seedprovider.Seed{a}, changed: true},
			{answer: answer{seeds: []seedprovider.Seed{a, b}}, seeds: []seedprovider.Seed{a, b}, changed: true},
			{answer: answer{seeds: []seedprovider.Seed{a, b2}}, seeds: []seedprovider.Seed{a, b2}, changed: true},
			{answer: answer{seeds: []seedprovider.Seed{b2}}, seeds: []seedprovider.Seed{b2}, changed: true},
		},
		"a failing provider keeps the last view": {
			{answer: answer{seeds: []seedprovider.Seed{a, b}}, seeds: []seedprovider.Seed{a, b}, changed: true},
			{answer: answer{err: errors.New("unreachable")}, seeds: []seedprovider.Seed{a, b}, err: "unreachable"},
			{answer: answer{err: seedprovider.ErrNoSeeds}, seeds: []seedprovider.Seed{a, b}, err: "no seeds"},
			{answer: answer{panic: true}, seeds: []seedprovider.Seed{a, b}, err: "provider panicked: boom"},
			{answer: answer{block: true}, seeds: []seedprovider.Seed{a, b}, err: "deadline exceeded"},
		},
		"a failure before any view leaves no view": {
			{answer: answer{err: errors.New("unreachable")}, err: "unreachable"},
		},
		"a partial answer is used": {
			{answer: answer{seeds: []seedprovider.Seed{a, b}}, seeds: []seedprovider.Seed{a, b}, changed: true},
			{answer: answer{seeds: []seedprovider.Seed{a}, err: entry}, seeds: []seedprovider.Seed{a}, changed: true, err: "junk"},
		},
		"an answer with only bad entries is a failure": {
			{answer: answer{seeds: []seedprovider.Seed{a}}, seeds: []seedprovider.Seed{a}, changed: true},
			{answer: answer{err: entry}, seeds: []seedprovider.Seed{a}, err: "junk"},
		},
		"conflicting entries keep the first and report the rest": {
			{answer: answer{seeds: []seedprovider.Seed{a}}, seeds: []seedprovider.Seed{a}, changed: true},
			{answer: answer{seeds: []seedprovider.Seed{b, b2}}, seeds: []seedprovider.Seed{b}, changed: true, err: "already held"},
		},
		"an empty answer without error is a legal empty view (static)": {
			{answer: answer{}, seeds: nil, changed: true},
			{answer: answer{}, seeds: nil},
		},
	}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			p := &scripted{}
			var changes []seedprovider.Snapshot
			r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{
				MinInterval: -1, Interval: time.Hour, Timeout: 50 * time.Millisecond,
				OnChange: func(s seedprovider.Snapshot) { changes = append(changes, s) },
			})
			require.NoError(t, err)
			wantChanges := 0
			for i, st := range steps {
				p.answers = append(p.answers, st.answer)
				snap, changed, err := r.Refresh(context.Background())
				require.Equal(t, st.changed, changed, "step %d changed", i)
				if st.err != "" {
					require.ErrorContains(t, err, st.err, "step %d", i)
				} else {
					require.NoError(t, err, "step %d", i)
				}
				require.Equal(t, st.seeds, snap.Seeds, "step %d", i)
				last, ok := r.Snapshot()
				if ok {
					require.Equal(t, snap.Hash, last.Hash)
					require.Equal(t, seedprovider.Hash(last.Seeds), last.Hash)
				}
				if changed {
					wantChanges++
					require.Equal(t, snap, changes[len(changes)-1])
				}
			}
			require.Len(t, changes, wantChanges)
			require.EqualValues(t, len(steps), r.Metrics().Refreshes.Load())
			require.EqualValues(t, wantChanges, r.Metrics().Changes.Load())
		})
	}
}

func TestRefreshMetrics(t *testing.T) {
	a := seed("127.0.0.1", 8101, "r1", "dc1", 10)
	entry := seedprovider.NewEntryError("junk", errors.New("bad"))
	m := new(seedprovider.Metrics)
	p := &scripted{answers: []answer{
		{seeds: []seedprovider.Seed{a}, err: errors.Join(entry, entry)},
		{err: errors.New("down")},
	}}
	r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{Metrics: m})
	require.NoError(t, err)
	require.Same(t, m, r.Metrics())
	_, _, _ = r.Refresh(context.Background())
	_, _, _ = r.Refresh(context.Background())
	require.EqualValues(t, 2, m.Refreshes.Load())
	require.EqualValues(t, 1, m.Failures.Load())
	require.EqualValues(t, 2, m.BadEntries.Load())
	require.EqualValues(t, 1, m.Changes.Load())
	require.NotZero(t, m.LastSuccess.Load())
}

// switching answers between two views on every call.
type flipping struct {
	n     atomic.Int64
	views [2][]seedprovider.Seed
}

func (f *flipping) Name() string { return "flipping" }

func (f *flipping) Seeds(context.Context) ([]seedprovider.Seed, error) {
	return seedprovider.Clone(f.views[f.n.Add(1)%2]), nil
}

func TestRunPollsAndStops(t *testing.T) {
	p := &flipping{views: [2][]seedprovider.Seed{
		{seed("127.0.0.1", 8101, "r1", "dc1", 10)},
		{seed("127.0.0.2", 8101, "r1", "dc1", 10)},
	}}
	r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{Interval: 5 * time.Millisecond, MinInterval: -1})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	var seen []uint64
	for len(seen) < 3 {
		select {
		case s, ok := <-r.Changes():
			require.True(t, ok)
			seen = append(seen, s.Hash)
		case <-time.After(5 * time.Second):
			t.Fatal("no change delivered")
		}
	}
	require.NotEqual(t, seen[0], seen[1])
	cancel()
	require.NoError(t, <-done)
	for range r.Changes() { // drained, then closed
	}
	_, ok := r.Snapshot()
	require.True(t, ok)
	require.ErrorContains(t, r.Run(context.Background()), "twice")
	// Refresh after Run returned must not send on the closed channel.
	_, _, err = r.Refresh(context.Background())
	require.NoError(t, err)
}

func TestRunSurvivesAFailingProvider(t *testing.T) {
	p := &scripted{answers: []answer{{panic: true}, {err: errors.New("down")}, {seeds: []seedprovider.Seed{seed("127.0.0.1", 1, "r", "d", 1)}}}}
	r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{Interval: time.Millisecond, MinInterval: -1, Jitter: 0.5})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	select {
	case s := <-r.Changes():
		require.Len(t, s.Seeds, 1)
	case <-time.After(5 * time.Second):
		t.Fatal("no view after failures")
	}
	cancel()
	require.NoError(t, <-done)
	require.GreaterOrEqual(t, r.Metrics().Failures.Load(), uint64(2))
}

func TestChangesKeepsOnlyTheLatest(t *testing.T) {
	p := &flipping{views: [2][]seedprovider.Seed{
		{seed("127.0.0.1", 8101, "r1", "dc1", 10)},
		{seed("127.0.0.2", 8101, "r1", "dc1", 10)},
	}}
	r, err := seedprovider.NewRefresher(p, seedprovider.RefresherConfig{})
	require.NoError(t, err)
	var last seedprovider.Snapshot
	for range 5 {
		last, _, err = r.Refresh(context.Background())
		require.NoError(t, err)
	}
	got := <-r.Changes()
	require.Equal(t, last, got)
	select {
	case <-r.Changes():
		t.Fatal("more than one snapshot buffered")
	default:
	}
}
