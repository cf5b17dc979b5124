package antientropy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/repair"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// copyState is one replica's copy of a key as the key-by-key pass read it:
// its Version, and what the repair needs to write it elsewhere or to check
// it did not change meanwhile.
type copyState struct {
	v    Version
	conn *stream.Conn
	addr string
	// dump is the key's DUMP (nil when absent), fields the DUMPs of its
	// `._add-set_K` and `._rem-set_K`.
	dump   []byte
	fields [2][]byte
	added  []byte // the scores as Redis printed them
	remove []byte
	err    error
}

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
func (r *Repair) repairKeys(ctx context.Context, conns [][]*stream.Conn, keys map[string]int) error {
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

// readCommands is how many commands readKeys sends per key and replica.
const readCommands = 6

// readKeys reads keys on every replica, pipelined: states[key][replica].
func (r *Repair) readKeys(ctx context.Context, conns [][]*stream.Conn, keys []string) ([][]copyState, error) {
	states := make([][]copyState, len(keys))
	used := map[*stream.Conn]string{}
	for i, k := range keys {
		tok, _ := r.opts.Topology.KeyToken([]byte(k))
		states[i] = make([]copyState, len(r.opts.Replicas))
		for j, rep := range r.opts.Replicas {
			di := owner(rep, tok)
			c, addr := conns[j][di], rep.Datastores[di].Addr
			states[i][j].conn, states[i][j].addr = c, addr
			used[c] = addr
			c.Send([]byte("EVALSHA"), []byte(digestSHA), []byte("1"), []byte(k))
			c.Send([]byte("ZSCORE"), []byte(addSet), []byte(k))
			c.Send([]byte("ZSCORE"), []byte(remSet), []byte(k))
			c.Send([]byte("DUMP"), []byte(k))
			c.Send([]byte("DUMP"), []byte(addSet+"_"+k))
			c.Send([]byte("DUMP"), []byte(remSet+"_"+k))
		}
	}
	for c, addr := range used {
		if err := c.Flush(); err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("antientropy: %s: %w", addr, err))
		}
	}
	for i, k := range keys {
		for j := range r.opts.Replicas {
			st := &states[i][j]
			var vals [readCommands]stream.Value
			for n := range readCommands {
				v, err := st.conn.Receive()
				if err != nil {
					var re stream.RedisError
					if !errors.As(err, &re) {
						return nil, ctxErr(ctx, err)
					}
					if st.err == nil {
						st.err = fmt.Errorf("antientropy: reading %q on %s: %w", k, st.addr, err)
					}
				}
				vals[n] = v
			}
			if st.err != nil {
				continue
			}
			d, ok := parseDigest(vals[0], r.opts.Now().UnixMilli())
			if !ok {
				st.err = fmt.Errorf("antientropy: digest of %q on %s: malformed reply", k, st.addr)
				continue
			}
			st.v = Version{Present: d.present, Value: d.value, Expiry: d.expiry}
			st.added, st.remove = nonNull(vals[1]), nonNull(vals[2])
			st.v.Added, st.v.Removed = score(st.added), score(st.remove)
			st.dump = nonNull(vals[3])
			st.fields = [2][]byte{nonNull(vals[4]), nonNull(vals[5])}
			if !d.present {
				st.dump = nil
			}
		}
	}
	return states, nil
}

func nonNull(v stream.Value) []byte {
	if v.Null || v.Str == nil {
		return nil
	}
	return v.Str
}

func score(b []byte) float64 {
	if b == nil {
		return 0
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 {
		return 0
	}
	return f
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
			applied, err := r.apply(ctx, key, sts[win], sts[i])
			if err != nil {
				var re stream.RedisError
				if !errors.As(err, &re) {
					return ctxErr(ctx, err)
				}
				fixed = false
				r.count(func(res *Result, _ *RangeResult) {
					res.Errors++
					res.LastError = fmt.Sprintf("antientropy: repairing %q on %s: %v", key, sts[i].addr, err)
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

// apply writes the winner's copy of key over the loser's, unless the
// loser's changed since it was read (applyScript). It reports whether it
// wrote.
func (r *Repair) apply(ctx context.Context, key string, win, lose copyState) (bool, error) {
	action, ttl := "D", "0"
	if win.v.Present {
		action = "S"
		if win.v.Expiry != NoExpiry {
			// The TTL left now; a key that expired meanwhile gets the
			// shortest one, and goes on every replica.
			ttl = strconv.FormatInt(max(win.v.Expiry-r.opts.Now().UnixMilli(), 1), 10)
		}
	}
	meta := "0"
	if win.v.Added != 0 || win.v.Removed != 0 {
		meta = "1"
	}
	args := [][]byte{[]byte("EVALSHA"), []byte(applySHA), []byte("1"), []byte(key),
		lose.dump, []byte(action), win.dump, []byte(ttl), []byte(meta),
		scoreArg(win.added), scoreArg(win.remove), win.fields[0], win.fields[1]}
	for i, a := range args {
		if a == nil {
			args[i] = []byte{}
		}
	}
	if err := r.opts.Throttle.Wait(ctx, 1, int64(len(win.dump))); err != nil {
		return false, err
	}
	v, err := lose.conn.Do(args...)
	if err != nil {
		return false, err
	}
	return v.Int == 1, nil
}

// scoreArg passes a score as Redis printed it, so that the loser stores
// exactly the winner's (proxy/repair's scores are exact in a float64 and
// print back to the same value).
func scoreArg(b []byte) []byte {
	if b == nil {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return nil
	}
	return repair.AppendScore(nil, f)
}
