package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy/stream"
)

// Kind is what a job does.
type Kind string

// The kinds of job. Kinds lists them in output order; metrics carry a
// series for each, so that rate() sees a kind's first job.
const (
	Warmup Kind = "warmup"
	Repair Kind = "repair"
	Scale  Kind = "scale"
	// Cleanup deletes the keys a node no longer owns after a move; its
	// Copied counter counts the keys deleted, Scanned those read.
	Cleanup Kind = "cleanup"
)

// Kinds are every kind, in output order.
var Kinds = []Kind{Warmup, Repair, Scale, Cleanup}

// State is where a job is.
type State string

// A job is running until it ends done, failed or aborted.
const (
	Running State = "running"
	Done    State = "done"
	Failed  State = "failed"
	Aborted State = "aborted"
)

// Ended are the states of a finished job, in output order.
var Ended = []State{Done, Failed, Aborted}

// KeepFinished is how many finished jobs a registry lists; older ones are
// forgotten (their counters stay in the totals).
const KeepFinished = 32

// Progress is what a job has done in its current attempt.
type Progress struct {
	Source, Target string
	// RangesTotal token ranges are copied; RangesDone of them are complete.
	// A Redis stream scans the whole keyspace once for all its ranges, so
	// they all complete together.
	RangesDone, RangesTotal int
	// KeysTotal is the number of keys on the source when the attempt
	// started (the base of the ETA).
	KeysTotal int64
	// Scanned keys were read from the source, Copied written to the
	// target, Skipped left alone (the target had the key, or a newer
	// version of it); Bytes is the payload copied.
	Scanned, Copied, Skipped, Bytes int64
	// Errors are per-key failures; LastError is the last one's text.
	Errors    int64
	LastError string
	// The rates are the attempt's averages; ETA is -1 while unknown.
	KeysPerSec, BytesPerSec float64
	ETA                     time.Duration
}

// FromStream converts a stream's progress.
func FromStream(p stream.Progress) Progress {
	done := 0
	if p.Done {
		done = len(p.Ranges)
	}
	return Progress{Source: p.Source, Target: p.Target, RangesDone: done, RangesTotal: len(p.Ranges),
		KeysTotal: p.Total, Scanned: p.Scanned, Copied: p.Copied, Skipped: p.SkippedPresent + p.SkippedNewer,
		Bytes: p.Bytes, Errors: p.Errors, LastError: p.LastError, KeysPerSec: p.KeysPerSec, BytesPerSec: p.BytesPerSec, ETA: p.ETA}
}

// counts are the counters that add up across attempts and jobs.
type counts struct {
	scanned, copied, skipped, bytes, errors, failedAttempts int64
}

func (c *counts) add(o counts) {
	c.scanned += o.scanned
	c.copied += o.copied
	c.skipped += o.skipped
	c.bytes += o.bytes
	c.errors += o.errors
	c.failedAttempts += o.failedAttempts
}

func countsOf(p *Progress) counts {
	return counts{scanned: p.Scanned, copied: p.Copied, skipped: p.Skipped, bytes: p.Bytes, errors: p.Errors}
}

// Job is one job of a registry. Its methods are safe for concurrent use.
type Job struct {
	r       *Registry
	id      int64
	kind    Kind
	name    string
	started time.Time

	// under r.mu
	state    State
	ended    time.Time
	attempts int
	base     counts // of the attempts before the current one
	cur      Progress
	lastErr  string
}

// Registry is a node's list of jobs. The zero value is not usable: call
// NewRegistry.
type Registry struct {
	now func() time.Time

	mu     sync.Mutex
	nextID int64
	jobs   []*Job
	// forgotten are the counters of the finished jobs no longer listed,
	// and finished counts every job that ended, by kind and state
	forgotten map[Kind]*counts
	finished  map[Kind]map[State]uint64
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{now: time.Now, forgotten: map[Kind]*counts{}, finished: map[Kind]map[State]uint64{}}
	for _, k := range Kinds {
		r.forgotten[k] = &counts{}
		r.finished[k] = map[State]uint64{}
	}
	return r
}

