package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy"
	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/jobs"
	"github.com/dynomite-go/dynomite/proxy/stream"
)

// cleaner runs this node's cleanups (POST /cleanup), one at a time: the
// deletion, from its own datastore, of the keys whose token is outside the
// ranges it owns in its current ring (stream.Cleanup), after a move handed
// some of them to another node. It is a job of kind cleanup in GET
// /streams, throttled by stream_keys_per_sec like the copies.
//
// It refuses to run while a move is in phase dual or switched here: the
// node may then still own, in one continuum, ranges it does not own in the
// other, and writes for them still reach it.
type cleaner struct {
	n   *Node
	ctx context.Context // ends with the node
	wg  sync.WaitGroup

	mu     sync.Mutex
	status admin.CleanupStatus
	cur    *stream.Cleanup
}

func newCleaner(n *Node, ctx context.Context) *cleaner {
	return &cleaner{n: n, ctx: ctx, status: admin.CleanupStatus{State: admin.ScaleIdle}}
}

// StartCleanup is POST /cleanup.
func (c *cleaner) StartCleanup() (admin.CleanupStatus, error) {
	if p := c.n.srv.ScalePlan(); p != nil && (p.Phase == proxy.ScaleDual || p.Phase == proxy.ScaleSwitched) {
		return c.CleanupStatus(), fmt.Errorf("%w: move %s is in phase %s on this node; a cleanup runs after phase done",
			admin.ErrCleanupRefused, p.ID, p.Phase)
	}
	topo := c.n.srv.Topology()
	if topo.Moving() {
		return c.CleanupStatus(), fmt.Errorf("%w: nodes are joining or leaving this node's ring", admin.ErrCleanupRefused)
	}
	keep, err := stream.NodeRanges(topo, topo.Local().Name)
	if err != nil {
		return c.CleanupStatus(), fmt.Errorf("%w: %v", admin.ErrCleanupRefused, err)
	}
	c.n.warm.mu.Lock()
	password := c.n.warm.password
	c.n.warm.mu.Unlock()
	ds := stream.Endpoint{Addr: c.n.srv.Backend().Target().Addr, Protocol: c.n.warm.proto, Password: password}
	cl, err := stream.NewCleanup(ds, keep, stream.Options{Topology: topo, Throttle: c.n.warm.throttle})
	if err != nil {
		return c.CleanupStatus(), fmt.Errorf("%w: %v", admin.ErrCleanupRefused, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status.State == admin.ScaleRunning {
		return c.statusLocked(), fmt.Errorf("%w: cleanup %d is running", admin.ErrCleanupRefused, c.status.ID)
	}
	job := c.n.Jobs().Start(jobs.Cleanup, fmt.Sprintf("keys outside %s", keep))
	now := time.Now()
	c.cur = cl
	c.status = admin.CleanupStatus{ID: job.Snapshot().ID, State: admin.ScaleRunning, Datastore: ds.Addr, Keep: keep.String(), Started: &now}
	c.n.log.Info("cleanup started", "component", "cleanup", "keep", keep.String(), "datastore", ds.Addr)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.runJob(job, cl)
	}()
	return c.statusLocked(), nil
}

// runJob runs cl, refreshing its job meanwhile.
func (c *cleaner) runJob(job *jobs.Job, cl *stream.Cleanup) {
	done := make(chan error, 1)
	go func() { done <- cl.Run(c.ctx) }()
	t := time.NewTicker(warmupProgressEvery)
	defer t.Stop()
	var err error
	for running := true; running; {
		select {
		case err = <-done:
			running = false
		case <-t.C:
		}
		job.Update(cleanupProgress(cl.Progress()))
	}
	job.Finish(err)
	p := cl.Progress()
	now := time.Now()
	c.mu.Lock()
	c.cur = nil
	c.status.State, c.status.Finished = admin.ScaleDone, &now
	fill(&c.status, p)
	if err != nil {
		c.status.State, c.status.Error = admin.ScaleFailed, err.Error()
		if errors.Is(err, context.Canceled) {
			c.status.Error = "the node stopped"
		}
	}
	c.mu.Unlock()
	c.n.log.Info("cleanup ended", "component", "cleanup", "deleted", p.Deleted, "scanned", p.Scanned, "errors", p.Errors, "err", err)
}

// cleanupProgress is a cleanup as GET /streams shows a job: the keys
// deleted as copied.
func cleanupProgress(p stream.CleanupProgress) jobs.Progress {
	done := 0
	if p.Done {
		done = len(p.Keep)
	}
	return jobs.Progress{Target: p.Addr, RangesDone: done, RangesTotal: len(p.Keep), KeysTotal: p.Total,
		Scanned: p.Scanned, Copied: p.Deleted, Errors: p.Errors, LastError: p.LastError, KeysPerSec: p.KeysPerSec, ETA: -1}
}

func fill(st *admin.CleanupStatus, p stream.CleanupProgress) {
	st.Total, st.Scanned, st.Deleted, st.Errors, st.KeysPerSec = p.Total, p.Scanned, p.Deleted, p.Errors, p.KeysPerSec
}

// CleanupStatus is GET /cleanup.
func (c *cleaner) CleanupStatus() admin.CleanupStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

func (c *cleaner) statusLocked() admin.CleanupStatus {
	st := c.status
	if c.cur != nil {
		fill(&st, c.cur.Progress())
	}
	return st
}
