package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// Moves of token ranges: a rack scaled out (nodes join with new tokens) or
// in (nodes leave). Any node orchestrates a move on POST /scale (`dynomite
// scale join|leave`); every node takes part through its scale plan
// (proxy.ScalePlan, proxy/scale.go), which the orchestrator installs on
// each with POST /scale/plan on its stats listener, found as the warm-ups
// find a peer's (peer_stats_port), with this node's stats_admin_token.
//
// The orchestrator goes through these steps, each on every node before the
// next:
//
//  1. phase dual on every node of the ring and every joining node; then it
//     waits until each lists every joining node in its ring (GET /ring:
//     the seed provider must show them), within scaleWait. Until both
//     hold, nothing is copied: a node that does not know a joining node
//     would not send it the writes of its ranges.
//  2. the copy: for each rack the ranges whose owner differs between the
//     owners before the move and after it (stream.Moves), streamed from
//     the old owner's datastore to the new owner's (proxy/stream: RESTORE
//     without REPLACE, memcached's add, so a write that reached the new
//     owner during the move is kept), throttled by stream_keys_per_sec and
//     stream_bytes_per_sec. GET /streams shows it as a job of kind scale.
//     A failed copy starts over after a backoff (keys already there are
//     skipped); the move never switches with an incomplete copy.
//  3. phase switched on every node (reads from the new owners; writes
//     still to both), then phase done on every node.
//  4. POST /cleanup on each old owner that lost ranges and stays in the
//     ring; each deletes the keys outside its ranges (cleanup.go), and the
//     orchestrator waits for them (GET /cleanup).
//
// A node that does not acknowledge a phase is retried with a backoff
// (scaleBackoffMin doubling to scaleBackoffMax) and named in GET /scale.
// Before the switch, a node that cannot be reached within scaleWait, or
// POST /scale/abort, aborts the move: phase aborted on every node (joining
// nodes out of the ring, leaving nodes owners again). From the switch on
// there is no way back: the orchestrator pushes each phase until every
// node has it. What an aborted move copied to a joining node stays in that
// node's datastore; the node is out of the ring, and the operator stops it.
//
// GET /scale is the orchestrator's view of the move it runs (or ran last);
// the other nodes show only their plan (GET /scale/plan, /ring, /info
// scale_phase).
//
// The plan lives in memory only: a node restarted during a move starts
// without one, and the orchestrator pushes the phase in force again only
// while it is pushing that phase. A restarted orchestrator forgets the
// move; the nodes keep the last phase they got (POST /scale/plan on each
// sets another).

// Move timing; variables so that tests can shorten them.
var (
	// scaleWait bounds step 1: installing phase dual everywhere and
	// every node listing the joining nodes.
	scaleWait = 5 * time.Minute
	// scaleBackoffMin and scaleBackoffMax space the retries of a phase
	// push, a copy or a cleanup.
	scaleBackoffMin = 500 * time.Millisecond
	scaleBackoffMax = 30 * time.Second
	// scalePoll is how often a wait asks the nodes again.
	scalePoll = 200 * time.Millisecond
	// cleanupAttempts is how many times a failed cleanup is started again
	// before the move fails.
	cleanupAttempts = 5
)

// errAborted is the cause of a move stopped by POST /scale/abort.
var errAborted = errors.New("aborted by POST /scale/abort")

// scaler orchestrates the moves this node was asked to run, one at a
// time, and serves the endpoints of every node's part in them
// (admin.Scaler).
type scaler struct {
	n   *Node
	log *slog.Logger
	// ctx ends the running move when the node stops
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	status   admin.ScaleStatus
	abort    context.CancelCauseFunc // of the running move, until it switches
	switched bool                    // the running move can no longer abort

	clean *cleaner // scale_cleanup.go
}

func newScaler(n *Node) *scaler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scaler{n: n, log: n.log.With("component", "scale"), ctx: ctx, cancel: cancel,
		status: admin.ScaleStatus{State: admin.ScaleIdle, Join: []string{}, Leave: []string{},
			Transfers: []admin.ScaleTransferJSON{}, Nodes: []admin.ScaleNodeJSON{}, Cleanups: []admin.ScaleCleanupJSON{}}}
	s.clean = newCleaner(n, ctx)
	return s
}

// run waits for the node to stop, then stops the running move and
// cleanup and waits for them (a component of Node.Run).
func (s *scaler) run(ctx context.Context) error {
	<-ctx.Done()
	s.cancel()
	s.wg.Wait()
	s.clean.wg.Wait()
	return nil
}

