package antientropy

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// Datastore is one Redis holding part or all of a replica's copy.
type Datastore struct {
	Addr string `json:"addr"`
	// Owns are the tokens this datastore holds in its rack; nil: every
	// token (a rack whose ranges one node covers).
	Owns stream.Ranges `json:"owns,omitempty"`
}

// Replica is one copy of the ranges: a rack of a datacenter. When the rack
// splits the ranges among several nodes, it has one Datastore per node.
type Replica struct {
	Name       string      `json:"name"`
	DC         string      `json:"datacenter"`
	Rack       string      `json:"rack"`
	Datastores []Datastore `json:"datastores"`
}

// Options say what to compare and how.
type Options struct {
	// Topology hashes keys to tokens as the router does.
	Topology *ring.Topology
	// Ranges are the token ranges compared; every key outside them is
	// left alone.
	Ranges stream.Ranges
	// Replicas are compared with each other (two or more).
	Replicas []Replica
	// Password is sent with AUTH to every datastore (datastore_password).
	Password string
	// PreferredDC decides a key that neither a timestamp nor a majority
	// decides (repair_preferred_dc); empty leaves such keys alone.
	PreferredDC string
	// ExpiryBucket is the width of the expiry buckets in the trees and the
	// tolerance between two replicas' expiries of a key (default 10s).
	ExpiryBucket time.Duration
	// Depth is the trees' depth; 0 picks one from the datastores' sizes
	// (about 8 keys a leaf).
	Depth int
	// ScanCount is SCAN's COUNT hint (default 1000).
	ScanCount int
	// Throttle limits the keys read in the trees' pass and the keys and
	// bytes written in the repair; nil means unlimited.
	Throttle *stream.Throttle
	// Protocol is the datastores' (stream.Redis by default). Memcached
	// items carry no timestamp: they are resolved by majority or
	// preferred datacenter.
	Protocol stream.Protocol
	// Timeout bounds connecting and each reply (default 30s).
	Timeout time.Duration
	// DryRun finds and resolves the divergent keys without writing.
	DryRun bool
	// Now is the clock that places expiries (default time.Now).
	Now func() time.Time
}

// RangeResult is the outcome for one range.
type RangeResult struct {
	Range stream.Range `json:"range"`
	// Keys is the most keys a replica holds in the range.
	Keys int `json:"keys"`
	// LeavesDiffering of Leaves differed between replicas; Candidates are
	// the keys in them whose entries differed.
	Leaves           int `json:"leaves"`
	LeavesDiffering  int `json:"leaves_differing"`
	Candidates       int `json:"candidates"`
	Found            int `json:"found"`
	Fixed            int `json:"fixed"`
	Unresolved       int `json:"unresolved"`
	ChangedMeanwhile int `json:"changed_meanwhile"`
}

// KeyReport is one divergent key (Result keeps the first MaxKeyReports).
type KeyReport struct {
	Key    string `json:"key"`
	Rule   string `json:"rule"`
	Winner string `json:"winner,omitempty"`
	// Losers are the replicas that were repaired (or would be, in a dry
	// run).
	Losers []string `json:"losers"`
}

// MaxKeyReports bounds Result.Keys.
const MaxKeyReports = 100

// Result is a repair's outcome (or progress, while it runs).
type Result struct {
	Phase  string        `json:"phase"`
	Ranges []RangeResult `json:"ranges"`
	// Scanned is the keys read to build the trees, on every replica.
	Scanned int64 `json:"scanned"`
	// Found keys differed between replicas; Fixed were brought to the
	// winner on every replica; Unresolved had no winner; ChangedMeanwhile
	// were written by a client between the read and the repair on some
	// replica and left for the next repair.
	Found            int64 `json:"found"`
	Fixed            int64 `json:"fixed"`
	Unresolved       int64 `json:"unresolved"`
	ChangedMeanwhile int64 `json:"changed_meanwhile"`
	// By rule: how the found keys were resolved.
	ByTimestamp   int64 `json:"by_timestamp"`
	ByMajority    int64 `json:"by_majority"`
	ByPreferredDC int64 `json:"by_preferred_dc"`
	// Errors are per-key error replies; LastError the last of them.
	Errors    int64       `json:"errors"`
	LastError string      `json:"last_error,omitempty"`
	Keys      []KeyReport `json:"keys"`
	Elapsed   float64     `json:"elapsed_seconds"`
	DryRun    bool        `json:"dry_run"`
}

// Phases of a repair, in order.
const (
	PhaseDigest = "digest"
	PhaseRepair = "repair"
	PhaseDone   = "done"
)

// Repair compares and repairs the replicas of a set of ranges once.
type Repair struct {
	opts   Options
	bucket int64 // ms

	mu  sync.Mutex
	res Result
	// scanned is read by Progress while the trees are built.
	scanned atomic.Int64
	start   time.Time
}

