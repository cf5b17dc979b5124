package node

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/antientropy"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// repairer runs the node's anti-entropy repairs (proxy/antientropy): on
// POST /repair and every repair_interval. One repair runs at a time; it
// compares this node's ranges (or the ranges asked for) on every rack of
// every datacenter, reading each peer's datastore directly, at the address
// the peer's GET /datastore gives.
type repairer struct {
	log      *slog.Logger
	srv      *proxy.Server
	jobs     *jobs.Registry // GET /streams lists the repairs
	throttle *stream.Throttle
	settings atomic.Pointer[repairSettings]
	// datastoreOf asks a peer where its datastore is (the warm-ups' GET
	// /datastore client, warmup.go)
	datastoreOf func(ctx context.Context, peer ring.Node) (stream.Endpoint, error)
	wake        chan struct{} // the interval changed

	// ctx ends the running repair when the node stops.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	status admin.RepairStatus
	cur    *antientropy.Repair

	found, fixed, runsOK, runsFailed atomic.Uint64
}

// repairSettings are what the configuration gives a repair; a reload
// replaces them whole.
type repairSettings struct {
	datastore, password, preferredDC string
	interval                         time.Duration
	protocol                         stream.Protocol
}

func newRepairer(cfg *config.Config, srv *proxy.Server, reg *jobs.Registry, throttle *stream.Throttle,
	datastoreOf func(context.Context, ring.Node) (stream.Endpoint, error), log *slog.Logger) *repairer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &repairer{log: log.With("component", "repair"), srv: srv, jobs: reg, throttle: throttle, datastoreOf: datastoreOf,
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		status: admin.RepairStatus{State: admin.RepairIdle, Replicas: []string{}}}
	p.apply(cfg)
	return p
}

// apply takes the repair keys of a configuration (at start and on every
// reload): the interval times the schedule anew. The throttle is the
// warm-ups' (stream_keys_per_sec, stream_bytes_per_sec), which their apply
// sets.
func (p *repairer) apply(cfg *config.Config) {
	s := &repairSettings{password: cfg.DatastorePassword, preferredDC: cfg.RepairPreferredDC, interval: cfg.RepairInterval}
	if cfg.DataStore == msg.Memcache {
		s.protocol = stream.Memcached
	}
	if len(cfg.Servers) > 0 {
		s.datastore = cfg.Servers[0].Endpoint.String()
	}
	old := p.settings.Swap(s)
	if old != nil && old.interval != s.interval {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// run starts a repair every repair_interval until ctx ends, then stops the
// running repair and waits for it.
func (p *repairer) run(ctx context.Context) error {
	defer func() {
		p.cancel()
		p.wg.Wait()
	}()
	for {
		var tick <-chan time.Time
		var t *time.Timer
		if iv := p.settings.Load().interval; iv > 0 {
			t = time.NewTimer(iv)
			tick = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return nil
		case <-p.wake:
			if t != nil {
				t.Stop()
			}
		case <-tick:
			if _, err := p.start(admin.RepairRequest{}, "schedule"); err != nil {
				p.log.Warn("scheduled repair not started", "err", err)
			}
		}
	}
}

// StartRepair is POST /repair.
func (p *repairer) StartRepair(req admin.RepairRequest) (admin.RepairStatus, error) {
	return p.start(req, "admin")
}

func (p *repairer) start(req admin.RepairRequest, trigger string) (admin.RepairStatus, error) {
	if st := p.RepairStatus(); st.State == admin.RepairRunning {
		return st, admin.ErrRepairRunning
	}
	if p.srv.Topology().Moving() {
		// the ranges and replicas below come from one side of a move; the
		// other side's owners would be compared as if they were not there
		return p.RepairStatus(), fmt.Errorf("%w: nodes are joining or leaving the ring (dynomite scale status): repair after the move", admin.ErrRepairRefused)
	}
	opts, err := p.options(req)
	if err != nil {
		return p.RepairStatus(), err
	}
	r, err := antientropy.New(opts)
	if err != nil {
		return p.RepairStatus(), err
	}
	p.mu.Lock()
	if p.status.State == admin.RepairRunning {
		p.mu.Unlock()
		return p.RepairStatus(), admin.ErrRepairRunning
	}
	now := time.Now()
	p.cur = r
	p.status = admin.RepairStatus{ID: p.status.ID + 1, State: admin.RepairRunning, Trigger: trigger, Started: &now,
		Replicas: describeReplicas(opts.Replicas)}
	id := p.status.ID
	p.wg.Add(1)
	p.mu.Unlock()
	p.log.Info("repair started", "id", id, "trigger", trigger, "ranges", opts.Ranges.String(), "replicas", describeReplicas(opts.Replicas), "dry_run", opts.DryRun)
	job := p.jobs.Start(jobs.Repair, fmt.Sprintf("ranges %s on %s", opts.Ranges, strings.Join(names(opts.Replicas), ", ")))
	go func() {
		defer p.wg.Done()
		stop := make(chan struct{})
		var updates sync.WaitGroup
		updates.Go(func() { p.report(job, r, len(opts.Ranges), stop) })
		res, err := r.Run(p.ctx)
		close(stop)
		updates.Wait()
		job.Update(jobProgress(res, len(opts.Ranges)))
		job.Finish(err)
		p.finish(res, err)
	}()
	return p.RepairStatus(), nil
}

// report updates job with the repair's progress every second until stop.
func (p *repairer) report(job *jobs.Job, r *antientropy.Repair, ranges int, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			job.Update(jobProgress(r.Progress(), ranges))
		}
	}
}

