package proxy

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/repair"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Read repair (proxy/repair has the metadata, the scripts and the
// decision; this file is the plumbing). With it active, the fan-out sends
// the listed writes and reads as scripts (rewriteForRepair), a quorum read
// whose replicas disagree answers with the newest reply
// (consistency.Set.Versions, fanout.Newer), and once every copy of a
// repairable request is in, afterRepairable sends the repair writes to the
// stale replicas and removes tombstones every replica has. The client's
// reply never waits for any of it: the last copy completes after the
// decision, and the repair writes go out asynchronously through the peer
// and datastore pools, their replies counted by a repairRun.

// repairCounters are read repair's counters (NodeStats.ReadRepairs).
type repairCounters struct {
	byTimestamp, byMajority, writesFailed, cleanups atomic.Uint64
}

// SetReadRepairs turns read repair on or off (/read_repairs/enable and
// /read_repairs/disable); requests already routed keep the state they saw.
func (s *Server) SetReadRepairs(on bool) { s.cluster.readRepairs.Store(on) }

// ReadRepairs reports whether read repair is on, and whether it acts: only
// while both node-wide levels are above DC_ONE and the datastore is Redis
// (upstream's dyn_core.c is_read_repairs_enabled).
func (s *Server) ReadRepairs() (on, active bool) {
	return s.cluster.readRepairs.Load(), s.cluster.repairsActive()
}

// Clock is the clock that stamps the writes this node coordinates.
func (s *Server) Clock() *hlc.Clock { return s.cluster.clock }

func (c *cluster) repairsActive() bool {
	return c.readRepairs.Load() && c.opts.Proto == msg.Redis &&
		consistency.Level(c.readLevel.Load()) != consistency.DCOne &&
		consistency.Level(c.writeLevel.Load()) != consistency.DCOne
}

// rewriteForRepair makes f's copies carry the script of a repairable
// command when read repair is active: a write stamped with the clock, or a
// read at a quorum level (a DC_ONE read asks one replica: nothing to
// compare). r itself is left as the client sent it (the session accounts
// for its size, and the repair decision reads its Args). It sets f.rop
// (repair.None when r goes unchanged), a write's score in f.rscore, and the
// script in f.rraw, built in a pooled buffer that release returns.
func (f *fanout) rewriteForRepair(r *msg.Request, write bool, level consistency.Level) {
	c := f.c
	if !c.repairsActive() {
		return
	}
	op := repair.OpOf(resp.CommandByID(r.Cmd).Name)
	if op == repair.None || op.Read() == write || (!write && level == consistency.DCOne) {
		return
	}
	bp := scriptBufs.Get().(*[]byte)
	var b []byte
	var ok bool
	if write {
		f.rscore = repair.Score(c.clock.Now())
		b, ok = repair.AppendWrite((*bp)[:0], op, r.Args, f.rscore)
	} else {
		b, ok = repair.AppendRead((*bp)[:0], op, r.Args)
	}
	*bp = b
	if !ok {
		scriptBufs.Put(bp)
		return
	}
	f.rop, f.rraw, f.rbuf = op, b, bp
	if op.Read() {
		f.set.Versions = f
	}
}

// scriptBufs holds the buffers of the scripts the copies carry; buffers
// larger than maxKeepScript are left to the collector.
var scriptBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxKeepScript = 64 << 10

// releaseScript returns f's script buffer, once no copy uses it.
func (f *fanout) releaseScript() {
	if f.rbuf != nil && cap(*f.rbuf) <= maxKeepScript {
		scriptBufs.Put(f.rbuf)
	}
}

// replyFor is copy i's reply as the client gets it: a repairable read's
// value without its metadata.
func (f *fanout) replyFor(i int) []byte {
	b := f.subs[i].req.Reply
	if f.rop.Read() {
		if r, err := repair.ParseRead(b); err == nil {
			return r.Value
		}
	}
	return b
}

