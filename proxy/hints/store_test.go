package hints

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, dir string, mod func(*Options)) (*Store, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	o := Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(o)
	require.NoError(t, err)
	return s, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func hint(i int) *Hint {
	return &Hint{Stamp: uint64(1000 + i), Node: 9, PeerType: 1, Raw: []byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%d\r\n", len(fmt.Sprint(i)), i))}
}

// collect replays target and returns the stamps sent, in order.
func collect(t *testing.T, s *Store, target string, failAfter int) ([]uint64, error) {
	t.Helper()
	var got []uint64
	err := s.Replay(context.Background(), target, 0, func(_ context.Context, h *Hint) error {
		if failAfter >= 0 && len(got) == failAfter {
			return errors.New("target went away")
		}
		got = append(got, h.Stamp)
		return nil
	})
	return got, err
}

func stamps(from, to int) []uint64 {
	var out []uint64
	for i := from; i < to; i++ {
		out = append(out, uint64(1000+i))
	}
	return out
}

func TestReplaySendsHintsInOrderAcrossSegmentsAndDeletesThem(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, func(o *Options) { o.SegmentBytes = 200 })
	defer s.Close()
	for i := range 50 {
		require.Empty(t, s.Add("10.0.0.2:8101", hint(i)))
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*", "*.hint"))
	require.Greater(t, len(segs), 3, "small segments: the log rotated")
	st := s.Stats()
	require.Len(t, st, 1)
	require.EqualValues(t, 50, st[0].PendingRecords)
	require.EqualValues(t, 50, st[0].Written)

	got, err := collect(t, s, "10.0.0.2:8101", -1)
	require.NoError(t, err)
	require.Equal(t, stamps(0, 50), got)
	segs, _ = filepath.Glob(filepath.Join(dir, "*", "*.hint"))
	require.Empty(t, segs, "acknowledged segments are deleted")
	st = s.Stats()
	require.Zero(t, st[0].PendingRecords)
	require.Zero(t, st[0].PendingBytes)
	require.EqualValues(t, 50, st[0].Replayed)

	// hints kept after a replay go to a new segment and replay too
	require.Empty(t, s.Add("10.0.0.2:8101", hint(50)))
	got, err = collect(t, s, "10.0.0.2:8101", -1)
	require.NoError(t, err)
	require.Equal(t, stamps(50, 51), got)
}

func TestReplayResumesWhereTheTargetStoppedAcknowledging(t *testing.T) {
	s, _ := open(t, t.TempDir(), nil)
	defer s.Close()
	for i := range 10 {
		require.Empty(t, s.Add("b", hint(i)))
	}
	got, err := collect(t, s, "b", 4)
	require.Error(t, err)
	require.Equal(t, stamps(0, 4), got)
	require.EqualValues(t, 6, s.Stats()[0].PendingRecords)
	got, err = collect(t, s, "b", -1)
	require.NoError(t, err)
	require.Equal(t, stamps(4, 10), got)
}

func TestMaxBytesAndWindowDropAreCountedAndLoggedOncePerEpisode(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	size := int64(len(appendRecord(nil, hint(1))))
	s, logs := open(t, t.TempDir(), func(o *Options) {
		o.MaxBytes = 3 * size
		o.MaxWindow = time.Hour
		o.Now = clk.Now
	})
	defer s.Close()
	for i := range 3 {
		require.Empty(t, s.Add("c", hint(i)))
	}
	require.Equal(t, DropMaxBytes, s.Add("c", hint(3)))
	require.Equal(t, DropMaxBytes, s.Add("c", hint(4)))
	// drain, then the window: the target has been failing since the first hint
	_, err := collect(t, s, "c", -1)
	require.NoError(t, err)
	clk.Add(time.Hour + time.Second)
	require.Equal(t, DropWindow, s.Add("c", hint(5)))
	require.Equal(t, DropWindow, s.Add("c", hint(6)))
	st := s.Stats()[0]
	require.Equal(t, map[string]uint64{DropMaxBytes: 2, DropWindow: 2}, st.Dropped)
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("reason=max_bytes")), logs.String())
	require.Equal(t, 1, bytes.Count(logs.Bytes(), []byte("reason=window")), logs.String())

	// the target came back: a new episode, a new window, logged again
	s.Up("c")
	require.Empty(t, s.Add("c", hint(7)))
	clk.Add(2 * time.Hour)
	require.Equal(t, DropWindow, s.Add("c", hint(8)))
	require.Equal(t, 2, bytes.Count(logs.Bytes(), []byte("reason=window")), logs.String())
}

func TestDiskErrorIsCountedNotSilent(t *testing.T) {
	dir := t.TempDir()
	s, logs := open(t, dir, nil)
	defer s.Close()
	// a file where the target's directory would go
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d"), nil, 0o600))
	require.Equal(t, DropDiskError, s.Add("d", hint(1)))
	require.Equal(t, uint64(1), s.Stats()[0].Dropped[DropDiskError])
	require.Contains(t, logs.String(), "reason=disk_error")
}