// jobProgress is a repair's progress as GET /streams shows a job's: keys
// read for the trees as scanned, keys repaired as copied, divergent keys
// left alone as skipped.
func jobProgress(res antientropy.Result, ranges int) jobs.Progress {
	done := 0
	if res.Phase == antientropy.PhaseDone {
		done = ranges
	}
	rate := 0.0
	if res.Elapsed > 0 {
		rate = float64(res.Scanned) / res.Elapsed
	}
	return jobs.Progress{RangesDone: done, RangesTotal: ranges,
		Scanned: res.Scanned, Copied: res.Fixed, Skipped: res.Found - res.Fixed, Errors: res.Errors,
		LastError: res.LastError, KeysPerSec: rate, ETA: -1}
}

func names(reps []antientropy.Replica) []string {
	out := make([]string, len(reps))
	for i, r := range reps {
		out[i] = r.Name
	}
	return out
}

func (p *repairer) finish(res antientropy.Result, err error) {
	p.found.Add(uint64(res.Found))
	p.fixed.Add(uint64(res.Fixed))
	p.mu.Lock()
	now := time.Now()
	p.status.Finished, p.status.Result, p.cur = &now, res, nil
	p.status.State = admin.RepairDone
	if err != nil {
		p.status.State, p.status.Error = admin.RepairFailed, err.Error()
	}
	id := p.status.ID
	p.mu.Unlock()
	if err != nil {
		p.runsFailed.Add(1)
		p.log.Error("repair failed", "id", id, "found", res.Found, "fixed", res.Fixed, "err", err)
		return
	}
	p.runsOK.Add(1)
	p.log.Info("repair done", "id", id, "found", res.Found, "fixed", res.Fixed, "unresolved", res.Unresolved,
		"changed_meanwhile", res.ChangedMeanwhile, "errors", res.Errors, "scanned", res.Scanned, "seconds", res.Elapsed)
}

// RepairStatus is GET /repair.
func (p *repairer) RepairStatus() admin.RepairStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.status
	if p.cur != nil {
		st.Result = p.cur.Progress()
	}
	return st
}

func describeReplicas(reps []antientropy.Replica) []string {
	out := make([]string, 0, len(reps))
	for _, r := range reps {
		s := r.Name + ":"
		for i, ds := range r.Datastores {
			if i > 0 {
				s += ","
			}
			s += " " + ds.Addr
		}
		out = append(out, s)
	}
	return out
}

// options turns a request into a repair of its ranges (default: this
// node's own) on every rack that holds part of them.
func (p *repairer) options(req admin.RepairRequest) (antientropy.Options, error) {
	topo := p.srv.Topology()
	set := p.settings.Load()
	var ranges stream.Ranges
	for _, r := range req.Ranges {
		ranges = append(ranges, stream.Range{Start: ring.Token(r.Start), End: ring.Token(r.End)})
	}
	if len(ranges) == 0 {
		var err error
		if ranges, err = stream.NodeRanges(topo, topo.Local().Name); err != nil {
			return antientropy.Options{}, err
		}
	}
	for name := range req.Datastores {
		if topo.NodeByName(name) == nil {
			return antientropy.Options{}, fmt.Errorf("datastores: no node %q in the ring (GET /ring lists the names)", name)
		}
	}
	reps, err := p.replicas(topo, ranges, set.datastore, req.Datastores)
	if err != nil {
		return antientropy.Options{}, err
	}
	return antientropy.Options{Topology: topo, Ranges: ranges, Replicas: reps, Protocol: set.protocol, Password: set.password,
		PreferredDC: set.preferredDC, Throttle: p.throttle, DryRun: req.DryRun}, nil
}

// replicas lists one replica per rack of every datacenter, this node's
// rack first: the nodes of the rack whose ranges meet the repaired ones,
// each with its datastore.
func (p *repairer) replicas(topo *ring.Topology, ranges stream.Ranges, local string, given map[string]string) ([]antientropy.Replica, error) {
	var out []antientropy.Replica
	add := func(dc, rack int) error {
		rep := antientropy.Replica{DC: topo.DCName(dc), Rack: topo.RackName(dc, rack)}
		rep.Name = rep.DC + "/" + rep.Rack
		nodes := topo.RackNodes(dc, rack)
		for _, n := range nodes {
			owns, err := stream.NodeRanges(topo, n.Name)
			if err != nil {
				return err
			}
			if !meet(owns, ranges) {
				continue
			}
			addr := given[n.Name]
			switch {
			case addr != "":
			case n.Local:
				addr = local
			default:
				ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
				ep, err := p.datastoreOf(ctx, *n)
				cancel()
				if err != nil {
					return err
				}
				addr = ep.Addr
			}
			ds := antientropy.Datastore{Addr: addr}
			if len(nodes) > 1 {
				ds.Owns = owns
			}
			rep.Datastores = append(rep.Datastores, ds)
		}
		if len(rep.Datastores) > 0 {
			out = append(out, rep)
		}
		return nil
	}
	if err := add(topo.LocalDC(), topo.LocalRack()); err != nil {
		return nil, err
	}
	for dc := range topo.NumDCs() {
		for rack := range topo.NumRacks(dc) {
			if dc == topo.LocalDC() && rack == topo.LocalRack() {
				continue
			}
			if err := add(dc, rack); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// meet reports whether two sets of ranges share a token: two ranges
// (s1, e1] and (s2, e2] on a circle overlap exactly when one holds the
// other's end (their overlap ends at one of the two ends).
func meet(a, b stream.Ranges) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Contains(y.End) || y.Contains(x.End) {
				return true
			}
		}
	}
	return false
}