// Newer makes a repairable read's fan-out the consistency.Versions of its
// replies: a reply that is not a read script's answer is the oldest.
func (f *fanout) Newer(i, j int) bool {
	a, err := repair.ParseRead(f.set.Replicas[i].Reply)
	if err != nil {
		return false
	}
	b, err := repair.ParseRead(f.set.Replicas[j].Reply)
	return err != nil || repair.Newer(a, b)
}

// afterRepairable runs once every copy of a repairable request completed,
// before the fan-out is released (its copies' replies are still there).
func (f *fanout) afterRepairable() {
	switch {
	case f.rop.Read():
		f.repairRead()
	case f.rop.Delete():
		f.cleanAfterDelete()
	}
}

// coversAll reports whether f's copies went straight to every replica of
// the key, each counted: then their replies say what every replica holds.
// Below DC_EACH_SAFE_QUORUM a remote datacenter gets one forwarded copy
// whose reply speaks for one rack there, so a cluster of several
// datacenters keeps its tombstones (the next delete of the key, or a read at
// DC_EACH_SAFE_QUORUM, cleans them).
func (f *fanout) coversAll() bool {
	for _, si := range f.subs {
		// a write's extra copies (a move) go straight to replicas too
		if si.role != roleCounted && si.role != roleExtra {
			return false
		}
	}
	return f.strategy.Targets() == consistency.EveryDC || f.st.topo.NumDCs() == 1
}

// cleanAfterDelete removes the tombstones of a delete every replica applied
// (upstream's redis_clear_repair_md_for_key, once all replicas replied).
func (f *fanout) cleanAfterDelete() {
	if !f.coversAll() {
		return
	}
	for _, rep := range f.set.Replicas {
		if rep.Outcome != consistency.OK || replyIsError(rep.Reply) {
			return
		}
	}
	// from the script the copies carried: a fragment's arguments are the
	// client request's, which its other fragments may have let go by now
	if b, ok := repair.AppendCleanupOf(nil, f.rraw); ok {
		f.cleanEverywhere(b)
	}
}

// cleanEverywhere sends the tombstone cleanup b to every replica f asked.
func (f *fanout) cleanEverywhere(b []byte) {
	run := &repairRun{c: f.c, st: f.st}
	for i := range f.subs {
		run.add(f.subs[i].node, b)
	}
	f.c.repairs.cleanups.Add(1)
	run.start()
}

// repairRead compares the replies of a repairable read and writes the
// newest value to the stale replicas; a delete that every replica then has
// loses its tombstone once the repair writes succeeded.
func (f *fanout) repairRead() {
	if f.allSame() {
		return
	}
	n := len(f.subs)
	// on the stack for up to 8 copies (racks of a datacenter, or of every
	// datacenter at DC_EACH_SAFE_QUORUM)
	var replyBuf [8]repair.Reply
	var okBuf, staleBuf [8]bool
	replies, ok := replyBuf[:0], okBuf[:0]
	if n > len(replyBuf) {
		replies, ok = make([]repair.Reply, 0, n), make([]bool, 0, n)
	}
	replies, ok = replies[:n], ok[:n]
	counted, all := 0, true
	for i, rep := range f.set.Replicas {
		if !rep.Counted {
			continue
		}
		counted++
		if rep.Outcome != consistency.OK {
			all = false
			continue
		}
		r, err := repair.ParseRead(rep.Reply)
		if err != nil {
			all = false
			continue
		}
		replies[i], ok[i] = r, true
	}
	// while nodes join or leave, a read does not hear from the owners on
	// the other side of the move: tombstones stay until a delete's copies
	// (which reach both sides) clean them
	cover := all && f.coversAll() && !f.st.topo.Moving()
	args := f.parent.Args
	d := repair.Decide(replies, ok, consistency.Quorum(counted), staleBuf[:0])
	if d.Kind == repair.NoRepair {
		// every replica answered the same delete: its tombstone can go
		if cover && n > 0 && replies[0].Status == repair.Removed && agree(replies) {
			if b, ok := repair.AppendCleanupFor(nil, f.rop, args, replies[0].Score); ok {
				f.cleanEverywhere(b)
			}
		}
		return
	}
	win := replies[d.Winner]
	w, wok := repair.AppendRepair(nil, f.rop, args, win, d.Kind)
	if !wok {
		return
	}
	if d.Kind == repair.ByMajority {
		f.c.repairs.byMajority.Add(1)
	} else {
		f.c.repairs.byTimestamp.Add(1)
	}
	run := &repairRun{c: f.c, st: f.st}
	if d.Kind == repair.ByTimestamp && win.Status == repair.Removed && cover {
		run.cleanup, _ = repair.AppendCleanupFor(nil, f.rop, args, win.Score)
		for i := range f.subs {
			run.cleanupTo = append(run.cleanupTo, f.subs[i].node)
		}
	}
	for i, stale := range d.Stale {
		if stale {
			n := f.subs[i].node
			run.add(n, w)
			// the owner on the other side of a move takes a timestamped
			// repair too, as it takes the writes: it applies only over
			// older data (AppendRepair), so where that owner is not
			// stale it changes nothing. A repair by majority is a plain
			// write that could overwrite a newer value there: not sent.
			if d.Kind != repair.ByTimestamp {
				continue
			}
			if e := f.st.topo.ExtraOwner(n.DCIndex, n.RackIndex, f.subs[i].tok); e != nil {
				run.add(e, w)
			}
		}
	}
	run.start()
}

