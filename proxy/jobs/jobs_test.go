package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

func TestAJobCountsEveryAttempt(t *testing.T) {
	r := jobs.NewRegistry()
	j := r.Start(jobs.Warmup, "from a")
	require.True(t, r.Running(jobs.Warmup))
	require.False(t, r.Running(jobs.Repair))
	j.Update(jobs.FromStream(stream.Progress{Source: "a:1", Target: "b:1", Ranges: stream.Ranges{{Start: 1, End: 2}, {Start: 5, End: 9}},
		Total: 100, Counters: stream.Counters{Scanned: 40, Matched: 20, Copied: 15, Bytes: 150, SkippedPresent: 4, SkippedNewer: 1, Errors: 1},
		LastError: "ERR bad payload", KeysPerSec: 15, ETA: 3 * time.Second}))
	s := j.Snapshot()
	require.Equal(t, jobs.Running, s.State)
	require.Equal(t, "a:1", s.Source)
	require.Equal(t, 0, s.RangesDone)
	require.Equal(t, 2, s.RangesTotal)
	require.Equal(t, int64(15), s.KeysCopied)
	require.Equal(t, int64(5), s.KeysSkipped)
	require.Equal(t, 3.0, s.ETASeconds)
	require.Equal(t, "ERR bad payload", s.LastError)

	j.Retry(errors.New("source a:1: connection reset"))
	s = j.Snapshot()
	require.Equal(t, jobs.Running, s.State)
	require.Equal(t, 2, s.Attempts)
	require.Equal(t, 1, s.FailedAttempts)
	require.Equal(t, int64(15), s.KeysCopied, "the failed attempt's keys stay counted")
	require.Equal(t, -1.0, s.ETASeconds)
	require.Equal(t, "source a:1: connection reset", s.LastError)

	j.Update(jobs.FromStream(stream.Progress{Ranges: stream.Ranges{{Start: 1, End: 2}, {Start: 5, End: 9}}, Done: true,
		Counters: stream.Counters{Scanned: 100, Copied: 80, Bytes: 800}}))
	j.Finish(nil)
	j.Update(jobs.Progress{Copied: 1})   // ignored
	j.Finish(errors.New("late failure")) // ignored
	s = j.Snapshot()
	require.Equal(t, jobs.Done, s.State)
	require.NotNil(t, s.Ended)
	require.Equal(t, 2, s.RangesDone)
	require.Equal(t, int64(95), s.KeysCopied)
	require.Equal(t, int64(950), s.Bytes)
	require.Equal(t, 0.0, s.ETASeconds)
	require.False(t, r.Running(jobs.Warmup))

	tot := r.Totals()
	require.Equal(t, jobs.Warmup, tot[0].Kind)
	require.Equal(t, int64(95), tot[0].Copied)
	require.Equal(t, int64(1), tot[0].FailedAttempts)
	require.Equal(t, uint64(1), tot[0].Finished[jobs.Done])
	require.Equal(t, 0, tot[0].Running)
}

func TestFinishNamesHowAJobEnded(t *testing.T) {
	r := jobs.NewRegistry()
	for name, c := range map[string]struct {
		err  error
		want jobs.State
	}{
		"no error is done":             {nil, jobs.Done},
		"a cancelled context is abort": {fmt.Errorf("stream: %w", context.Canceled), jobs.Aborted},
		"any other error is a failure": {errors.New("no replica"), jobs.Failed},
	} {
		t.Run(name, func(t *testing.T) {
			j := r.Start(jobs.Repair, name)
			j.Finish(c.err)
			require.Equal(t, c.want, j.Snapshot().State)
		})
	}
	tot := r.Totals()
	require.Equal(t, jobs.Repair, tot[1].Kind)
	require.Equal(t, map[jobs.State]uint64{jobs.Done: 1, jobs.Aborted: 1, jobs.Failed: 1}, tot[1].Finished)
	require.Equal(t, int64(1), tot[1].FailedAttempts)
}

// Old finished jobs leave the list, not the totals: counters never go
// down.
func TestForgottenJobsStayInTheTotals(t *testing.T) {
	r := jobs.NewRegistry()
	running := r.Start(jobs.Scale, "long")
	for i := range jobs.KeepFinished + 10 {
		j := r.Start(jobs.Warmup, fmt.Sprint(i))
		j.Update(jobs.Progress{Copied: 2, Bytes: 20, ETA: -1})
		j.Finish(nil)
	}
	list := r.List()
	require.Len(t, list, jobs.KeepFinished+1)
	require.Equal(t, "long", list[0].Name, "a running job is never forgotten")
	require.Equal(t, "10", list[1].Name)
	tot := r.Totals()
	require.Equal(t, int64(2*(jobs.KeepFinished+10)), tot[0].Copied)
	require.Equal(t, 1, tot[2].Running)
	running.Finish(nil)
}

func TestStreamsEndpointListsTheJobs(t *testing.T) {
	r := jobs.NewRegistry()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	get := func() []jobs.Snapshot {
		res, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var out []jobs.Snapshot
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return out
	}
	require.Empty(t, get())
	require.NotNil(t, get(), "an empty list is [], not null")
	j := r.Start(jobs.Warmup, "from rack2")
	j.Update(jobs.Progress{RangesTotal: 1, Copied: 7, ETA: -1})
	got := get()
	require.Len(t, got, 1)
	require.Equal(t, jobs.Warmup, got[0].Kind)
	require.Equal(t, int64(7), got[0].KeysCopied)
	require.Equal(t, -1.0, got[0].ETASeconds)
}

func TestConcurrentUpdatesAndReads(t *testing.T) {
	r := jobs.NewRegistry()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := r.Start(jobs.Kinds[i%len(jobs.Kinds)], fmt.Sprint(i))
			for n := range 200 {
				j.Update(jobs.Progress{Copied: int64(n), ETA: -1})
				if n%50 == 0 {
					j.Retry(errors.New("retry"))
				}
			}
			j.Finish(nil)
		}()
	}
	for range 50 {
		_ = r.List()
		_ = r.Totals()
	}
	wg.Wait()
	for _, s := range r.List() {
		require.Equal(t, jobs.Done, s.State)
	}
}
