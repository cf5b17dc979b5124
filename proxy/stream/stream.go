package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/atomicfile"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Protocol is the datastore protocol of an endpoint.
type Protocol int

// The datastores a stream can copy between.
const (
	Redis Protocol = iota
	Memcached
)

func (p Protocol) String() string {
	if p == Memcached {
		return "memcached"
	}
	return "redis"
}

// Endpoint is a datastore the stream connects to itself.
type Endpoint struct {
	Addr     string
	Protocol Protocol
	// Password is sent with AUTH on connecting to a Redis (the node's
	// datastore_password); empty sends none.
	Password string
}

// Versioner decides, for a key that the target already holds, whether the
// source's copy is newer and should replace it. Without one, a key present
// on the target is never overwritten. The read-repair timestamps can
// implement it: both connections are open on the datastores.
type Versioner interface {
	SourceNewer(ctx context.Context, key []byte, src, dst *Conn) (bool, error)
}

// Options tune a stream. The zero value of every field but Topology is a
// sensible default.
type Options struct {
	// Topology maps keys to tokens (hash and hash tag) as the router does.
	Topology *ring.Topology
	// Keyless also copies keys that have nothing to hash (see KeyFilter).
	Keyless bool
	// ScanCount is SCAN's COUNT hint, and the most keys copied in one
	// pipeline (default 1000).
	ScanCount int
	// LargeKeyBytes is the size (Redis MEMORY USAGE) above which a key is
	// copied in chunks rather than with one DUMP/RESTORE (default 1 MiB).
	LargeKeyBytes int64
	// ChunkBytes is the size of a string chunk (default 512 KiB), and
	// ChunkItems the elements per chunk of a hash, set, sorted set, list or
	// stream (default 1000).
	ChunkBytes int
	ChunkItems int
	// Throttle limits the rate; nil means unlimited. The caller keeps it and
	// may change its limits while the stream runs.
	Throttle *Throttle
	// Checkpoint is a file that records where the stream is, written
	// atomically every CheckpointEvery (default 1s) and when Run returns. A
	// stream started with an existing checkpoint resumes from it. Empty
	// means no checkpoint.
	Checkpoint      string
	CheckpointEvery time.Duration
	// Versioner, if set, is asked about keys that the target already holds.
	Versioner Versioner
	// Timeout bounds connecting and each reply (default 30s).
	Timeout time.Duration
	// Clock is the time source (default the real clock).
	Clock Clock
}

// Progress is a snapshot of a stream.
type Progress struct {
	Source, Target string
	Ranges         Ranges
	// Total is the number of keys on the source when the stream started
	// (DBSIZE, or memcached's curr_items), the base of the ETA.
	Total int64
	Counters
	// Resumed says the stream started from a checkpoint; the counters
	// include the runs before.
	Resumed bool
	// LastError is the last per-key error.
	LastError string
	// Elapsed is this run's time, and the rates are this run's averages.
	Elapsed     time.Duration
	KeysPerSec  float64
	BytesPerSec float64
	// ETA is the time left to scan the rest of the source at this run's scan
	// rate; -1 while unknown.
	ETA  time.Duration
	Done bool
}

// Counters are the totals of a stream, kept across resumes.
type Counters struct {
	// Scanned keys were returned by SCAN or metadump; Matched of them fall
	// in the ranges.
	Scanned int64 `json:"scanned"`
	Matched int64 `json:"matched"`
	// Copied keys were written to the target; Bytes is their payload.
	Copied int64 `json:"copied"`
	Bytes  int64 `json:"bytes"`
	// SkippedPresent keys were already on the target and left alone;
	// SkippedNewer keys were on the target and the Versioner kept the
	// target's copy.
	SkippedPresent int64 `json:"skipped_present"`
	SkippedNewer   int64 `json:"skipped_newer"`
	// Gone keys expired or were deleted on the source before being copied.
	Gone int64 `json:"gone"`
	// Errors are per-key failures (an error reply); the stream goes on.
	Errors int64 `json:"errors"`
}

