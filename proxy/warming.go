package proxy

import (
	"bytes"
	"errors"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// A warming node (proxy/node's warm-up) accepts writes but must not answer
// reads from its datastore, which is still being filled: a key it has not
// received yet would read as missing. Its reads are routed as if its own
// datastore were down: the copy for the local node fails at once with
// errWarmingUp, so a DC_ONE read fails over to the other racks of the
// datacenter, then the other datacenters (the order of fanOut), and a
// quorum read counts the local copy as an error, the other racks making the
// quorum. Writes and the local node's copies of them are unchanged.
//
// Reads a peer coordinates get the same answer: a warming node answers a
// peer's read with warmingReply instead of asking its datastore
// (servePeerRequest), and the coordinator takes that reply for a failed
// copy (peerWarming): its DC_ONE read fails over to the next rack, and its
// quorum read counts the copy as an error, as when the peer is down. A
// coordinator older than this one passes the error to its client instead.

// errWarmingUp fails the local copy of a read while the node warms up.
var errWarmingUp = errors.New("node is warming up: its datastore does not serve reads yet")

// warmingReply is the error a warming node answers a peer's read with; the
// coordinator recognises it by warmingMark.
var (
	warmingReply = "Dynomite: " + errWarmingUp.Error()
	warmingMark  = []byte("Dynomite: node is warming up")
)

// errPeerWarming fails a read's copy that a warming peer refused.
var errPeerWarming = errors.New("peer is warming up")

// peerWarming reports whether sub, a copy a peer answered, is a read the
// peer refused because it is warming up.
func peerWarming(sub *msg.Request) bool {
	return isRead(sub) && replyIsError(sub.Reply) && bytes.Contains(sub.Reply[:min(len(sub.Reply), 48)], warmingMark)
}

// isRead reports whether a request only reads its datastore: what a
// warming node refuses from its peers, and the copies whose refusal the
// coordinator takes for a failure.
func isRead(r *msg.Request) bool {
	return r.Class == msg.ClassRead || r.Class == msg.ClassMultiKey && !r.Flags.Has(msg.FlagWrite)
}

// SetWarming switches the read routing of a warming node on or off.
func (s *Server) SetWarming(on bool) { s.warming.Store(on) }

// Warming reports whether the node routes its reads as a warming node.
func (s *Server) Warming() bool { return s.warming.Load() }

// routeWarming routes r, a client request that a warming node coordinates,
// when it is a read: it returns false for anything else, which takes the
// usual route. A multi-key read (MGET) is refused: its keys are split in
// multikey.go, whose fragments go through the usual fan-out.
func (c *cluster) routeWarming(r *msg.Request, hint uint, level consistency.Level) bool {
	st := c.state.Load()
	if st.single || State(c.nodeState.Load()) != StateNormal {
		return false
	}
	switch {
	case r.Class == msg.ClassMultiKey && !r.Flags.Has(msg.FlagWrite):
		c.fail(r, "Dynomite: "+errWarmingUp.Error()+" (multi-key reads are refused until then; read the keys one by one)")
		return true
	case r.Class != msg.ClassRead:
		return false
	}
	topo := st.topo
	tok, ok := topo.KeyToken(r.Key)
	if !ok {
		return false
	}
	if !c.verifyScript(st, r) {
		return false // the usual route answers it
	}
	localDC, localRack := topo.LocalDC(), topo.LocalRack()
	f := c.newFanout(st, r, hint, level, false)
	f.strategy.LocalRackOnly = r.Flags.Has(msg.FlagLocalRackOnly)
	f.rewriteForRepair(r, false, level)
	switch f.strategy.Targets() {
	case consistency.LocalRack:
		f.add(topo.Owner(localDC, localRack, tok), roleCounted, localDC, tok, nil)
		f.set.Primary = 0
		for dc := range topo.NumDCs() {
			racks := topo.RemoteRackOrder(dc)
			if dc == localDC {
				racks = racks[:0:0]
				for rk := range topo.NumRacks(dc) {
					if rk != localRack {
						racks = append(racks, rk)
					}
				}
			}
			for _, rk := range racks {
				f.failover = append(f.failover, topo.Owner(dc, rk, tok))
			}
		}
	default:
		f.nkeys = c.perKeyCount(r)
		for dc := range topo.NumDCs() {
			if dc != localDC && f.strategy.Targets() != consistency.EveryDC {
				continue
			}
			for rk := range topo.NumRacks(dc) {
				if dc == localDC && rk == localRack {
					f.set.Primary = len(f.subs)
				}
				f.add(topo.Owner(dc, rk, tok), roleCounted, dc, tok, nil)
			}
		}
	}
	f.outstanding = len(f.subs)
	for i := range f.subs {
		if f.subs[i].node.Local {
			f.subs[i].req.Fail(errWarmingUp)
			continue
		}
		f.sendIfNeeded(i)
	}
	return true
}
