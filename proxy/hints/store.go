package hints

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fsync is when the hint log is flushed to stable storage (hints_fsync).
type Fsync uint8

const (
	// FsyncInterval syncs every target's log every Options.FsyncInterval.
	FsyncInterval Fsync = iota
	// FsyncAlways syncs after every hint, before the write's reply.
	FsyncAlways
	// FsyncNever leaves it to the operating system.
	FsyncNever
)

// ParseFsync reads a hints_fsync value.
func ParseFsync(s string) (Fsync, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "interval", "":
		return FsyncInterval, nil
	case "never":
		return FsyncNever, nil
	}
	return 0, fmt.Errorf("hints_fsync: %q is not always, interval or never", s)
}

func (f Fsync) String() string {
	return [...]string{"interval", "always", "never"}[f]
}

// Reasons a hint is not kept (or is lost), the reason label of
// dynomite_hints_dropped_total.
const (
	DropWindow    = "window"     // the target has been down longer than max_hint_window
	DropMaxBytes  = "max_bytes"  // the target's log holds max_hints_bytes already
	DropDiskError = "disk_error" // the log could not be written
	DropCorrupt   = "corrupt"    // records after a corrupt or truncated place in a segment
)

// Options configure a [Store].
type Options struct {
	// Dir holds one directory per target.
	Dir string
	// Fsync and FsyncInterval (default 1s): hints_fsync.
	Fsync         Fsync
	FsyncInterval time.Duration
	// MaxWindow (default 3h): a target down longer gets no new hints.
	MaxWindow time.Duration
	// MaxBytes (default 1 GiB) caps one target's log.
	MaxBytes int64
	// SegmentBytes (default 64 MiB) is where a segment is closed and the
	// next one started.
	SegmentBytes int64
	// Logger gets one line per episode and reason of hints not kept, and
	// every corrupt segment.
	Logger *slog.Logger
	// Now is the clock (tests set it).
	Now func() time.Time
}

// segment is one file of a target's log, named by its sequence number.
type segment struct {
	seq int64
	// end is the size of the valid records (a corrupt tail found when the
	// store was opened is after it); records counts them.
	end     int64
	records int64
}

// target is one peer's log.
type target struct {
	name string
	dir  string

	mu   sync.Mutex
	segs []*segment // oldest first; the last is the one written to
	w    *os.File   // the last segment, open for appending (nil: none yet)
	buf  []byte
	// the replay position: in segs[0] at offset pos (records before it are
	// acknowledged)
	pos        int64
	pending    int64 // bytes not yet acknowledged
	pendingN   int64 // records not yet acknowledged
	downSince  time.Time
	oldest     int64 // Created of the oldest unacknowledged hint (ms), 0: none
	dirty      bool  // written since the last sync
	written    uint64
	replayed   uint64
	dropped    map[string]uint64
	logged     map[string]bool // reasons logged in this episode
	replaying  bool
	checkpoint int // records acknowledged since the checkpoint was written
}

// Store is the hint log of one coordinator: one append-only log per target
// under Options.Dir. It is safe for concurrent use.
type Store struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	targets map[string]*target

	stop chan struct{}
	done chan struct{}
}

