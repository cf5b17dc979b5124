package proxy

import (
	"bytes"
	"errors"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/msg"
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
)

type subInfo struct {
	req  *msg.Request
	node *ring.Node
	role uint8
	dc   int // datacenter index (DC_EACH_SAFE_QUORUM groups by it)
	// remote forwards: the racks still to try in that datacenter
	next []int
	tok  ring.Token
	// done is set under fanout.mu once the copy completed for good; only
	// then may its Reply and Err be read by others.
	done bool
	// split: its reply is split into one element per key (f.spans)
	split bool
}

// fanout is one client request sent to several replicas, and the decision
// of what the client gets (dskit DoUntilQuorum, upstream's response_mgr).
type fanout struct {
	c      *cluster
	st     *clusterState
	parent *msg.Request
	level  Level
	write  bool
	hint   uint

	mu          sync.Mutex
	subs        []subInfo
	outstanding int
	finished    bool
	single      bool // one replica asked at a time (DC_ONE reads): fail over on error
	primary     int  // the local rack owner's sub, -1 if none
	firstOther  int  // DC_ONE write: first good reply from another rack
	// DC_ONE read failover candidates, in order
	failover []*ring.Node

	// multi-key reads decided key by key (keyquorum.go): the number of
	// keys (0: compare whole replies), each copy's elements (nkeys spans
	// per copy, by copy index) and the copy whose element each key gets
	nkeys  int
	spans  []span
	choice []int
}

var fanoutPool = sync.Pool{New: func() any { return new(fanout) }}