// Start registers a running job of kind named name (a short phrase for the
// operator, such as "from 10.0.0.2:8102 (rack2)"), in its first attempt.
func (r *Registry) Start(kind Kind, name string) *Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	j := &Job{r: r, id: r.nextID, kind: kind, name: name, started: r.now(), state: Running, attempts: 1, cur: Progress{ETA: -1}}
	if r.forgotten[kind] == nil {
		r.forgotten[kind] = &counts{}
		r.finished[kind] = map[State]uint64{}
	}
	r.jobs = append(r.jobs, j)
	return j
}

// Update records the current attempt's progress. Updates after Finish are
// ignored.
func (j *Job) Update(p Progress) {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.state == Running {
		j.cur = p
	}
}

// Rename changes the job's name, as when a retry picks another source.
func (j *Job) Rename(name string) {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	j.name = name
}

// Retry ends the current attempt with err: the job stays running, counts
// a failed attempt and remembers err's text; the next attempt's progress
// starts from zero (its counters add to this attempt's).
func (j *Job) Retry(err error) {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.state != Running {
		return
	}
	j.base.add(countsOf(&j.cur))
	j.base.failedAttempts++
	if err != nil {
		j.lastErr = err.Error()
	}
	j.attempts++
	j.cur = Progress{ETA: -1}
}

// Finish ends the job: done when err is nil, aborted when err is a
// cancelled context's, failed otherwise. Only the first call counts.
func (j *Job) Finish(err error) {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	if j.state != Running {
		return
	}
	switch {
	case err == nil:
		j.state = Done
	case errors.Is(err, context.Canceled):
		j.state, j.lastErr = Aborted, err.Error()
	default:
		j.state, j.lastErr = Failed, err.Error()
		j.base.failedAttempts++
	}
	j.ended = j.r.now()
	j.r.finished[j.kind][j.state]++
	j.r.forget()
}

// forget drops the oldest finished jobs beyond KeepFinished, keeping their
// counters. r.mu is held.
func (r *Registry) forget() {
	finished := 0
	for _, j := range r.jobs {
		if j.state != Running {
			finished++
		}
	}
	r.jobs = slices.DeleteFunc(r.jobs, func(j *Job) bool {
		if finished <= KeepFinished || j.state == Running {
			return false
		}
		finished--
		r.forgotten[j.kind].add(j.totals())
		return true
	})
}

// totals are the job's counters over its attempts. r.mu is held.
func (j *Job) totals() counts {
	c := j.base
	c.add(countsOf(&j.cur))
	return c
}

// Snapshot is one job as GET /streams shows it.
type Snapshot struct {
	ID    int64  `json:"id"`
	Kind  Kind   `json:"kind"`
	Name  string `json:"name"`
	State State  `json:"state"`
	// Source and Target are the current attempt's datastores.
	Source  string     `json:"source,omitempty"`
	Target  string     `json:"target,omitempty"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Attempts counts the attempts so far, FailedAttempts the ones that
	// failed (a retried attempt, or the last one of a failed job).
	Attempts       int `json:"attempts"`
	FailedAttempts int `json:"failed_attempts"`
	RangesDone     int `json:"ranges_done"`
	RangesTotal    int `json:"ranges_total"`
	// KeysTotal is the source's key count at the attempt's start; the
	// other counters add up every attempt's.
	KeysTotal   int64   `json:"keys_total"`
	KeysScanned int64   `json:"keys_scanned"`
	KeysCopied  int64   `json:"keys_copied"`
	KeysSkipped int64   `json:"keys_skipped"`
	Bytes       int64   `json:"bytes"`
	Errors      int64   `json:"errors"`
	KeysPerSec  float64 `json:"keys_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// KeysPerSec and BytesPerSec are the current (or, once the job ended,
	// the last) attempt's averages. ETASeconds is the time left in
	// seconds, -1 while unknown, 0 once the job ended.
	ETASeconds float64 `json:"eta_seconds"`
	// LastError is the last failure's text: the attempt's or the job's
	// error, else the last per-key error.
	LastError string `json:"last_error,omitempty"`
}