// Open opens (creating it if needed) the hint store in opts.Dir and reads
// the logs left there, reporting corrupt or truncated segments; the records
// before the damage are kept for replay.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("hints_dir: empty")
	}
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = time.Second
	}
	if opts.MaxWindow <= 0 {
		opts.MaxWindow = 3 * time.Hour
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("hints_dir %s: %w", opts.Dir, err)
	}
	s := &Store{opts: opts, log: opts.Logger.With("component", "hints"), targets: map[string]*target{},
		stop: make(chan struct{}), done: make(chan struct{})}
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("hints_dir %s: %w", opts.Dir, err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name, err := url.PathUnescape(e.Name())
		if err != nil {
			s.log.Warn("ignoring a directory that names no target", "dir", filepath.Join(opts.Dir, e.Name()))
			continue
		}
		t, err := s.load(name, filepath.Join(opts.Dir, e.Name()))
		if err != nil {
			return nil, err
		}
		s.targets[name] = t
	}
	if opts.Fsync == FsyncInterval {
		go s.syncLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// load reads one target's segments and checkpoint.
func (s *Store) load(name, dir string) (*target, error) {
	t := &target{name: name, dir: dir, dropped: map[string]uint64{}, logged: map[string]bool{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hints: reading %s: %w", dir, err)
	}
	for _, e := range ents {
		seq, ok := strings.CutSuffix(e.Name(), ".hint")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(seq, 10, 64)
		if err != nil {
			continue
		}
		seg, err := s.scan(t, n)
		if err != nil {
			return nil, err
		}
		t.segs = append(t.segs, seg)
	}
	sort.Slice(t.segs, func(i, j int) bool { return t.segs[i].seq < t.segs[j].seq })
	cpSeq, cpOff := readCheckpoint(dir)
	for len(t.segs) > 0 && t.segs[0].seq < cpSeq {
		// replayed before the restart; its deletion did not happen
		_ = os.Remove(t.path(t.segs[0].seq))
		t.segs = t.segs[1:]
	}
	for _, seg := range t.segs {
		t.pending += seg.end
		t.pendingN += seg.records
	}
	if len(t.segs) > 0 && t.segs[0].seq == cpSeq && cpOff <= t.segs[0].end {
		t.pos = cpOff
		t.pending -= cpOff
		t.pendingN -= countRecords(t.path(cpSeq), cpOff)
	}
	if t.pendingN > 0 {
		t.oldest = s.opts.Now().UnixMilli()
		if h, ok := t.peek(); ok {
			t.oldest = h.Created
		}
	}
	return t, nil
}

// scan validates segment seq of t, reporting damage with file and offset.
func (s *Store) scan(t *target, seq int64) (*segment, error) {
	path := t.path(seq)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hints: reading %s: %w", path, err)
	}
	seg := &segment{seq: seq}
	var h Hint
	for seg.end < int64(len(b)) {
		n, err := parseRecord(b[seg.end:], &h)
		if err != nil {
			what := "corrupt"
			if errors.Is(err, errShort) {
				what = "truncated"
			}
			s.log.Error("hint segment "+what+": replaying the records before the damage, dropping the rest",
				"file", path, "offset", seg.end, "records_kept", seg.records, "bytes_dropped", int64(len(b))-seg.end, "err", err)
			t.dropped[DropCorrupt]++
			break
		}
		seg.end += int64(n)
		seg.records++
	}
	return seg, nil
}

// countRecords counts the records in the first off bytes of the file.
func countRecords(path string, off int64) int64 {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < off {
		return 0
	}
	var n int64
	var h Hint
	for p := int64(0); p < off; {
		k, err := parseRecord(b[p:off], &h)
		if err != nil {
			break
		}
		p += int64(k)
		n++
	}
	return n
}

func (t *target) path(seq int64) string {
	return filepath.Join(t.dir, fmt.Sprintf("%016d.hint", seq))
}

const checkpointFile = "checkpoint"

// readCheckpoint returns the replay position saved in dir: the first
// segment not fully acknowledged and the offset in it (0, 0 without one).
func readCheckpoint(dir string) (seq, off int64) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	seq, err1 := strconv.ParseInt(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || off < 0 {
		return 0, 0
	}
	return seq, off
}

// writeCheckpoint saves the replay position atomically (write, rename).
func (t *target) writeCheckpoint(seq, off int64) error {
	tmp := filepath.Join(t.dir, checkpointFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(seq, 10)+" "+strconv.FormatInt(off, 10)+"\n"), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(t.dir, checkpointFile))
}

// target returns the log of name, creating it.
func (s *Store) target(name string) *target {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.targets[name]
	if t == nil {
		t = &target{name: name, dir: filepath.Join(s.opts.Dir, url.PathEscape(name)), dropped: map[string]uint64{}, logged: map[string]bool{}}
		s.targets[name] = t
	}
	return t
}

