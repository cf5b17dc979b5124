package antientropy

import (
	"context"
	"fmt"
	"slices"

	"github.com/dynomite-go/dynomite/proxy/ring"
)

// owner is the index of the datastore of replica rep that holds tok.
func owner(rep Replica, tok ring.Token) int {
	for i, ds := range rep.Datastores {
		if ds.Owns == nil || ds.Owns.Contains(tok) {
			return i
		}
	}
	return 0
}

// repairKeys reads each candidate key on every replica, counts those that
// really differ (the trees compare expiry buckets, which two replicas'
// expiries close to a bucket's edge can straddle), resolves and repairs
// them.
func (r *Repair) repairKeys(ctx context.Context, conns [][]store, keys map[string]int) error {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	for len(names) > 0 {
		n := min(len(names), pipelineDepth)
		states, err := r.readKeys(ctx, conns, names[:n])
		if err != nil {
			return err
		}
		for i, k := range names[:n] {
			if err := r.repairKey(ctx, k, keys[k], states[i]); err != nil {
				return err
			}
		}
		names = names[n:]
	}
	return nil
}

// readKeys reads keys on every replica: states[key][replica]. Each
// replica's datastores are read in one pipeline each.
func (r *Repair) readKeys(ctx context.Context, conns [][]store, keys []string) ([][]copyState, error) {
	states := make([][]copyState, len(keys))
	for i := range states {
		states[i] = make([]copyState, len(r.opts.Replicas))
	}
	for j, rep := range r.opts.Replicas {
		byStore := make([][]int, len(rep.Datastores)) // key indexes per datastore
		for i, k := range keys {
			tok, _ := r.opts.Topology.KeyToken([]byte(k))
			di := owner(rep, tok)
			byStore[di] = append(byStore[di], i)
		}
		for di, idx := range byStore {
			if len(idx) == 0 {
				continue
			}
			names := make([]string, len(idx))
			for n, i := range idx {
				names[n] = keys[i]
			}
			sts, err := conns[j][di].read(ctx, names)
			if err != nil {
				return nil, fmt.Errorf("replica %s: %w", rep.Name, err)
			}
			for n, i := range idx {
				states[i][j] = sts[n]
			}
		}
	}
	return states, nil
}

// repairKey counts, resolves and repairs one key.
func (r *Repair) repairKey(ctx context.Context, key string, rangeIdx int, sts []copyState) error {
	vs := make([]Version, len(sts))
	dcs := make([]string, len(sts))
	for i, st := range sts {
		if st.err != nil {
			r.count(func(res *Result, _ *RangeResult) {
				res.Errors++
				res.LastError = st.err.Error()
			}, rangeIdx)
			return nil
		}
		vs[i], dcs[i] = st.v, r.opts.Replicas[i].DC
	}
	if !Diverges(vs, r.bucket) {
		return nil
	}
	win, rule := Resolve(vs, dcs, r.opts.PreferredDC, r.bucket)
	rep := KeyReport{Key: key, Rule: rule.String(), Losers: []string{}}
	if win >= 0 {
		rep.Winner = r.opts.Replicas[win].Name
	}
	var losers []int
	for i := range vs {
		if win >= 0 && !Same(vs[win], vs[i], r.bucket) {
			losers = append(losers, i)
			rep.Losers = append(rep.Losers, r.opts.Replicas[i].Name)
		}
	}
	changed, fixed := false, win >= 0
	if win >= 0 && !r.opts.DryRun {
		for _, i := range losers {
			if err := r.opts.Throttle.Wait(ctx, 1, int64(len(sts[win].dump))); err != nil {
				return err
			}
			applied, err := sts[i].st.apply(ctx, key, &sts[win], &sts[i], r.opts.Now().UnixMilli())
			if err != nil {
				if !isKeyError(err) {
					return ctxErr(ctx, err)
				}
				fixed = false
				r.count(func(res *Result, _ *RangeResult) {
					res.Errors++
					res.LastError = fmt.Sprintf("antientropy: repairing %q on replica %s: %v", key, r.opts.Replicas[i].Name, err)
				}, rangeIdx)
				continue
			}
			if !applied {
				changed, fixed = true, false
			}
		}
	}
	r.count(func(res *Result, rr *RangeResult) {
		res.Found++
		rr.Found++
		switch rule {
		case ByTimestamp:
			res.ByTimestamp++
		case ByMajority:
			res.ByMajority++
		case ByPreferredDC:
			res.ByPreferredDC++
		default:
			res.Unresolved++
			rr.Unresolved++
		}
		if changed {
			res.ChangedMeanwhile++
			rr.ChangedMeanwhile++
		}
		if fixed && !r.opts.DryRun {
			res.Fixed++
			rr.Fixed++
		}
		if len(res.Keys) < MaxKeyReports {
			res.Keys = append(res.Keys, rep)
		}
	}, rangeIdx)
	return nil
}

func (r *Repair) count(f func(*Result, *RangeResult), rangeIdx int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.res, &r.res.Ranges[rangeIdx])
}