func TestHintsSurviveARestartAndTheCheckpointAvoidsResending(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, func(o *Options) { o.Fsync = FsyncAlways })
	for i := range 200 {
		require.Empty(t, s.Add("e", hint(i)))
	}
	got, err := collect(t, s, "e", 150)
	require.Error(t, err)
	require.Len(t, got, 150)
	// no Close: the process died; what was written is in the files
	s2, _ := open(t, dir, nil)
	defer s2.Close()
	require.EqualValues(t, 50, s2.Stats()[0].PendingRecords, "the checkpoint written when replay stopped")
	got, err = collect(t, s2, "e", -1)
	require.NoError(t, err)
	require.Equal(t, stamps(150, 200), got)
	s.Close()
}

func TestAKilledReplayResendsAtMostCheckpointEvery(t *testing.T) {
	dir := t.TempDir()
	killed := filepath.Join(t.TempDir(), "killed")
	s, _ := open(t, dir, nil)
	defer s.Close()
	for i := range 200 {
		require.Empty(t, s.Add("f", hint(i)))
	}
	n := 0
	err := s.Replay(context.Background(), "f", 0, func(_ context.Context, h *Hint) error {
		if n == 100 {
			// SIGKILL now: the directory as it is at this instant is what a
			// restarted node finds (the replay's own stop never happens)
			require.NoError(t, os.CopyFS(killed, os.DirFS(dir)))
			return errors.New("killed")
		}
		n++
		return nil
	})
	require.Error(t, err)
	s2, _ := open(t, killed, nil)
	defer s2.Close()
	// 100 were acknowledged; the last checkpoint was at 64
	require.EqualValues(t, 200-checkpointEvery, s2.Stats()[0].PendingRecords)
	got, err := collect(t, s2, "f", -1)
	require.NoError(t, err)
	require.Equal(t, stamps(checkpointEvery, 200), got)
}

func TestCorruptAndTruncatedSegmentsReplayTheGoodRecordsAndNameFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, func(o *Options) { o.SegmentBytes = 300 })
	for i := range 20 {
		require.Empty(t, s.Add("g", hint(i)))
	}
	require.NoError(t, s.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, "g", "*.hint"))
	require.GreaterOrEqual(t, len(segs), 3)
	rec := int64(len(appendRecord(nil, hint(1)))) // hints 0..9 have the same size
	// flip a byte in the second record of the first segment
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	perSeg := int64(len(b)) / rec
	b[rec+recordHeader+5] ^= 0xff
	require.NoError(t, os.WriteFile(segs[0], b, 0o600))
	// cut the last segment in the middle of its last record
	last, err := os.ReadFile(segs[len(segs)-1])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(segs[len(segs)-1], last[:len(last)-3], 0o600))

	s2, logs := open(t, dir, nil)
	defer s2.Close()
	require.Contains(t, logs.String(), "file="+segs[0])
	require.Contains(t, logs.String(), fmt.Sprintf("offset=%d", rec))
	require.Contains(t, logs.String(), "file="+segs[len(segs)-1])
	require.Contains(t, logs.String(), "truncated")
	got, err := collect(t, s2, "g", -1)
	require.NoError(t, err)
	// the first segment's first record, then every other segment's, but
	// not the last record of the last
	want := stamps(0, 1)
	want = append(want, stamps(int(perSeg), 19)...)
	require.Equal(t, want, got)
	require.EqualValues(t, 2, s2.Stats()[0].Dropped[DropCorrupt])
	// the node keeps taking hints
	require.Empty(t, s2.Add("g", hint(30)))
}

func TestReplayIsThrottled(t *testing.T) {
	s, _ := open(t, t.TempDir(), nil)
	defer s.Close()
	for i := range 4 {
		require.Empty(t, s.Add("h", hint(i)))
	}
	size := int64(len(appendRecord(nil, hint(1))))
	var times []time.Time
	err := s.Replay(context.Background(), "h", size*20, func(_ context.Context, h *Hint) error {
		times = append(times, time.Now())
		return nil
	})
	require.NoError(t, err)
	// 4 records at 20 records a second: the last is sent at least 150ms
	// after the first (pacing only delays, so this holds on a slow machine)
	require.GreaterOrEqual(t, times[3].Sub(times[0]), 150*time.Millisecond)
}

func TestOnlyOneReplayPerTarget(t *testing.T) {
	s, _ := open(t, t.TempDir(), nil)
	defer s.Close()
	require.Empty(t, s.Add("i", hint(1)))
	inside := make(chan struct{})
	release := make(chan struct{})
	// the first replay must have finished (its segment deleted) before the
	// store closes and TempDir's cleanup removes the directory
	done := make(chan error, 1)
	go func() {
		done <- s.Replay(context.Background(), "i", 0, func(context.Context, *Hint) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	require.ErrorIs(t, s.Replay(context.Background(), "i", 0, func(context.Context, *Hint) error { return nil }), ErrReplaying)
	close(release)
	require.NoError(t, <-done)
}

func TestParseFsync(t *testing.T) {
	for in, want := range map[string]Fsync{"always": FsyncAlways, "interval": FsyncInterval, "never": FsyncNever, "": FsyncInterval} {
		got, err := ParseFsync(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ParseFsync("sometimes")
	require.ErrorContains(t, err, `hints_fsync: "sometimes"`)
}