// Add keeps h for target. It returns "" when the hint was written, else the
// reason it was not (Drop*): then it is counted and, once per episode (until
// [Store.Up]) and reason, logged. The write reaches the kernel before Add
// returns, so a crash of the process loses nothing; Options.Fsync decides
// what a crash of the machine loses.
func (s *Store) Add(target string, h *Hint) string {
	t := s.target(target)
	now := s.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.downSince.IsZero() {
		t.downSince = now
	}
	reason := ""
	size := int64(recordHeader + payloadFixed + len(h.Raw))
	switch {
	case now.Sub(t.downSince) > s.opts.MaxWindow:
		reason = DropWindow
	case t.pending+size > s.opts.MaxBytes:
		reason = DropMaxBytes
	default:
		if err := s.write(t, h, size); err != nil {
			reason = DropDiskError
			s.dropLocked(t, reason, err)
			return reason
		}
		t.written++
		return ""
	}
	s.dropLocked(t, reason, nil)
	return reason
}

// dropLocked counts a hint not kept and logs the first of an episode.
func (s *Store) dropLocked(t *target, reason string, err error) {
	t.dropped[reason]++
	if t.logged[reason] {
		return
	}
	t.logged[reason] = true
	args := []any{"target", t.name, "reason", reason, "down_since", t.downSince.Format(time.RFC3339),
		"pending_bytes", t.pending, "max_hints_bytes", s.opts.MaxBytes, "max_hint_window", s.opts.MaxWindow}
	if err != nil {
		args = append(args, "err", err)
	}
	s.log.Warn("hints not kept for a target: it will miss writes until repaired (further drops of this episode are only counted)", args...)
}

// write appends h's record to t's last segment, starting one when needed.
func (s *Store) write(t *target, h *Hint, size int64) error {
	if h.Created == 0 {
		h.Created = s.opts.Now().UnixMilli()
	}
	if t.w == nil || (len(t.segs) > 0 && t.segs[len(t.segs)-1].end >= s.opts.SegmentBytes) {
		if err := s.rotate(t); err != nil {
			return err
		}
	}
	t.buf = appendRecord(t.buf[:0], h)
	seg := t.segs[len(t.segs)-1]
	if _, err := t.w.Write(t.buf); err != nil {
		// cut what may have been written, so the segment stays parseable
		_ = t.w.Truncate(seg.end)
		return err
	}
	if s.opts.Fsync == FsyncAlways {
		if err := t.w.Sync(); err != nil {
			return err
		}
	} else {
		t.dirty = true
	}
	seg.end += size
	seg.records++
	t.pending += size
	t.pendingN++
	if t.oldest == 0 {
		t.oldest = h.Created
	}
	if cap(t.buf) > 1<<20 {
		t.buf = nil
	}
	return nil
}