// New checks opts and returns a repair ready to Run.
func New(opts Options) (*Repair, error) {
	switch {
	case opts.Topology == nil:
		return nil, errors.New("antientropy: no topology")
	case len(opts.Ranges) == 0:
		return nil, errors.New("antientropy: no token ranges to compare")
	case len(opts.Replicas) < 2:
		return nil, fmt.Errorf("antientropy: %d replica(s): at least two are needed to compare", len(opts.Replicas))
	}
	for _, r := range opts.Replicas {
		if len(r.Datastores) == 0 {
			return nil, fmt.Errorf("antientropy: replica %s has no datastore", r.Name)
		}
	}
	if opts.ExpiryBucket <= 0 {
		opts.ExpiryBucket = 10 * time.Second
	}
	if opts.ScanCount <= 0 {
		opts.ScanCount = 1000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Repair{opts: opts, bucket: opts.ExpiryBucket.Milliseconds()}
	r.res.Phase = PhaseDigest
	r.res.DryRun = opts.DryRun
	r.res.Ranges = make([]RangeResult, len(opts.Ranges))
	for i, rg := range opts.Ranges {
		r.res.Ranges[i].Range = rg
	}
	return r, nil
}

// Progress returns a snapshot of the counters; it may be called from any
// goroutine.
func (r *Repair) Progress() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.res
	out.Ranges = append([]RangeResult(nil), r.res.Ranges...)
	out.Keys = append([]KeyReport{}, r.res.Keys...)
	if out.Phase == PhaseDigest {
		out.Scanned = r.scanned.Load()
	}
	if !r.start.IsZero() && out.Phase != PhaseDone {
		out.Elapsed = time.Since(r.start).Seconds()
	}
	return out
}

// Run builds every replica's trees (the replicas in parallel), compares
// them, reads the keys of the differing leaves on every replica, and
// repairs each divergent key. It returns the result, and an error when a
// datastore could not be read (a per-key error reply is counted instead).
func (r *Repair) Run(ctx context.Context) (Result, error) {
	r.mu.Lock()
	r.start = time.Now()
	r.mu.Unlock()
	conns, err := r.dialAll(ctx)
	if err != nil {
		return r.finish(), err
	}
	defer closeAll(conns)
	depth := r.opts.Depth
	if depth <= 0 {
		depth = r.pickDepth(conns)
	}
	trees, err := r.buildTrees(ctx, conns, depth)
	if err != nil {
		return r.finish(), err
	}
	hashes := r.compare(trees)
	r.mu.Lock()
	r.res.Scanned = r.scanned.Load()
	r.res.Phase = PhaseRepair
	r.mu.Unlock()
	if len(hashes) > 0 {
		keys, err := r.findKeys(ctx, conns, hashes)
		if err != nil {
			return r.finish(), err
		}
		if err := r.repairKeys(ctx, conns, keys); err != nil {
			return r.finish(), err
		}
	}
	return r.finish(), nil
}

func (r *Repair) finish() Result {
	r.mu.Lock()
	r.res.Phase = PhaseDone
	r.res.Scanned = r.scanned.Load()
	r.res.Elapsed = time.Since(r.start).Seconds()
	r.mu.Unlock()
	return r.Progress()
}

// dialAll connects to every datastore of every replica:
// conns[replica][datastore]. Replicas get connections of their own, since
// their trees are built in parallel.
func (r *Repair) dialAll(ctx context.Context) ([][]store, error) {
	conns := make([][]store, len(r.opts.Replicas))
	for i, rep := range r.opts.Replicas {
		for _, ds := range rep.Datastores {
			c, err := r.dial(ctx, ds.Addr)
			if err != nil {
				closeAll(conns)
				return nil, fmt.Errorf("antientropy: replica %s: %w", rep.Name, err)
			}
			conns[i] = append(conns[i], c)
		}
	}
	return conns, nil
}

func closeAll(conns [][]store) {
	for _, cs := range conns {
		for _, c := range cs {
			if c != nil {
				c.close()
			}
		}
	}
}

// dial connects to one datastore of the protocol the options name.
func (r *Repair) dial(ctx context.Context, addr string) (store, error) {
	if r.opts.Protocol == stream.Memcached {
		return dialMemcached(ctx, addr, r.opts.Timeout, r.opts.Now)
	}
	return dialRedis(ctx, addr, r.opts.Password, r.opts.Timeout, r.opts.Now)
}

// pickDepth sizes the trees for about 8 keys a leaf from the largest
// replica's key count over the ranges (DBSIZE counts every range, so this
// overestimates a node that holds several ranges' worth beside ours).
func (r *Repair) pickDepth(conns [][]store) int {
	var most int64
	for _, cs := range conns {
		var n int64
		for _, c := range cs {
			if v, err := c.size(); err == nil {
				n += v
			}
		}
		most = max(most, n)
	}
	perRange := most / int64(len(r.opts.Ranges)) / 8
	if perRange <= 1 {
		return 0
	}
	return min(bits.Len64(uint64(perRange-1)), MaxDepth)
}

