package consistency

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoQuorum is returned by DoUntilQuorum when the level is not achieved.
var ErrNoQuorum = errors.New("failed to achieve quorum")

// DoUntilQuorum runs call for the replicas of set and returns as soon as s
// decides. It is for callers off the request path (repair, streaming),
// which may allocate; the proxy's fan-out uses Strategy.Decide directly.
//
// # Calls
//
// call(ctx, i) asks replica i (an index into set.Replicas; only DC, Counted
// and set's Primary, DCs and LocalDC are read) and returns its value, the
// reply bytes the level compares, and an error. With a one-at-a-time
// strategy (DC_ONE reads) the replicas are asked one after another,
// set.Primary first, each only after the previous one failed. Otherwise
// every replica is asked at once, each call on its own goroutine.
//
// # Result
//
// The value of the replica whose reply the level chose, or an error: the
// failing replica's error (DC_ONE), ErrNoQuorum (wrapping the error of the
// replica the level reports, if any), or ctx's error. set.Choice must be
// empty: there is no key-by-key decision here.
//
// # Contexts
//
// Each call gets its own context, derived from ctx, cancelled once the call
// returned. When the answer is decided, the contexts of the calls whose
// result is no longer needed (Strategy.Needed: the copies of a read) are
// cancelled before DoUntilQuorum returns. The calls a write still needs run
// on after it returns, until they finish or ctx ends: the replication is
// never cancelled by the decision. DoUntilQuorum does not wait for any
// straggler; a goroutine collects them.
func DoUntilQuorum[T any](ctx context.Context, s Strategy, set Set, call func(ctx context.Context, i int) (T, []byte, error)) (T, error) {
	var zero T
	if err := check(s, &set); err != nil {
		return zero, err
	}
	// the outcomes are ours: the caller's slice is not written
	set.Replicas = append([]Replica(nil), set.Replicas...)
	for i := range set.Replicas {
		set.Replicas[i].Outcome, set.Replicas[i].Seq, set.Replicas[i].Reply = Pending, 0, nil
	}
	if s.OneAtATime() {
		return oneAtATime(ctx, &set, call)
	}

	type result struct {
		i     int
		v     T
		reply []byte
		err   error
	}
	n := len(set.Replicas)
	results := make(chan result, n) // buffered: a call never blocks on its send
	cancels := make([]context.CancelFunc, n)
	for i := range set.Replicas {
		cctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		go func() {
			v, reply, err := call(cctx, i)
			results <- result{i, v, reply, err}
		}()
	}
	remaining := n
	defer func() {
		go func() {
			for ; remaining > 0; remaining-- {
				cancels[(<-results).i]()
			}
		}()
	}()

	values, errs := make([]T, n), make([]error, n)
	for seq := 1; remaining > 0; seq++ {
		var r result
		select {
		case <-ctx.Done():
			// every call's context is a child of ctx: all are cancelled
			return zero, ctx.Err()
		case r = <-results:
		}
		remaining--
		cancels[r.i]()
		rep := &set.Replicas[r.i]
		rep.Seq = seq
		if r.err != nil {
			rep.Outcome, errs[r.i] = Error, r.err
		} else {
			rep.Outcome, rep.Reply, values[r.i] = OK, r.reply, r.v
		}
		d := s.Decide(&set, nil)
		if !d.Decided() {
			continue
		}
		for i, rep := range set.Replicas {
			if rep.Outcome == Pending && !s.Needed(rep, true) {
				cancels[i]()
			}
		}
		return outcome(s, d, values, errs)
	}
	// every call returned and the level did not decide: only possible
	// without counted replicas
	return zero, fmt.Errorf("%w (%s): no replica counts", ErrNoQuorum, s.Level)
}

// oneAtATime asks the replicas in turn, set.Primary first, until one
// replies; all failing, the client gets the last error, as the proxy's
// DC_ONE read fail-over.
func oneAtATime[T any](ctx context.Context, set *Set, call func(ctx context.Context, i int) (T, []byte, error)) (T, error) {
	var zero T
	var err error
	try := func(i int) (T, bool) {
		if ctx.Err() != nil {
			err = ctx.Err()
			return zero, false
		}
		var v T
		v, _, err = call(ctx, i)
		if err != nil {
			err = fmt.Errorf("replica %d: %w", i, err)
			return zero, false
		}
		return v, true
	}
	if v, ok := try(set.Primary); ok {
		return v, nil
	}
	for i := range set.Replicas {
		if i == set.Primary {
			continue
		}
		if v, ok := try(i); ok {
			return v, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return zero, err
}

// outcome turns a decision into DoUntilQuorum's result.
func outcome[T any](s Strategy, d Decision, values []T, errs []error) (T, error) {
	var zero T
	switch d.Verdict {
	case UseReply:
		return values[d.Replica], nil
	case UseError:
		return zero, fmt.Errorf("replica %d: %w", d.Replica, errs[d.Replica])
	case NoQuorum:
		if d.Replica >= 0 {
			return zero, fmt.Errorf("%w (%s): replica %d: %w", ErrNoQuorum, s.Level, d.Replica, errs[d.Replica])
		}
		return zero, fmt.Errorf("%w (%s)", ErrNoQuorum, s.Level)
	}
	return zero, fmt.Errorf("consistency: unexpected verdict %d", d.Verdict)
}

// check rejects sets DoUntilQuorum cannot decide.
func check(s Strategy, set *Set) error {
	switch {
	case !s.Level.Valid():
		return fmt.Errorf("consistency: invalid level %s", s.Level)
	case len(set.Replicas) == 0:
		return errors.New("consistency: no replicas")
	case len(set.Choice) > 0:
		return errors.New("consistency: DoUntilQuorum does not decide key by key (Set.Choice must be empty)")
	case (s.OneAtATime() || s.Level == DCOne) && (set.Primary < 0 || set.Primary >= len(set.Replicas)):
		return fmt.Errorf("consistency: %s needs the local rack's replica (Set.Primary %d of %d replicas)", s.Level, set.Primary, len(set.Replicas))
	}
	for i, r := range set.Replicas {
		if r.DC < 0 || r.DC >= set.DCs {
			return fmt.Errorf("consistency: replica %d is in datacenter %d of %d (Set.DCs)", i, r.DC, set.DCs)
		}
	}
	return nil
}