// rotate closes the last segment and starts the next. A segment from before
// a restart is never appended to: its tail may be damaged.
func (s *Store) rotate(t *target) error {
	if err := os.MkdirAll(t.dir, 0o750); err != nil {
		return err
	}
	if t.w != nil {
		if s.opts.Fsync != FsyncNever {
			_ = t.w.Sync()
		}
		_ = t.w.Close()
		t.w = nil
	}
	seq := int64(1)
	if len(t.segs) > 0 {
		seq = t.segs[len(t.segs)-1].seq + 1
	} else if cp, _ := readCheckpoint(t.dir); cp >= seq {
		seq = cp
	}
	f, err := os.OpenFile(t.path(seq), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	t.w = f
	t.segs = append(t.segs, &segment{seq: seq})
	if len(t.segs) == 1 {
		t.pos = 0
	}
	return nil
}

// Up ends target's episode of failures: the window restarts with its next
// failure, and the next hint not kept is logged again.
func (s *Store) Up(target string) {
	s.mu.Lock()
	t := s.targets[target]
	s.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	t.downSince = time.Time{}
	clear(t.logged)
	t.mu.Unlock()
}

// Pending reports whether target has hints not yet acknowledged.
func (s *Store) Pending(target string) bool {
	s.mu.Lock()
	t := s.targets[target]
	s.mu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pendingN > 0
}

// peek reads the record at the replay position (t.mu held).
func (t *target) peek() (Hint, bool) {
	if len(t.segs) == 0 {
		return Hint{}, false
	}
	seg := t.segs[0]
	if t.pos >= seg.end {
		return Hint{}, false
	}
	f, err := os.Open(t.path(seg.seq))
	if err != nil {
		return Hint{}, false
	}
	defer f.Close()
	hdr := make([]byte, recordHeader+payloadFixed)
	if _, err := f.ReadAt(hdr, t.pos); err != nil {
		return Hint{}, false
	}
	var h Hint
	h.PeerType = hdr[recordHeader+1]
	h.Created = int64(binary.LittleEndian.Uint64(hdr[recordHeader+18:]))
	return h, true
}

// Sender delivers one hint to its target and returns once the target
// acknowledged it (nil) or it could not be delivered (an error: replay
// stops, to resume from that hint).
type Sender func(ctx context.Context, h *Hint) error

// ErrReplaying is returned by Replay when another replay of the same
// target is running.
var ErrReplaying = errors.New("hints: a replay of this target is already running")

// checkpointEvery is how many acknowledged records may be resent after a
// restart at most (besides those of the segment under way at a crash).
const checkpointEvery = 64

// Replay sends target's hints in the order they were kept, at most rate
// bytes a second (0: unthrottled), and deletes each segment once all its
// records are acknowledged; the position is saved in the target's
// checkpoint file every checkpointEvery records, so a restart resends at
// most those. It returns nil when every hint was acknowledged, the first
// error of send otherwise, or ctx's error.
func (s *Store) Replay(ctx context.Context, target string, rate int64, send Sender) error {
	s.mu.Lock()
	t := s.targets[target]
	s.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	if t.replaying {
		t.mu.Unlock()
		return ErrReplaying
	}
	t.replaying = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.replaying = false
		if len(t.segs) > 0 {
			_ = t.writeCheckpoint(t.segs[0].seq, t.pos)
		}
		t.mu.Unlock()
	}()
	pace := pacer{rate: rate, start: time.Now()}
	for {
		t.mu.Lock()
		if len(t.segs) == 0 {
			t.mu.Unlock()
			return nil
		}
		seg, pos := t.segs[0], t.pos
		last := len(t.segs) == 1
		if pos >= seg.end {
			// this segment is acknowledged: delete it, unless it is being
			// written to and will get more
			if last && t.w != nil {
				_ = t.w.Close()
				t.w = nil
			}
			err := os.Remove(t.path(seg.seq))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.mu.Unlock()
				return fmt.Errorf("hints: deleting replayed segment %s: %w", t.path(seg.seq), err)
			}
			t.segs, t.pos = t.segs[1:], 0
			next := seg.seq + 1
			if len(t.segs) > 0 {
				next = t.segs[0].seq
			}
			_ = t.writeCheckpoint(next, 0)
			if len(t.segs) == 0 {
				t.oldest = 0
			}
			t.mu.Unlock()
			continue
		}
		end := seg.end
		path := t.path(seg.seq)
		t.mu.Unlock()

		err := s.replaySegment(ctx, t, seg, path, pos, end, &pace, send)
		if err != nil {
			return err
		}
	}
}