// route sends r to the replicas its class and consistency level call for.
// It is the entry point for every request once the ring has more than one
// node.
func (c *cluster) route(r *msg.Request, hint uint, rl, wl Level) {
	st := c.state.Load()
	s := c.s
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
	if s.opts.AdminMode == 1 && (r.Class == msg.ClassMultiKey || r.Flags.Has(msg.FlagDelete)) {
		c.adminDelete(st, r, hint)
		return
	}
	switch r.Class {
	case msg.ClassLocal:
		s.backend.Send(r, hint)
		return
	case msg.ClassAllNodes:
		c.allNodes(st, r, hint)
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
	if !s.verifyScript(st, r) {
		c.fail(r, "Dynomite: Keys in the script cannot span multiple nodes")
		return
	}
	tok, hasKey := st.topo.KeyToken(r.Key)
	if !hasKey {
		s.backend.Send(r, hint)
		return
	}
	c.fanOut(st, r, hint, tok, write, level)
}

// fail completes r with an error line of the client's protocol.
func (c *cluster) fail(r *msg.Request, text string) {
	r.KeepReply(c.s.codec.errorLine(r.ReplyBuf(), text))
	r.Done()
}

func (c *cluster) fanOut(st *clusterState, r *msg.Request, hint uint, tok ring.Token, write bool, level Level) {
	topo := st.topo
	localDC, localRack := topo.LocalDC(), topo.LocalRack()
	f := c.newFanout(st, r, hint, level, write)

	localRackOnly := !write && r.Flags.Has(msg.FlagLocalRackOnly)
	switch {
	case !write && (level == DCOne || localRackOnly):
		owner := topo.Owner(localDC, localRack, tok)
		f.add(owner, roleCounted, localDC, tok, nil)
		f.primary, f.single = 0, true
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
	case level == DCEachSafeQuorum:
		if !write {
			f.nkeys = c.s.perKeyCount(r)
		}
		for dc := 0; dc < topo.NumDCs(); dc++ {
			for rk := 0; rk < topo.NumRacks(dc); rk++ {
				f.add(topo.Owner(dc, rk, tok), roleCounted, dc, tok, nil)
			}
		}
	default:
		if !write {
			f.nkeys = c.s.perKeyCount(r)
		}
		for rk := 0; rk < topo.NumRacks(localDC); rk++ {
			if rk == localRack {
				f.primary = len(f.subs)
			}
			f.add(topo.Owner(localDC, rk, tok), roleCounted, localDC, tok, nil)
		}
		if write {
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
	f.start()
}

// newFanout takes a fan-out from the pool for parent r. r is held until
// the last copy completes, because the copies share r.Raw.
func (c *cluster) newFanout(st *clusterState, r *msg.Request, hint uint, level Level, write bool) *fanout {
	f := fanoutPool.Get().(*fanout)
	f.c, f.st, f.parent, f.level, f.write, f.hint = c, st, r, level, write, hint
	f.primary, f.firstOther = -1, -1
	r.Hold()
	c.s.fanouts.Add(1)
	return f
}

// localFirst makes f a one-at-a-time fan-out whose first copy (the local node)
// answers; the other copies, added after, are replicated and swallowed.
func (f *fanout) localFirst() {
	topo := f.st.topo
	f.primary, f.single = 0, true
	f.add(topo.Local(), roleCounted, topo.LocalDC(), 0, nil)
}

// start sends every copy; outstanding is set first because a copy may
// complete (fail) synchronously inside send.
func (f *fanout) start() {
	f.outstanding = len(f.subs)
	for i := range f.subs {
		f.send(i)
	}
}

func (f *fanout) add(n *ring.Node, role uint8, dc int, tok ring.Token, next []int) {
	sub := f.c.s.reqs.Get()
	sub.AdoptRaw(f.parent.Raw)
	sub.Cmd, sub.Class, sub.Flags, sub.Retrieval, sub.Key = f.parent.Cmd, f.parent.Class, f.parent.Flags, f.parent.Retrieval, f.parent.Key
	sub.Notify = f
	sub.Tag = int32(len(f.subs))
	sub.PeerType = peerReq
	if role == roleSwallow && f.level != DCEachSafeQuorum {
		sub.PeerType = peerForward
	}
	f.subs = append(f.subs, subInfo{req: sub, node: n, role: role, dc: dc, next: next, tok: tok})
}

// send hands sub i to its node: the local datastore or a peer pool.
func (f *fanout) send(i int) {
	si := f.subs[i]
	if si.node.Local {
		f.c.s.backend.Send(si.req, f.hint)
		return
	}
	if f.st.down[si.node.Index].Load() {
		si.req.Fail(errPeerAdminDown)
		return
	}
	f.st.pools[si.node.Index].Send(si.req, f.hint)
}

var errPeerAdminDown = errors.New("Peer Node is marked down")

// SubDone is called once per copy, on the goroutine that completed it.
func (f *fanout) SubDone(sub *msg.Request) {
	i := int(sub.Tag)
	f.mu.Lock()
	resend := -1
	si := &f.subs[i]
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
	case sub.Err != nil && f.single && len(f.failover) > 0:
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
	f.outstanding--
	si.done = true
	var finish bool
	if !f.finished {
		finish = f.decide(i)
		if finish {
			f.finished = true
		}
	}
	last := f.outstanding == 0
	parent := f.parent // f may be recycled by another copy once unlocked
	f.mu.Unlock()
	if finish {
		parent.Done()
	}
	if last {
		f.release()
	}
}

// decide is called with f.mu held after sub i completed; when it returns
// true the parent's reply is set.
func (f *fanout) decide(i int) bool {
	p := f.parent
	switch {
	case f.single:
		sub := f.subs[i].req
		if sub.Err != nil {
			f.failWith(i)
		} else {
			p.SetReply(sub.Reply)
		}
		return true
	case f.level == DCOne: // write
		if f.subs[i].role != roleCounted {
			return f.allCountedDone() && f.dcOneWriteFallback()
		}
		sub := f.subs[i].req
		if i == f.primary {
			if sub.Err == nil {
				p.SetReply(sub.Reply)
				return true
			}
			if f.firstOther >= 0 {
				p.SetReply(f.subs[f.firstOther].req.Reply)
				return true
			}
		} else if sub.Err == nil && f.firstOther < 0 {
			f.firstOther = i
			if f.doneCounted(f.primary) && f.subs[f.primary].req.Err != nil {
				p.SetReply(sub.Reply)
				return true
			}
		}
		if f.allCountedDone() {
			return f.dcOneWriteFallback()
		}
		return false
	case f.level == DCEachSafeQuorum:
		if !f.allCountedDone() {
			// decide early only on success in every DC; errors wait for all
			return false
		}
		// the client gets the local datacenter's reply; the local one is
		// decided last, so that f.choice is still its own when it is set
		topo := f.st.topo
		for dc := 0; dc < topo.NumDCs(); dc++ {
			if dc == topo.LocalDC() {
				continue
			}
			if _, _, ok, errSub := f.quorumOf(dc, true); !ok {
				f.quorumFailed(errSub)
				return true
			}
		}
		reply, perKey, ok, errSub := f.quorumOf(topo.LocalDC(), true)
		if !ok {
			f.quorumFailed(errSub)
			return true
		}
		f.setQuorumReply(reply, perKey)
		return true
	default: // DC_QUORUM, DC_SAFE_QUORUM
		if f.subs[i].role != roleCounted {
			return false
		}
		dc := f.st.topo.LocalDC()
		q := f.quorum(dc)
		if reply, n := f.agreement(dc); n >= q {
			p.SetReply(reply)
			return true
		}
		if f.nkeys > 0 && f.answered(dc) >= q {
			// a multi-key read: done early once every key has its quorum
			if all, _ := f.keyVotes(dc, q, true); all {
				f.setKeysReply()
				return true
			}
		}
		if !f.allCountedDone() {
			return false
		}
		reply, perKey, ok, errSub := f.quorumOf(dc, f.level == DCSafeQuorum)
		if !ok {
			f.quorumFailed(errSub)
			return true
		}
		f.setQuorumReply(reply, perKey)
		return true
	}
}

// setQuorumReply sets the parent's reply to what quorumOf decided.
func (f *fanout) setQuorumReply(reply []byte, perKey bool) {
	if perKey {
		f.setKeysReply()
		return
	}
	f.parent.SetReply(reply)
}

func (f *fanout) doneCounted(i int) bool { return f.subs[i].done }

func (f *fanout) allCountedDone() bool {
	for i := range f.subs {
		if f.subs[i].role == roleCounted && !f.doneCounted(i) {
			return false
		}
	}
	return true
}

// dcOneWriteFallback: every local rack answered and the local-rack owner
// failed: the first rack that stored it wins, else the owner's error.
func (f *fanout) dcOneWriteFallback() bool {
	if f.firstOther >= 0 {
		f.parent.SetReply(f.subs[f.firstOther].req.Reply)
		return true
	}
	f.failWith(f.primary)
	return true
}

func (f *fanout) quorum(dc int) int {
	n := 0
	for i := range f.subs {
		if f.subs[i].role == roleCounted && f.subs[i].dc == dc {
			n++
		}
	}
	return n/2 + 1
}

// agreement returns the reply most counted replicas of dc agree on so far
// and how many agree. Replies are compared byte for byte (upstream compares
// a CRC32 of the same bytes).
func (f *fanout) agreement(dc int) ([]byte, int) {
	var best []byte
	bestN := 0
	for i := range f.subs {
		a := f.subs[i].req
		if f.subs[i].role != roleCounted || f.subs[i].dc != dc || !f.subs[i].done || a.Err != nil {
			continue
		}
		n := 0
		for j := range f.subs {
			b := f.subs[j].req
			if f.subs[j].role == roleCounted && f.subs[j].dc == dc && f.subs[j].done && b.Err == nil && bytes.Equal(a.Reply, b.Reply) {
				n++
			}
		}
		if n > bestN {
			best, bestN = a.Reply, n
		}
	}
	return best, bestN
}

// quorumOf decides a datacenter once all its counted replies are in.
// Without agreement DC_QUORUM returns the first good reply (as upstream);
// safe levels fail. Fewer good replies than the quorum fail at every level.
// A multi-key read whose replies split into one element per key is decided
// key by key the same way (perKey: f.choice holds the result, reply is nil;
// see keyquorum.go).
func (f *fanout) quorumOf(dc int, safe bool) (reply []byte, perKey, ok bool, errSub int) {
	q := f.quorum(dc)
	good, firstGood, firstErr := 0, -1, -1
	for i := range f.subs {
		si := f.subs[i]
		if si.role != roleCounted || si.dc != dc {
			continue
		}
		if si.req.Err != nil {
			if firstErr < 0 {
				firstErr = i
			}
			continue
		}
		good++
		if firstGood < 0 {
			firstGood = i
		}
	}
	if best, n := f.agreement(dc); n >= q {
		return best, false, true, -1
	}
	if good < q {
		return nil, false, false, firstErr
	}
	if f.nkeys > 0 {
		if all, splittable := f.keyVotes(dc, q, false); splittable {
			if all {
				return nil, true, true, -1
			}
			if safe {
				return nil, false, false, -1
			}
			for k, c := range f.choice {
				if c < 0 {
					f.choice[k] = firstGood
				}
			}
			return nil, true, true, -1
		}
	}
	if safe {
		return nil, false, false, -1
	}
	return f.subs[firstGood].req.Reply, false, true, -1
}

func (f *fanout) quorumFailed(errSub int) {
	f.c.quorumFailures.Add(1)
	if errSub >= 0 {
		f.failWith(errSub)
		return
	}
	f.parent.KeepReply(f.c.s.codec.errorLine(f.parent.ReplyBuf(), "Dynomite: Failed to achieve Quorum ("+f.level.String()+")"))
}

// failWith sets the parent's reply to an error naming the peer that failed
// and the level.
func (f *fanout) failWith(i int) {
	si := f.subs[i]
	p := f.parent
	text := peerErrorText(si.req.Err, si.node.Local)
	where := " (node " + si.node.Name + " " + si.node.DC + "/" + si.node.Rack + ", " + f.level.String() + ")"
	p.KeepReply(f.c.s.codec.errorLine(p.ReplyBuf(), text+where))
}

func peerErrorText(err error, local bool) string {
	if local {
		switch {
		case errors.Is(err, msg.ErrDatastoreTimeout):
			return "Storage: Datastore timed out"
		case errors.Is(err, msg.ErrShutdown):
			return "Dynomite: node is shutting down"
		}
		return "Storage: Datastore refused connection"
	}
	switch {
	case errors.Is(err, msg.ErrDatastoreDown), errors.Is(err, errPeerAdminDown):
		return "Peer: Peer Node is not connected"
	case errors.Is(err, msg.ErrDatastoreTimeout):
		return "Peer: Peer Node timed out"
	case errors.Is(err, msg.ErrShutdown):
		return "Dynomite: node is shutting down"
	}
	return "Peer: Peer Node refused connection"
}

// release recycles the copies and the fan-out once every copy completed.
func (f *fanout) release() {
	pool := &f.c.s.reqs
	for i := range f.subs {
		pool.Put(f.subs[i].req)
		f.subs[i] = subInfo{}
	}
	pool.Put(f.parent)
	f.c.s.fanouts.Add(-1)
	subs, fo, spans, choice := f.subs[:0], f.failover[:0], f.spans[:0], f.choice[:0]
	if cap(spans) > maxKeepSpans {
		spans, choice = nil, nil
	}
	*f = fanout{subs: subs, failover: fo, spans: spans, choice: choice}
	fanoutPool.Put(f)
}
