package proxy

import (
	"errors"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/repair"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// What the router asks a peer to do with a copy (msg.PeerType).
const (
	peerReq     = msg.PeerServe   // the receiver serves it from its datastore
	peerForward = msg.PeerForward // the receiver, in another datacenter, fans out to its racks
)

// Sub-request roles in a fan-out.
const (
	roleCounted  = iota // its reply counts for the consistency level
	roleSwallow         // replicated copy whose reply is ignored (remote DC)
	roleFailover        // DC_ONE read retried on another replica
	// roleExtra: a write's copy to a rack's owner on the other side of a
	// move (ring.Topology.ExtraOwner): sent like any copy and hinted when
	// it fails, but its reply never counts for the level
	roleExtra
)

type subInfo struct {
	req  *msg.Request
	node *ring.Node
	role uint8
	dc   int // datacenter index (DC_EACH_SAFE_QUORUM groups by it)
	// remote forwards: the racks still to try in that datacenter
	next []int
	tok  ring.Token
	// split: its reply is split into one element per key (f.spans)
	split bool
}

// fanout is one client request sent to several replicas. The policy (whom
// to ask, when the replies decide, which reply wins) is the consistency
// package's; fanout is the plumbing: it sends the copies, fails them over,
// records their outcomes in set and renders what the strategy decided.
type fanout struct {
	c        *cluster
	st       *clusterState
	parent   *msg.Request
	strategy consistency.Strategy
	hint     uint
	// hinted: a write whose failed copies become hints (handoff.go)
	hinted bool

	mu   sync.Mutex
	subs []subInfo
	// set is what the strategy reads: set.Replicas[i] is subs[i]'s outcome,
	// written under mu once the copy completed for good; only then may its
	// Reply and Err be read by others. set.Choice holds the key-by-key
	// choices of a multi-key read (keyquorum.go).
	set         consistency.Set
	outstanding int
	finished    bool
	// DC_ONE read failover candidates, in order
	failover []*ring.Node

	// multi-key reads decided key by key (keyquorum.go): the number of
	// keys (0: compare whole replies) and each copy's elements (nkeys
	// spans per copy, by copy index)
	nkeys int
	spans []span

	// read repair (readrepair.go): the repairable command the copies carry
	// as a script (repair.None otherwise), a write's score, the script and
	// its pooled buffer
	rop    repair.Op
	rscore float64
	rraw   []byte
	rbuf   *[]byte
}

var fanoutPool = sync.Pool{New: func() any { return new(fanout) }}

// route sends r to the replicas its class and consistency level call for.
// It is the entry point for every request once the ring has more than one
// node.
func (c *cluster) route(r *msg.Request, hint uint, rl, wl consistency.Level) {
	st := c.state.Load()
	write := r.Class == msg.ClassWrite
	level := rl
	if write {
		level = wl
	}
	switch State(c.nodeState.Load()) {
	case StateStandby:
		c.fail(r, "Dynomite: Dynomite's current state does not allow this request")
		return
	case StateWritesOnly, StateResuming:
		if !write && r.Class != msg.ClassLocal {
			c.fail(r, "Dynomite: Dynomite's current state does not allow this request")
			return
		}
	}
	if c.opts.AdminMode == 1 && (r.Class == msg.ClassMultiKey || r.Flags.Has(msg.FlagDelete)) {
		c.adminDelete(st, r, hint)
		return
	}
	if write || r.Flags.Has(msg.FlagWrite) {
		c.stamp(r)
	}
	switch r.Class {
	case msg.ClassLocal:
		c.local.Send(r, hint)
		return
	case msg.ClassAllNodes:
		c.allNodes(st, r, hint)
		return
	case msg.ClassRack:
		c.rackWide(st, r, hint)
		return
	case msg.ClassMultiKey:
		if c.multiKey(st, r, hint, rl, wl) {
			return
		}
		// every key has the same replicas: route it whole
		write = r.Flags.Has(msg.FlagWrite)
		level = rl
		if write {
			level = wl
		}
	}
	if !c.verifyScript(st, r) {
		c.fail(r, "Dynomite: Keys in the script cannot span multiple nodes")
		return
	}
	tok, hasKey := st.topo.KeyToken(r.Key)
	if !hasKey {
		c.local.Send(r, hint)
		return
	}
	c.fanOut(st, r, hint, tok, write, level)
}

// fail completes r with an error line of the client's protocol.
func (c *cluster) fail(r *msg.Request, text string) {
	r.KeepReply(c.codec.errorLine(r.ReplyBuf(), text))
	r.Done()
}

func (c *cluster) fanOut(st *clusterState, r *msg.Request, hint uint, tok ring.Token, write bool, level consistency.Level) {
	f := c.newFanout(st, r, hint, level, write)
	f.strategy.LocalRackOnly = !write && r.Flags.Has(msg.FlagLocalRackOnly)
	f.rewriteForRepair(r, write, level)
	f.addTargets(tok, write)
	f.start()
}

// addTargets adds the copies of f's request for the key token tok: whom
// f.strategy asks, and, for a write while nodes join or leave, the extra
// owners of the move.
func (f *fanout) addTargets(tok ring.Token, write bool) {
	c, r, topo := f.c, f.parent, f.st.topo
	localDC, localRack := topo.LocalDC(), topo.LocalRack()
	switch f.strategy.Targets() {
	case consistency.LocalRack:
		owner := topo.Owner(localDC, localRack, tok)
		f.add(owner, roleCounted, localDC, tok, nil)
		f.set.Primary = 0
		// failover order: the other local racks, then the remote datacenters
		for rk := 0; rk < topo.NumRacks(localDC); rk++ {
			if rk != localRack {
				f.failover = append(f.failover, topo.Owner(localDC, rk, tok))
			}
		}
		for dc := 0; dc < topo.NumDCs(); dc++ {
			if dc != localDC {
				for _, rk := range topo.RemoteRackOrder(dc) {
					f.failover = append(f.failover, topo.Owner(dc, rk, tok))
				}
			}
		}
	case consistency.EveryDC:
		if !write {
			f.nkeys = c.perKeyCount(r)
		}
		extras := write && topo.Moving()
		for dc := 0; dc < topo.NumDCs(); dc++ {
			for rk := 0; rk < topo.NumRacks(dc); rk++ {
				f.add(topo.Owner(dc, rk, tok), roleCounted, dc, tok, nil)
				if extras {
					f.addExtra(dc, rk, tok)
				}
			}
		}
	default: // consistency.LocalDC
		if !write {
			f.nkeys = c.perKeyCount(r)
		}
		extras := write && topo.Moving()
		for rk := 0; rk < topo.NumRacks(localDC); rk++ {
			if rk == localRack {
				f.set.Primary = len(f.subs)
			}
			f.add(topo.Owner(localDC, rk, tok), roleCounted, localDC, tok, nil)
			if extras {
				f.addExtra(localDC, rk, tok)
			}
		}
		if f.strategy.ForwardsRemote() {
			for dc := 0; dc < topo.NumDCs(); dc++ {
				if dc == localDC {
					continue
				}
				order := topo.RemoteRackOrder(dc)
				if len(order) == 0 {
					continue
				}
				f.add(topo.Owner(dc, order[0], tok), roleSwallow, dc, tok, order[1:])
			}
		}
	}
}

// newFanout takes a fan-out from the pool for parent r. r is held until
// the last copy completes, because the copies share r.Raw.
func (c *cluster) newFanout(st *clusterState, r *msg.Request, hint uint, level consistency.Level, write bool) *fanout {
	f := fanoutPool.Get().(*fanout)
	f.c, f.st, f.parent, f.hint = c, st, r, hint
	f.strategy = consistency.Strategy{Level: level, Write: write}
	f.hinted = r.Stamp != 0
	f.set.DCs, f.set.LocalDC, f.set.Primary = st.topo.NumDCs(), st.topo.LocalDC(), -1
	r.Hold()
	c.fanouts.Add(1)
	return f
}

// localFirst makes f, a DC_ONE read fan-out (one replica at a time), answer
// with its first copy (the local node); the other copies, added after, are
// replicated and swallowed.
func (f *fanout) localFirst() {
	topo := f.st.topo
	f.set.Primary = 0
	f.add(topo.Local(), roleCounted, topo.LocalDC(), 0, nil)
}

// start sends every copy; outstanding is set first because a copy may
// complete (fail) synchronously inside send.
func (f *fanout) start() {
	f.outstanding = len(f.subs)
	for i := range f.subs {
		f.sendIfNeeded(i)
	}
}

// sendIfNeeded sends copy i unless the answer was decided meanwhile (the
// other copies complete on their own goroutines while start sends) and the
// strategy no longer needs it: a read's counted copy is then completed
// here, unsent. Writes and swallowed copies are always sent: they are the
// replication. Copies already handed to a connection are not recalled.
func (f *fanout) sendIfNeeded(i int) {
	// the lock only for copies the decision can make unneeded; nothing
	// writes set.Replicas[i] before copy i is sent
	if !f.strategy.Needed(f.set.Replicas[i], true) {
		f.mu.Lock()
		decided := f.finished
		f.mu.Unlock()
		if decided {
			f.c.copiesNotSent.Add(1)
			f.subs[i].req.Fail(errNotNeeded)
			return
		}
	}
	f.send(i)
}

// addExtra adds a write's extra copy for the owner of tok in rack rk of
// datacenter dc on the other side of a move, if that is another node. A
// remote datacenter's extra copies are its coordinator's (forwardLocalDC).
func (f *fanout) addExtra(dc, rk int, tok ring.Token) {
	if e := f.st.topo.ExtraOwner(dc, rk, tok); e != nil {
		f.add(e, roleExtra, dc, tok, nil)
	}
}

func (f *fanout) add(n *ring.Node, role uint8, dc int, tok ring.Token, next []int) {
	sub := f.c.reqs.Get()
	if f.rraw != nil {
		sub.AdoptRaw(f.rraw)
	} else {
		sub.AdoptRaw(f.parent.Raw)
	}
	sub.Cmd, sub.Class, sub.Flags, sub.Retrieval, sub.Key = f.parent.Cmd, f.parent.Class, f.parent.Flags, f.parent.Retrieval, f.parent.Key
	sub.Stamp, sub.StampNode, sub.Replay, sub.CrossDC = f.parent.Stamp, f.parent.StampNode, f.parent.Replay, f.parent.CrossDC
	// a memcache noreply write is answered by no replica: its copies must
	// not wait for a reply, or the next one is taken for theirs
	sub.NoReply = f.parent.NoReply
	sub.Notify = f
	sub.Tag = int32(len(f.subs))
	sub.PeerType = peerReq
	if role == roleSwallow && f.strategy.Level != consistency.DCEachSafeQuorum {
		sub.PeerType = peerForward
		// a copy for another datacenter that arrives late is applied there
		// only when newer than what its replicas hold (lww.go): a cut link
		// can hold it back until after a newer write made there
		sub.CrossDC = sub.Stamp != 0
	}
	f.subs = append(f.subs, subInfo{req: sub, node: n, role: role, dc: dc, next: next, tok: tok})
	f.set.Replicas = append(f.set.Replicas, consistency.Replica{DC: dc, Counted: role == roleCounted})
}

// send hands sub i to its node: the local datastore or a peer pool.
func (f *fanout) send(i int) {
	si := f.subs[i]
	if si.node.Local {
		f.c.toDatastore(si.req, f.hint)
		return
	}
	if f.st.down[si.node.Index].Load() {
		si.req.Fail(errPeerAdminDown)
		return
	}
	f.st.pools[si.node.Index].Send(si.req, f.hint)
}

var errPeerAdminDown = errors.New("Peer Node is marked down")

// errNotNeeded completes a read's copy that was not sent because the answer
// was already decided; nobody reads its reply.
var errNotNeeded = errors.New("copy not sent: the answer was already decided")

// SubDone is called once per copy, on the goroutine that completed it.
func (f *fanout) SubDone(sub *msg.Request) {
	i := int(sub.Tag)
	f.mu.Lock()
	resend := -1
	si := &f.subs[i]
	if sub.Err == nil && !si.node.Local && peerWarming(sub) {
		sub.Err = errPeerWarming // fail over, or count it as failed (warming.go)
	}
	switch {
	case si.role == roleSwallow && sub.Err != nil && len(si.next) > 0:
		// remote datacenter: fail over to its next rack
		f.c.remoteFailovers.Add(1)
		topo := f.st.topo
		si.node = topo.Owner(si.dc, si.next[0], si.tok)
		si.next = si.next[1:]
		sub.Err = nil
		resend = i
	case si.role == roleSwallow && sub.Err != nil:
		f.c.remoteDropped.Add(1)
	case sub.Err != nil && si.role == roleCounted && f.strategy.OneAtATime() && len(f.failover) > 0:
		// DC_ONE read: the owner did not answer; ask the next replica
		f.c.readFailovers.Add(1)
		si.node = f.failover[0]
		f.failover = f.failover[1:]
		sub.Err = nil
		resend = i
	}
	if resend >= 0 {
		f.mu.Unlock()
		f.send(resend)
		return
	}
	if si.node.Local {
		f.c.applied(sub)
	}
	f.keepHint(si, sub)
	f.outstanding--
	rep := &f.set.Replicas[i]
	rep.Seq = len(f.subs) - f.outstanding // the order copies complete in, from 1
	if sub.Err != nil {
		rep.Outcome = consistency.Error
	} else {
		rep.Outcome, rep.Reply = consistency.OK, sub.Reply
	}
	var finish bool
	if !f.finished {
		finish = f.decide()
		f.finished = finish
	}
	last := f.outstanding == 0
	parent := f.parent // f may be recycled by another copy once unlocked
	f.mu.Unlock()
	if finish {
		parent.Done()
	}
	if last {
		if f.rop != repair.None {
			f.afterRepairable()
		}
		f.release()
	}
}

// decide is called with f.mu held after a copy completed; it asks the
// strategy and, when the answer is decided, sets the parent's reply and
// returns true.
func (f *fanout) decide() bool {
	if f.nkeys > 0 && len(f.set.Choice) != f.nkeys {
		// sized once per fan-out: the number of keys does not change
		if cap(f.set.Choice) < f.nkeys {
			f.set.Choice = make([]int, f.nkeys)
		}
		f.set.Choice = f.set.Choice[:f.nkeys]
	}
	d := f.strategy.Decide(&f.set, f)
	switch d.Verdict {
	case consistency.UseReply:
		f.parent.SetReply(f.replyFor(d.Replica))
	case consistency.UseKeys:
		f.setKeysReply()
	case consistency.UseError:
		f.failWith(d.Replica)
	case consistency.NoQuorum:
		f.quorumFailed(d.Replica)
	}
	return d.Decided()
}

func (f *fanout) quorumFailed(errSub int) {
	f.c.quorumFailures.Add(1)
	if errSub >= 0 {
		f.failWith(errSub)
		return
	}
	f.parent.KeepReply(f.c.codec.errorLine(f.parent.ReplyBuf(), "Dynomite: Failed to achieve Quorum ("+f.strategy.Level.String()+")"))
}

// failWith sets the parent's reply to an error naming the peer that failed
// and the level.
func (f *fanout) failWith(i int) {
	si := f.subs[i]
	p := f.parent
	text := peerErrorText(si.req.Err, si.node.Local)
	where := " (node " + si.node.Name + " " + si.node.DC + "/" + si.node.Rack + ", " + f.strategy.Level.String() + ")"
	p.KeepReply(f.c.codec.errorLine(p.ReplyBuf(), text+where))
}

func peerErrorText(err error, local bool) string {
	if local {
		switch {
		case errors.Is(err, msg.ErrDatastoreTimeout):
			return "Storage: Datastore timed out"
		case errors.Is(err, msg.ErrShutdown):
			return "Dynomite: node is shutting down"
		case errors.Is(err, errWarmingUp):
			return "Dynomite: " + errWarmingUp.Error()
		}
		return "Storage: Datastore refused connection"
	}
	switch {
	case errors.Is(err, msg.ErrDatastoreDown), errors.Is(err, errPeerAdminDown):
		return "Peer: Peer Node is not connected"
	case errors.Is(err, errPeerWarming):
		return "Peer: Peer Node is warming up"
	case errors.Is(err, msg.ErrDatastoreTimeout):
		return "Peer: Peer Node timed out"
	case errors.Is(err, msg.ErrShutdown):
		return "Dynomite: node is shutting down"
	}
	return "Peer: Peer Node refused connection"
}

// release recycles the copies and the fan-out once every copy completed.
func (f *fanout) release() {
	pool := f.c.reqs
	for i := range f.subs {
		pool.Put(f.subs[i].req)
		f.subs[i] = subInfo{}
	}
	pool.Put(f.parent)
	f.releaseScript()
	f.c.fanouts.Add(-1)
	clear(f.set.Replicas) // they point into the pooled copies' replies
	subs, reps, fo, spans, choice := f.subs[:0], f.set.Replicas[:0], f.failover[:0], f.spans[:0], f.set.Choice[:0]
	if cap(spans) > maxKeepSpans {
		spans, choice = nil, nil
	}
	*f = fanout{subs: subs, set: consistency.Set{Replicas: reps, Choice: choice}, failover: fo, spans: spans}
	fanoutPool.Put(f)
}