// replaySegment sends the records of path from pos to end.
func (s *Store) replaySegment(ctx context.Context, t *target, seg *segment, path string, pos, end int64, pace *pacer, send Sender) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hints: opening %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, end-pos)
	if _, err := io.ReadFull(io.NewSectionReader(f, pos, end-pos), buf); err != nil {
		return fmt.Errorf("hints: reading %s at offset %d: %w", path, pos, err)
	}
	var h Hint
	for off := int64(0); off < int64(len(buf)); {
		n, err := parseRecord(buf[off:], &h)
		if err != nil {
			// written by this process and damaged since: report it and
			// drop the rest of this segment
			s.log.Error("hint segment corrupt: dropping the rest of it", "file", path, "offset", pos+off, "err", err)
			t.mu.Lock()
			t.dropped[DropCorrupt]++
			t.pos = end
			t.pending, t.pendingN = 0, 0
			for _, later := range t.segs[1:] {
				t.pending += later.end
				t.pendingN += later.records
			}
			t.mu.Unlock()
			return nil
		}
		if err := pace.wait(ctx, int64(n)); err != nil {
			return err
		}
		if err := send(ctx, &h); err != nil {
			return err
		}
		off += int64(n)
		t.mu.Lock()
		t.pos = pos + off
		t.pending -= int64(n)
		t.pendingN--
		t.replayed++
		t.oldest = h.Created
		t.checkpoint++
		if t.checkpoint >= checkpointEvery {
			t.checkpoint = 0
			_ = t.writeCheckpoint(seg.seq, t.pos)
		}
		t.mu.Unlock()
	}
	return nil
}

// pacer spaces sends so that bytes go out at rate a second on average.
type pacer struct {
	rate  int64
	start time.Time
	sent  int64
}

func (p *pacer) wait(ctx context.Context, n int64) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	due := p.start.Add(time.Duration(float64(p.sent) / float64(p.rate) * float64(time.Second)))
	p.sent += n
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// TargetStats is one target's hint log, for /info and the metrics.
type TargetStats struct {
	Target                       string
	PendingRecords, PendingBytes int64
	Written, Replayed            uint64
	Dropped                      map[string]uint64
	Oldest                       time.Time // of the oldest unacknowledged hint; zero: none
	DownSince                    time.Time // start of the current episode of failures; zero: none
	Replaying                    bool
}

// Stats lists every target's log, sorted by target.
func (s *Store) Stats() []TargetStats {
	s.mu.Lock()
	ts := make([]*target, 0, len(s.targets))
	for _, t := range s.targets {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	out := make([]TargetStats, 0, len(ts))
	for _, t := range ts {
		t.mu.Lock()
		st := TargetStats{Target: t.name, PendingRecords: t.pendingN, PendingBytes: t.pending, Written: t.written,
			Replayed: t.replayed, Dropped: make(map[string]uint64, len(t.dropped)), DownSince: t.downSince, Replaying: t.replaying}
		for k, v := range t.dropped {
			st.Dropped[k] = v
		}
		if t.oldest != 0 && t.pendingN > 0 {
			st.Oldest = time.UnixMilli(t.oldest)
		}
		t.mu.Unlock()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// Targets lists the targets with hints not yet acknowledged.
func (s *Store) Targets() []string {
	var out []string
	for _, st := range s.Stats() {
		if st.PendingRecords > 0 {
			out = append(out, st.Target)
		}
	}
	return out
}

// syncLoop flushes written logs every FsyncInterval (FsyncInterval policy).
func (s *Store) syncLoop() {
	defer close(s.done)
	tk := time.NewTicker(s.opts.FsyncInterval)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			s.syncAll()
			return
		case <-tk.C:
			s.syncAll()
		}
	}
}

func (s *Store) syncAll() {
	s.mu.Lock()
	ts := make([]*target, 0, len(s.targets))
	for _, t := range s.targets {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	for _, t := range ts {
		t.mu.Lock()
		if t.dirty && t.w != nil {
			if err := t.w.Sync(); err != nil {
				s.log.Error("hints: syncing the log failed", "target", t.name, "err", err)
			}
			t.dirty = false
		}
		t.mu.Unlock()
	}
}

// Close stops the sync loop, syncs and closes the logs. Hints kept stay on
// disk for the next Open.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, t := range s.targets {
		t.mu.Lock()
		if t.w != nil {
			if s.opts.Fsync != FsyncNever {
				if err := t.w.Sync(); err != nil && first == nil {
					first = err
				}
			}
			_ = t.w.Close()
			t.w = nil
		}
		if len(t.segs) > 0 {
			_ = t.writeCheckpoint(t.segs[0].seq, t.pos)
		}
		t.mu.Unlock()
	}
	return first
}