type counters struct {
	scanned, matched, copied, bytes, present, newer, gone, errors atomic.Int64
}

func (c *counters) load() Counters {
	return Counters{Scanned: c.scanned.Load(), Matched: c.matched.Load(), Copied: c.copied.Load(),
		Bytes: c.bytes.Load(), SkippedPresent: c.present.Load(), SkippedNewer: c.newer.Load(),
		Gone: c.gone.Load(), Errors: c.errors.Load()}
}

func (c *counters) store(v Counters) {
	c.scanned.Store(v.Scanned)
	c.matched.Store(v.Matched)
	c.copied.Store(v.Copied)
	c.bytes.Store(v.Bytes)
	c.present.Store(v.SkippedPresent)
	c.newer.Store(v.SkippedNewer)
	c.gone.Store(v.Gone)
	c.errors.Store(v.Errors)
}

// checkpoint is the file a stream resumes from.
type checkpoint struct {
	Source   string   `json:"source"`
	Target   string   `json:"target"`
	Protocol string   `json:"protocol"`
	Ranges   Ranges   `json:"ranges"`
	Cursor   string   `json:"cursor"`
	Done     [][]byte `json:"done,omitempty"`
	Counters Counters `json:"counters"`
	Finished bool     `json:"finished"`
}

// Stream copies the keys of a set of token ranges from a source datastore to
// a target. Build it with New, run it once with Run, and read Progress from
// any goroutine meanwhile.
type Stream struct {
	src, dst Endpoint
	filter   KeyFilter
	opts     Options
	clock    Clock

	c       counters
	total   atomic.Int64
	started atomic.Int64 // unix nanoseconds of this run's start
	base    atomic.Int64 // keys scanned before this run (resume)
	done    atomic.Bool
	resumed atomic.Bool
	running atomic.Bool
	lastErr atomic.Pointer[string]

	// Run's own state, saved to the checkpoint.
	cursor    string
	batchDone [][]byte
	lastSave  time.Time
}

// New checks its arguments and returns a stream that copies, from src to
// dst, the keys whose token falls in ranges.
func New(src, dst Endpoint, ranges Ranges, opts Options) (*Stream, error) {
	switch {
	case src.Addr == "" || dst.Addr == "":
		return nil, errors.New("stream: the source and target addresses must be set")
	case src.Protocol != dst.Protocol:
		return nil, fmt.Errorf("stream: source %s speaks %s but target %s speaks %s", src.Addr, src.Protocol, dst.Addr, dst.Protocol)
	case opts.Topology == nil:
		return nil, errors.New("stream: Options.Topology is required to hash keys")
	case len(ranges) == 0:
		return nil, errors.New("stream: no token ranges to copy")
	}
	opts.ScanCount = cmpOr(opts.ScanCount, 1000)
	opts.LargeKeyBytes = cmpOr(opts.LargeKeyBytes, 1<<20)
	opts.ChunkBytes = cmpOr(opts.ChunkBytes, 512<<10)
	opts.ChunkItems = cmpOr(opts.ChunkItems, 1000)
	opts.CheckpointEvery = cmpOr(opts.CheckpointEvery, time.Second)
	opts.Timeout = cmpOr(opts.Timeout, 30*time.Second)
	s := &Stream{src: src, dst: dst, opts: opts, clock: opts.Clock, cursor: "0",
		filter: KeyFilter{Topo: opts.Topology, Ranges: slices.Clone(ranges), Keyless: opts.Keyless}}
	if s.clock == nil {
		s.clock = realClock{}
	}
	return s, nil
}