// StartScale is POST /scale.
func (s *scaler) StartScale(req admin.ScaleRequest) (admin.ScaleStatus, error) {
	if err := s.check(req); err != nil {
		return s.ScaleStatus(), err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.State == admin.ScaleRunning {
		return s.statusLocked(), admin.ErrScaleRunning
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	now := time.Now()
	s.status = admin.ScaleStatus{ID: hex.EncodeToString(id), Join: nonNil(req.Join), Leave: nonNil(req.Leave),
		State: admin.ScaleRunning, Step: "starting", Started: &now,
		Transfers: []admin.ScaleTransferJSON{}, Nodes: []admin.ScaleNodeJSON{}, Cleanups: []admin.ScaleCleanupJSON{}}
	for _, name := range s.targets(req.Join) {
		s.status.Nodes = append(s.status.Nodes, admin.ScaleNodeJSON{Name: name})
	}
	ctx, abort := context.WithCancelCause(s.ctx)
	s.abort, s.switched = abort, false
	plan := proxy.ScalePlan{ID: s.status.ID, Join: slices.Clone(req.Join), Leave: slices.Clone(req.Leave)}
	s.log.Info("move started", "id", plan.ID, "join", plan.Join, "leave", plan.Leave)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer abort(nil)
		s.orchestrate(ctx, plan)
	}()
	return s.statusLocked(), nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return slices.Clone(v)
}

// check refuses a request naming no node, a name twice, a leaving node
// the ring lacks or this node itself leaving, and a move while another
// one's plan is installed here.
func (s *scaler) check(req admin.ScaleRequest) error {
	if len(req.Join)+len(req.Leave) == 0 {
		return errors.New(`no node to join or leave: want {"join":["host:port"]} or {"leave":["host:port"]}`)
	}
	topo := s.n.srv.Topology()
	seen := map[string]bool{}
	for _, name := range append(slices.Clone(req.Join), req.Leave...) {
		switch {
		case name == "":
			return errors.New("an empty node name")
		case seen[name]:
			return fmt.Errorf("node %q is named twice", name)
		}
		seen[name] = true
	}
	for _, name := range req.Leave {
		switch n := topo.NodeByName(name); {
		case n == nil:
			return fmt.Errorf("leave: no node %q in the ring (GET /ring lists the names)", name)
		case n.Local:
			return fmt.Errorf("leave: node %q is this node, which orchestrates the move: start it on another node", name)
		}
	}
	for _, name := range req.Join {
		if n := topo.NodeByName(name); n != nil && n.State == ring.StateNormal {
			return fmt.Errorf("join: node %q already owns its tokens in the ring (add it to the seed provider after `dynomite scale join`, not before)", name)
		}
	}
	if p := s.n.srv.ScalePlan(); p != nil && (p.Phase == proxy.ScaleDual || p.Phase == proxy.ScaleSwitched) {
		return fmt.Errorf("%w: move %s is in phase %s on this node (GET /scale on the node that started it follows it)", admin.ErrScaleRunning, p.ID, p.Phase)
	}
	return nil
}

// targets are the nodes a plan goes to: the ring's and the joining ones.
func (s *scaler) targets(join []string) []string {
	var out []string
	for _, n := range s.n.srv.Topology().Nodes() {
		out = append(out, n.Name)
	}
	for _, name := range join {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// ScaleStatus is GET /scale.
func (s *scaler) ScaleStatus() admin.ScaleStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

// statusLocked is a deep copy of the status; s.mu is held.
func (s *scaler) statusLocked() admin.ScaleStatus {
	st := s.status
	st.Join, st.Leave = slices.Clone(st.Join), slices.Clone(st.Leave)
	st.Transfers = slices.Clone(st.Transfers)
	st.Nodes = slices.Clone(st.Nodes)
	st.Cleanups = slices.Clone(st.Cleanups)
	return st
}

// AbortScale is POST /scale/abort.
func (s *scaler) AbortScale() (admin.ScaleStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.status.State != admin.ScaleRunning:
		return s.statusLocked(), fmt.Errorf("%w: no move is running (the last is %s)", admin.ErrScaleNotAbortable, s.status.State)
	case s.switched:
		return s.statusLocked(), fmt.Errorf("%w: move %s has switched reads to the new owners; it can only complete", admin.ErrScaleNotAbortable, s.status.ID)
	}
	s.abort(errAborted)
	s.status.Step = "aborting"
	return s.statusLocked(), nil
}

// update changes the status under the lock.
func (s *scaler) update(f func(st *admin.ScaleStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.status)
}

func (s *scaler) step(format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	same := false
	s.update(func(st *admin.ScaleStatus) { same, st.Step = st.Step == text, text })
	if !same { // a wait polls: log what changed, not every poll
		s.log.Info("move: " + text)
	}
}

// orchestrate runs a move to its end. ctx is cancelled with errAborted by
// AbortScale (until the switch) and when the node stops.
func (s *scaler) orchestrate(ctx context.Context, plan proxy.ScalePlan) {
	nodes := s.targets(plan.Join)
	err := s.prepare(ctx, plan, nodes)
	var transfers []stream.Transfer
	if err == nil {
		transfers, err = s.transfers(plan)
	}
	if err == nil {
		err = s.copyAll(ctx, transfers)
	}
	if err != nil {
		s.rollBack(ctx, plan, nodes, err)
		return
	}
	// the switch: from here on AbortScale refuses; an abort that came
	// before it (ctx cancelled after the copy ended) still rolls back
	s.mu.Lock()
	if ctx.Err() != nil {
		s.mu.Unlock()
		s.rollBack(ctx, plan, nodes, context.Cause(ctx))
		return
	}
	s.switched = true
	s.mu.Unlock()
	// from here on the move completes; only the node stopping ends it
	ctx = s.ctx
	for _, phase := range []proxy.ScalePhase{proxy.ScaleSwitched, proxy.ScaleDone} {
		plan.Phase = phase
		s.step("installing phase %s on every node", phase)
		if err := s.installAll(ctx, plan, nodes, time.Time{}); err != nil {
			s.finish(admin.ScaleFailed, fmt.Errorf("installing phase %s: %w", phase, err))
			return
		}
	}
	if err := s.cleanups(ctx, plan, transfers); err != nil {
		s.finish(admin.ScaleFailed, err)
		return
	}
	s.finish(admin.ScaleDone, nil)
}

// prepare is step 1: phase dual everywhere, then every node lists every
// joining node.
func (s *scaler) prepare(ctx context.Context, plan proxy.ScalePlan, nodes []string) error {
	deadline := time.Now().Add(scaleWait)
	plan.Phase = proxy.ScaleDual
	s.step("installing phase dual on every node")
	if err := s.installAll(ctx, plan, nodes, deadline); err != nil {
		return err
	}
	s.step("waiting for every node to list the joining nodes %v in its ring", plan.Join)
	for {
		missing := s.notListing(ctx, plan.Join, nodes)
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, not every node lists the joining nodes, connected (is the seed provider showing them?): %s", scaleWait, missing)
		}
		s.step("waiting for every node to list the joining nodes: %s", missing)
		if err := sleepCtx(ctx, scalePoll); err != nil {
			return err
		}
	}
}

// notListing names the nodes whose ring lacks one of join or that are not
// connected to it (a dual write to a joining node must reach it), with
// what they lack (or why they could not be asked), in one line.
func (s *scaler) notListing(ctx context.Context, join, nodes []string) string {
	var out []string
	for _, name := range nodes {
		up := map[string]bool{} // the node's ring: name -> connected
		if name == s.n.srv.Topology().Local().Name {
			for _, p := range s.n.srv.Peers() {
				up[p.Name] = p.Local || p.Up && !p.AdminDown
			}
		} else {
			var rj admin.RingJSON
			if err := s.call(ctx, http.MethodGet, name, "/ring", nil, &rj); err != nil {
				out = append(out, err.Error())
				continue
			}
			for _, dc := range rj.Datacenters {
				for _, rk := range dc.Racks {
					for _, n := range rk.Nodes {
						up[n.Name] = n.Local || n.State == "up"
					}
				}
			}
		}
		var lack, down []string
		for _, j := range join {
			if j == name {
				// a node is always in its own ring, under its own name,
				// which is not the others' for it when its dyn_listen
				// host is 0.0.0.0
				continue
			}
			switch connected, listed := up[j]; {
			case !listed:
				lack = append(lack, j)
			case !connected:
				down = append(down, j)
			}
		}
		if len(lack) > 0 {
			out = append(out, fmt.Sprintf("%s does not list %v", name, lack))
		}
		if len(down) > 0 {
			out = append(out, fmt.Sprintf("%s is not connected to %v", name, down))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "; ")
}

// installAll installs plan on every node, retrying each that fails with a
// backoff, until all have it, ctx ends, or the deadline (if any) passes.
func (s *scaler) installAll(ctx context.Context, plan proxy.ScalePlan, nodes []string, deadline time.Time) error {
	pending := slices.Clone(nodes)
	backoff := scaleBackoffMin
	for {
		var failed []string
		var last error
		for _, name := range pending {
			err := s.install(ctx, name, plan)
			s.update(func(st *admin.ScaleStatus) {
				for i := range st.Nodes {
					if st.Nodes[i].Name != name {
						continue
					}
					if err != nil {
						st.Nodes[i].Error = err.Error()
					} else {
						st.Nodes[i].Phase, st.Nodes[i].Error = string(plan.Phase), ""
					}
				}
			})
			if err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				failed, last = append(failed, name), err
			}
		}
		if len(failed) == 0 {
			s.update(func(st *admin.ScaleStatus) { st.Phase = string(plan.Phase) })
			return nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("nodes %v did not take phase %s within %s; last error: %w", failed, plan.Phase, scaleWait, last)
		}
		s.log.Warn("move: nodes did not take the phase; retrying", "phase", plan.Phase, "nodes", failed, "err", last, "retry_in", backoff)
		s.step("installing phase %s: retrying %v in %s (%v)", plan.Phase, failed, backoff, last)
		if err := sleepCtx(ctx, backoff); err != nil {
			return context.Cause(ctx)
		}
		backoff = min(2*backoff, scaleBackoffMax)
		pending = failed
	}
}

// install installs plan on the node named name: directly on this node,
// with POST /scale/plan on another.
func (s *scaler) install(ctx context.Context, name string, plan proxy.ScalePlan) error {
	if name == s.n.srv.Topology().Local().Name {
		return s.n.srv.SetScalePlan(&plan)
	}
	var got *admin.ScalePlanJSON
	if err := s.call(ctx, http.MethodPost, name, "/scale/plan", planJSON(&plan), &got); err != nil {
		return err
	}
	if got == nil || got.ID != plan.ID || got.Phase != string(plan.Phase) {
		return fmt.Errorf("node %s: POST /scale/plan answered plan %+v, not %s in phase %s", name, got, plan.ID, plan.Phase)
	}
	return nil
}

// transfers are the copies of a move, from this node's ring, which lists
// the joining nodes by now (prepare waited for it).
func (s *scaler) transfers(plan proxy.ScalePlan) ([]stream.Transfer, error) {
	before, after, err := stream.Continuums(s.n.srv.Topology().Nodes(), plan.Join, plan.Leave)
	if err != nil {
		return nil, err
	}
	trs, err := stream.Moves(before, after)
	if err != nil {
		return nil, err
	}
	s.update(func(st *admin.ScaleStatus) {
		st.Transfers = st.Transfers[:0]
		for _, tr := range trs {
			st.Transfers = append(st.Transfers, admin.ScaleTransferJSON{DC: tr.DC, Rack: tr.Rack, From: tr.From, To: tr.To, Ranges: tr.Ranges.String()})
		}
	})
	return trs, nil
}

// copyAll is step 2: every transfer, in one job of kind scale. An attempt
// that fails starts over after a backoff, until every transfer completed
// in one attempt or ctx ends.
func (s *scaler) copyAll(ctx context.Context, trs []stream.Transfer) error {
	job := s.n.Jobs().Start(jobs.Scale, fmt.Sprintf("move %s: %d transfers", s.ScaleStatus().ID, len(trs)))
	backoff := scaleBackoffMin
	for attempt := 1; ; attempt++ {
		s.step("copying %d transfers (attempt %d)", len(trs), attempt)
		err := s.copyAttempt(ctx, job, trs)
		if err == nil {
			job.Finish(nil)
			return nil
		}
		if ctx.Err() != nil {
			job.Finish(context.Canceled)
			return context.Cause(ctx)
		}
		s.log.Error("move: copy attempt failed; starting over", "err", err, "retry_in", backoff)
		s.update(func(st *admin.ScaleStatus) { st.Error = err.Error() })
		job.Retry(err)
		if err := sleepCtx(ctx, backoff); err != nil {
			job.Finish(context.Canceled)
			return context.Cause(ctx)
		}
		backoff = min(2*backoff, scaleBackoffMax)
	}
}

// copyAttempt streams every transfer once.
func (s *scaler) copyAttempt(ctx context.Context, job *jobs.Job, trs []stream.Transfer) error {
	var before jobs.Progress // what the transfers copied so far, of all their ranges
	for _, tr := range trs {
		before.RangesTotal += len(tr.Ranges)
	}
	s.n.warm.mu.Lock()
	password := s.n.warm.password
	s.n.warm.mu.Unlock()
	topo := s.n.srv.Topology()
	for i, tr := range trs {
		src, err := s.endpoint(ctx, tr.From)
		if err != nil {
			return err
		}
		dst, err := s.endpoint(ctx, tr.To)
		if err != nil {
			return err
		}
		src.Password, dst.Password = password, password
		st, err := stream.New(src, dst, tr.Ranges, stream.Options{Topology: topo, Throttle: s.n.warm.throttle})
		if err != nil {
			return err
		}
		s.log.Info("move: copying", "rack", tr.DC+"/"+tr.Rack, "from", tr.From, "to", tr.To, "ranges", tr.Ranges.String(), "source", src.Addr, "target", dst.Addr)
		err = s.n.warm.runStream(ctx, job, st, before)
		p := st.Progress()
		s.update(func(stt *admin.ScaleStatus) {
			t := &stt.Transfers[i]
			t.Keys, t.Skipped, t.Bytes, t.Done = p.Copied, p.SkippedPresent+p.SkippedNewer, p.Bytes, p.Done
		})
		if err == nil && p.Errors > 0 {
			// a key the stream could not copy is a hole: the attempt
			// fails and the copy starts over, never switching without it
			err = fmt.Errorf("%d keys not copied (the last: %s)", p.Errors, p.LastError)
		}
		if err != nil {
			return fmt.Errorf("copying %s from %s (node %s) to %s (node %s): %w", tr.Ranges, src.Addr, tr.From, dst.Addr, tr.To, err)
		}
		before = sum(before, jobs.FromStream(p))
	}
	job.Update(before)
	return nil
}

// endpoint is the datastore of the node named name.
func (s *scaler) endpoint(ctx context.Context, name string) (stream.Endpoint, error) {
	if name == s.n.srv.Topology().Local().Name {
		return stream.Endpoint{Addr: s.n.srv.Backend().Target().Addr, Protocol: s.n.warm.proto}, nil
	}
	return s.n.warm.datastoreOf(ctx, ring.Node{Name: name})
}

// rollBack ends a move that failed or was aborted before the switch: phase
// aborted on every node, retried for up to scaleWait. A node still not
// reached then (a joining node that never came up, most likely) is named
// in the error; POST /scale/plan on it installs the phase by hand.
func (s *scaler) rollBack(ctx context.Context, plan proxy.ScalePlan, nodes []string, cause error) {
	state := admin.ScaleFailed
	if errors.Is(cause, errAborted) {
		state = admin.ScaleAborted
	}
	s.log.Error("move: rolling back: phase aborted on every node", "id", plan.ID, "cause", cause)
	plan.Phase = proxy.ScaleAborted
	s.step("installing phase aborted on every node (%v)", cause)
	if err := s.installAll(s.ctx, plan, nodes, time.Now().Add(scaleWait)); err != nil {
		cause = fmt.Errorf("%w; then installing phase aborted: %w", cause, err)
	}
	s.finish(state, cause)
}

// finish records the move's end.
func (s *scaler) finish(state string, err error) {
	now := time.Now()
	s.update(func(st *admin.ScaleStatus) {
		st.State, st.Finished = state, &now
		st.Step = state
		st.Error = ""
		if err != nil {
			st.Error = err.Error()
		}
	})
	if err != nil {
		s.log.Error("move ended", "state", state, "err", err)
		return
	}
	s.log.Info("move done")
}

// cleanups is step 4: each old owner that stays in the ring deletes the
// keys of the ranges it lost. Leaving nodes are left alone: they are out
// of the ring, and the operator stops them.
func (s *scaler) cleanups(ctx context.Context, plan proxy.ScalePlan, trs []stream.Transfer) error {
	var owners []string
	for _, tr := range trs {
		if !slices.Contains(plan.Leave, tr.From) && !slices.Contains(owners, tr.From) {
			owners = append(owners, tr.From)
		}
	}
	s.update(func(st *admin.ScaleStatus) {
		for _, o := range owners {
			st.Cleanups = append(st.Cleanups, admin.ScaleCleanupJSON{Node: o, State: admin.ScaleIdle})
		}
	})
	for i, o := range owners {
		s.step("cleanup on %s", o)
		var err error
		backoff := scaleBackoffMin
		for attempt := 1; attempt <= cleanupAttempts; attempt++ {
			var st admin.CleanupStatus
			st, err = s.cleanup(ctx, o, func(st admin.CleanupStatus) {
				s.update(func(ss *admin.ScaleStatus) {
					ss.Cleanups[i].State, ss.Cleanups[i].Deleted, ss.Cleanups[i].Error = st.State, st.Deleted, st.Error
				})
			})
			if err == nil {
				break
			}
			s.update(func(ss *admin.ScaleStatus) {
				ss.Cleanups[i].State, ss.Cleanups[i].Error = admin.ScaleFailed, err.Error()
			})
			s.log.Error("move: cleanup failed", "node", o, "attempt", attempt, "err", err, "deleted", st.Deleted)
			if ctx.Err() != nil || sleepCtx(ctx, backoff) != nil {
				return ctx.Err()
			}
			backoff = min(2*backoff, scaleBackoffMax)
		}
		if err != nil {
			return fmt.Errorf("cleanup on %s failed %d times: %w", o, cleanupAttempts, err)
		}
	}
	return nil
}

// cleanup runs the cleanup of the node named name to its end, reporting
// its status as it goes.
func (s *scaler) cleanup(ctx context.Context, name string, report func(admin.CleanupStatus)) (admin.CleanupStatus, error) {
	get := func() (admin.CleanupStatus, error) {
		if name == s.n.srv.Topology().Local().Name {
			return s.clean.CleanupStatus(), nil
		}
		var st admin.CleanupStatus
		return st, s.call(ctx, http.MethodGet, name, "/cleanup", nil, &st)
	}
	var st admin.CleanupStatus
	var err error
	if name == s.n.srv.Topology().Local().Name {
		st, err = s.clean.StartCleanup()
	} else {
		err = s.call(ctx, http.MethodPost, name, "/cleanup", nil, &st)
	}
	if err != nil {
		return st, err
	}
	id := st.ID
	for st.State == admin.ScaleRunning {
		report(st)
		if err := sleepCtx(ctx, scalePoll); err != nil {
			return st, err
		}
		if st, err = get(); err != nil {
			return st, err
		}
		if st.ID != id {
			return st, fmt.Errorf("node %s: cleanup %d was followed by cleanup %d before it could be read", name, id, st.ID)
		}
	}
	report(st)
	if st.State != admin.ScaleDone {
		return st, fmt.Errorf("node %s: cleanup %d %s: %s", name, id, st.State, st.Error)
	}
	return st, nil
}

// call sends a request to the stats listener of the node named name, with
// this node's stats_admin_token, and decodes a 2xx answer into out.
func (s *scaler) call(ctx context.Context, method, name, path string, in, out any) error {
	addr := s.n.warm.statsAddrOf(name)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, body)
	if err != nil {
		return fmt.Errorf("node %s: stats listener %q: %w", name, addr, err)
	}
	if tok := s.n.srv.Admin().AdminToken(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := s.n.warm.http.Do(req)
	if err != nil {
		return fmt.Errorf("node %s: %s http://%s%s (set peer_stats_port if its stats port is not this node's): %w", name, method, addr, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("node %s: %s http://%s%s answered %d: %s", name, method, addr, path, res.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("node %s: %s http://%s%s answered %q: %w", name, method, addr, path, b, err)
	}
	return nil
}

// SetScalePlan is POST /scale/plan.
func (s *scaler) SetScalePlan(p *admin.ScalePlanJSON) error {
	if p == nil {
		return s.n.srv.SetScalePlan(nil)
	}
	return s.n.srv.SetScalePlan(&proxy.ScalePlan{ID: p.ID, Join: p.Join, Leave: p.Leave, Phase: proxy.ScalePhase(p.Phase)})
}

// ScalePlan is GET /scale/plan.
func (s *scaler) ScalePlan() *admin.ScalePlanJSON { return planJSON(s.n.srv.ScalePlan()) }

func planJSON(p *proxy.ScalePlan) *admin.ScalePlanJSON {
	if p == nil {
		return nil
	}
	return &admin.ScalePlanJSON{ID: p.ID, Join: p.Join, Leave: p.Leave, Phase: string(p.Phase)}
}

// StartCleanup and CleanupStatus are the cleaner's (POST and GET
// /cleanup).
func (s *scaler) StartCleanup() (admin.CleanupStatus, error) { return s.clean.StartCleanup() }
func (s *scaler) CleanupStatus() admin.CleanupStatus         { return s.clean.CleanupStatus() }

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