// allSame reports whether every copy replied, the same bytes, and not a
// delete (whose tombstone the comparison may clean): the steady state, with
// nothing to compare.
func (f *fanout) allSame() bool {
	first := f.set.Replicas[0].Reply
	for _, rep := range f.set.Replicas {
		if rep.Outcome != consistency.OK || !bytes.Equal(rep.Reply, first) {
			return false
		}
	}
	r, err := repair.ParseRead(first)
	return err != nil || r.Status != repair.Removed
}

// agree reports whether every reply says the same.
func agree(replies []repair.Reply) bool {
	for _, r := range replies[1:] {
		if r.Status != replies[0].Status || r.Score != replies[0].Score {
			return false
		}
	}
	return true
}

// repairRun is a batch of repair (or cleanup) writes sent to replicas off
// the client's path; when all succeeded, it sends its cleanup, if any, to
// cleanupTo. It counts as a fan-out while in flight, so a stopping node
// waits for it as for the client's own copies.
type repairRun struct {
	c     *cluster
	st    *clusterState
	reqs  []*msg.Request
	nodes []*ring.Node
	// cleanup goes to cleanupTo once every write succeeded
	cleanup   []byte
	cleanupTo []*ring.Node

	pending atomic.Int32
	failed  atomic.Bool
}

// add queues raw for node n; the run must not have started.
func (run *repairRun) add(n *ring.Node, raw []byte) {
	req := run.c.reqs.Get()
	req.SetRaw(raw)
	req.Class, req.PeerType, req.Notify = msg.ClassWrite, peerReq, run
	run.reqs = append(run.reqs, req)
	run.nodes = append(run.nodes, n)
}

// start sends every queued write.
func (run *repairRun) start() {
	if len(run.reqs) == 0 {
		return
	}
	run.c.fanouts.Add(1)
	run.pending.Store(int32(len(run.reqs)))
	for i, req := range run.reqs {
		n := run.nodes[i]
		switch {
		case n.Local:
			run.c.local.Send(req, 0)
		case run.st.down[n.Index].Load():
			req.Fail(errPeerAdminDown)
		default:
			run.st.pools[n.Index].Send(req, 0)
		}
	}
}

// SubDone counts one write of the run.
func (run *repairRun) SubDone(req *msg.Request) {
	c := run.c
	if req.Err != nil || replyIsError(req.Reply) {
		run.failed.Store(true)
		c.repairs.writesFailed.Add(1)
	}
	c.reqs.Put(req)
	if run.pending.Add(-1) > 0 {
		return
	}
	if run.cleanup != nil && !run.failed.Load() {
		next := &repairRun{c: c, st: run.st}
		for _, n := range run.cleanupTo {
			next.add(n, run.cleanup)
		}
		c.repairs.cleanups.Add(1)
		next.start()
	}
	c.fanouts.Add(-1)
}