func cmpOr[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Run copies until every key of the ranges has been handled, ctx is
// cancelled, or a datastore fails. A checkpoint is saved whatever the
// outcome, so a new stream with the same checkpoint file resumes. Run may be
// called once.
func (s *Stream) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("stream: Run called twice")
	}
	finished, err := s.load()
	if err != nil || finished {
		s.done.Store(finished)
		return err
	}
	now := s.clock.Now()
	s.started.Store(now.UnixNano())
	s.lastSave = now
	s.base.Store(s.c.scanned.Load())
	if s.src.Protocol == Memcached {
		err = s.runMemcached(ctx)
	} else {
		err = s.runRedis(ctx)
	}
	if err == nil {
		s.done.Store(true)
	}
	if serr := s.save(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// Progress returns a snapshot; it is safe to call while Run runs.
func (s *Stream) Progress() Progress {
	p := Progress{Source: s.src.Addr, Target: s.dst.Addr, Ranges: slices.Clone(s.filter.Ranges),
		Total: s.total.Load(), Counters: s.c.load(), Resumed: s.resumed.Load(), Done: s.done.Load(), ETA: -1}
	if e := s.lastErr.Load(); e != nil {
		p.LastError = *e
	}
	if st := s.started.Load(); st != 0 {
		p.Elapsed = s.clock.Now().Sub(time.Unix(0, st))
	}
	if sec := p.Elapsed.Seconds(); sec > 0 {
		p.KeysPerSec = float64(p.Copied) / sec
		p.BytesPerSec = float64(p.Bytes) / sec
		scanned := p.Scanned - s.base.Load()
		if rate := float64(scanned) / sec; rate > 0 && p.Total > 0 {
			p.ETA = time.Duration(float64(max(p.Total-p.Scanned, 0)) / rate * float64(time.Second))
		}
	}
	if p.Done {
		p.ETA = 0
	}
	return p
}

// keyError counts a per-key failure and remembers it.
func (s *Stream) keyError(err error) {
	s.c.errors.Add(1)
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// load reads the checkpoint, if any, and reports whether it says the
// stream already finished.
func (s *Stream) load() (bool, error) {
	if s.opts.Checkpoint == "" {
		return false, nil
	}
	b, err := os.ReadFile(s.opts.Checkpoint)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stream: reading checkpoint: %w", err)
	}
	var ck checkpoint
	if err := json.Unmarshal(b, &ck); err != nil {
		return false, fmt.Errorf("stream: checkpoint %s: %w", s.opts.Checkpoint, err)
	}
	if ck.Source != s.src.Addr || ck.Target != s.dst.Addr || ck.Protocol != s.src.Protocol.String() ||
		!slices.Equal(ck.Ranges, s.filter.Ranges) {
		return false, fmt.Errorf("stream: checkpoint %s is for %s %s -> %s ranges %v, not %s %s -> %s ranges %v",
			s.opts.Checkpoint, ck.Protocol, ck.Source, ck.Target, ck.Ranges,
			s.src.Protocol, s.src.Addr, s.dst.Addr, s.filter.Ranges)
	}
	s.cursor, s.batchDone = ck.Cursor, ck.Done
	s.c.store(ck.Counters)
	s.resumed.Store(true)
	return ck.Finished, nil
}

// save writes the checkpoint atomically (proxy/atomicfile): a crash leaves
// either the old or the new checkpoint, never a torn one.
func (s *Stream) save() error {
	if s.opts.Checkpoint == "" {
		return nil
	}
	ck := checkpoint{Source: s.src.Addr, Target: s.dst.Addr, Protocol: s.src.Protocol.String(),
		Ranges: s.filter.Ranges, Cursor: s.cursor, Done: s.batchDone, Counters: s.c.load(), Finished: s.done.Load()}
	b, err := json.Marshal(ck)
	if err != nil {
		return fmt.Errorf("stream: encoding checkpoint: %w", err)
	}
	if err := atomicfile.Write(s.opts.Checkpoint, b, 0o600); err != nil {
		return fmt.Errorf("stream: writing checkpoint %s: %w", s.opts.Checkpoint, err)
	}
	return nil
}

// maybeSave saves the checkpoint when CheckpointEvery has passed.
func (s *Stream) maybeSave() error {
	now := s.clock.Now()
	if now.Sub(s.lastSave) < s.opts.CheckpointEvery {
		return nil
	}
	s.lastSave = now
	return s.save()
}