// snapshot is j as shown. r.mu is held.
func (j *Job) snapshot() Snapshot {
	c := j.totals()
	s := Snapshot{ID: j.id, Kind: j.kind, Name: j.name, State: j.state, Source: j.cur.Source, Target: j.cur.Target,
		Started: j.started, Attempts: j.attempts, FailedAttempts: int(c.failedAttempts),
		RangesDone: j.cur.RangesDone, RangesTotal: j.cur.RangesTotal, KeysTotal: j.cur.KeysTotal,
		KeysScanned: c.scanned, KeysCopied: c.copied, KeysSkipped: c.skipped, Bytes: c.bytes, Errors: c.errors,
		ETASeconds: -1, LastError: j.lastErr}
	s.KeysPerSec, s.BytesPerSec = j.cur.KeysPerSec, j.cur.BytesPerSec
	if j.state == Running {
		if j.cur.ETA >= 0 {
			s.ETASeconds = j.cur.ETA.Seconds()
		}
	} else {
		ended := j.ended
		s.Ended = &ended
		s.ETASeconds = 0
	}
	if s.LastError == "" {
		s.LastError = j.cur.LastError
	}
	return s
}

// Snapshot returns the job as GET /streams shows it.
func (j *Job) Snapshot() Snapshot {
	j.r.mu.Lock()
	defer j.r.mu.Unlock()
	return j.snapshot()
}

// List returns every running job and the last finished ones, oldest
// first.
func (r *Registry) List() []Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Snapshot, 0, len(r.jobs))
	for _, j := range r.jobs {
		out = append(out, j.snapshot())
	}
	return out
}

// Totals are the counters of one kind of job, over every job the registry
// has known: they never go down.
type Totals struct {
	Kind Kind
	// Running jobs now; Finished jobs by how they ended.
	Running  int
	Finished map[State]uint64
	// FailedAttempts counts the attempts that failed, retried or not.
	Scanned, Copied, Skipped, Bytes, Errors, FailedAttempts int64
	// KeysPerSec and BytesPerSec add the running jobs' rates; ETA is the
	// longest of their ETAs, -1 when one is unknown or none runs.
	KeysPerSec, BytesPerSec float64
	ETA                     time.Duration
}

// Totals returns one entry per kind, in the order of Kinds (then any
// other kind a job was started with).
func (r *Registry) Totals() []Totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds := slices.Clone(Kinds)
	for k := range r.forgotten {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds[len(Kinds):])
	out := make([]Totals, 0, len(kinds))
	for _, k := range kinds {
		c := *r.forgotten[k]
		t := Totals{Kind: k, Finished: map[State]uint64{}, ETA: -1}
		for st, n := range r.finished[k] {
			t.Finished[st] = n
		}
		eta, known := time.Duration(0), true
		for _, j := range r.jobs {
			if j.kind != k {
				continue
			}
			c.add(j.totals())
			if j.state != Running {
				continue
			}
			t.Running++
			t.KeysPerSec += j.cur.KeysPerSec
			t.BytesPerSec += j.cur.BytesPerSec
			known = known && j.cur.ETA >= 0
			eta = max(eta, j.cur.ETA)
		}
		if t.Running > 0 && known {
			t.ETA = eta
		}
		t.Scanned, t.Copied, t.Skipped, t.Bytes, t.Errors, t.FailedAttempts = c.scanned, c.copied, c.skipped, c.bytes, c.errors, c.failedAttempts
		out = append(out, t)
	}
	return out
}

// Running reports whether a job of kind is running.
func (r *Registry) Running(kind Kind) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.kind == kind && j.state == Running {
			return true
		}
	}
	return false
}

// Handler serves GET /streams: the JSON array of List.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r.List())
	})
}