// rangeOf is the index of the first range holding key's token, or -1; ok is
// false for a key outside every range (or with nothing to hash).
func (r *Repair) rangeOf(key []byte) (tok ring.Token, idx int) {
	tok, ok := r.opts.Topology.KeyToken(key)
	if !ok {
		return 0, -1
	}
	for i, rg := range r.opts.Ranges {
		if rg.Contains(tok) {
			return tok, i
		}
	}
	return tok, -1
}

// skipKey reports keys that are not data: the read-repair metadata and
// proxy/stream's temporary keys.
func skipKey(key []byte) bool {
	s := string(key)
	return strings.HasPrefix(s, addSet) || strings.HasPrefix(s, remSet) || strings.HasPrefix(s, streamTmp)
}

// scan enumerates one datastore and calls fn with each page of keys that
// are in the ranges and owned by ds, with their range indexes.
func (r *Repair) scan(ctx context.Context, c store, ds Datastore, fn func(keys [][]byte, idx []int) error) error {
	return c.scan(ctx, r.opts.ScanCount, func(page [][]byte) error {
		var keys [][]byte
		var idx []int
		for _, k := range page {
			if skipKey(k) {
				continue
			}
			tok, i := r.rangeOf(k)
			if i < 0 || (ds.Owns != nil && !ds.Owns.Contains(tok)) {
				continue
			}
			keys = append(keys, k)
			idx = append(idx, i)
		}
		if len(keys) == 0 {
			return nil
		}
		return fn(keys, idx)
	})
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// pipelineDepth is the most keys whose commands share one pipeline.
const pipelineDepth = 64

// buildTrees builds trees[replica][range], the replicas in parallel.
func (r *Repair) buildTrees(ctx context.Context, conns [][]store, depth int) ([][]*Tree, error) {
	trees := make([][]*Tree, len(r.opts.Replicas))
	g, gctx := errgroup.WithContext(ctx)
	for ri, rep := range r.opts.Replicas {
		g.Go(func() error {
			bs := make([]*Builder, len(r.opts.Ranges))
			for i := range bs {
				bs[i] = NewBuilder(depth)
			}
			for di, ds := range rep.Datastores {
				c := conns[ri][di]
				err := r.scan(gctx, c, ds, func(keys [][]byte, idx []int) error {
					for len(keys) > 0 {
						n := min(len(keys), pipelineDepth)
						if err := r.opts.Throttle.Wait(gctx, int64(n), 0); err != nil {
							return err
						}
						dg, err := c.digests(gctx, keys[:n])
						if err != nil {
							return err
						}
						for j, d := range dg {
							if d.present {
								bs[idx[j]].Add(keys[j], d.value, r.expiryBucket(d.expiry))
							}
						}
						r.scanned.Add(int64(n))
						keys, idx = keys[n:], idx[n:]
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("replica %s: %w", rep.Name, err)
				}
			}
			trees[ri] = make([]*Tree, len(bs))
			for i, b := range bs {
				trees[ri][i] = b.Tree()
			}
			return nil
		})
	}
	return trees, g.Wait()
}

func (r *Repair) expiryBucket(exp int64) int64 {
	if exp == NoExpiry {
		return NoExpiry
	}
	return exp / r.bucket
}

// compare diffs the trees of each range and returns the differing key
// hashes with their range.
func (r *Repair) compare(trees [][]*Tree) map[uint64]int {
	hashes := map[uint64]int{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.opts.Ranges {
		rt := make([]*Tree, len(trees))
		rr := &r.res.Ranges[i]
		for j := range trees {
			rt[j] = trees[j][i]
			rr.Keys = max(rr.Keys, rt[j].Len())
		}
		rr.Leaves = 1 << rt[0].Depth()
		leaves, _ := DiffLeaves(rt)
		rr.LeavesDiffering = len(leaves)
		for _, l := range leaves {
			for _, h := range DiffKeys(rt, l) {
				hashes[h] = i
				rr.Candidates++
			}
		}
	}
	return hashes
}

// findKeys scans every datastore again for the keys whose hashes differed:
// the trees keep hashes, not keys. A key may be on some replicas only.
func (r *Repair) findKeys(ctx context.Context, conns [][]store, hashes map[uint64]int) (map[string]int, error) {
	keys := map[string]int{}
	for ri, rep := range r.opts.Replicas {
		for di, ds := range rep.Datastores {
			err := r.scan(ctx, conns[ri][di], ds, func(page [][]byte, idx []int) error {
				for j, k := range page {
					if i, ok := hashes[KeyHash(k)]; ok && i == idx[j] {
						keys[string(k)] = i
					}
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("replica %s: %w", rep.Name, err)
			}
		}
	}
	return keys, nil
}
