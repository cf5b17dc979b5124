package proxy

import (
	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// The peer listener (dyn_listen) is a dnode.Server: it owns the
// connections, the framing and the drain. This file is what it asks of the
// node: the datastore protocol and where each peer request goes
// (dnode.TypeReq to the datastore, dnode.TypeReqForward fanned out to this
// node's datacenter, as the remote coordinator).

// newPeerServer builds the peer listener, or returns nil when the node has
// no dyn_listen.
func (s *Server) newPeerServer() *dnode.Server {
	if s.opts.DynListen == "" || s.cluster == nil {
		return nil
	}
	return dnode.NewServer(dnode.ServerConfig{
		TLS: s.opts.PeerTLSServer, SecureOption: s.opts.SecureOption,
		Requests: &s.reqs, MaxRequestBytes: s.opts.MaxRequestBytes, MaxInflight: inflightLen,
		Logger: s.log, Conns: &s.conns,
	}, peerHandler{s})
}

// peerHandler is the node as the peer listener's dnode.Handler.
type peerHandler struct{ s *Server }

// ReadRequest reads a frame's payload with the client codec. A client
// command (QUIT) never closes a peer link; a payload that does not parse
// does, after its error reply: the codec dropped the buffered input, so the
// stream is out of step.
func (h peerHandler) ReadRequest(fr *msg.FrameReader, r *msg.Request) (dnode.Payload, int, error) {
	read := h.s.codec.read
	if rc, ok := h.s.codec.(*redisCodec); ok {
		read = rc.readPeer // a transaction comes as one unit
	}
	act, n, err := read(fr, r)
	switch {
	case err != nil:
		return dnode.PayloadMore, n, err
	case act == actMore:
		return dnode.PayloadMore, n, nil
	case act == actSkip:
		return dnode.PayloadSkip, 0, nil
	}
	malformed := act == actAnswered && r.CloseAfter && r.Class != msg.ClassProxy
	r.CloseAfter = false
	switch {
	case malformed:
		return dnode.PayloadMalformed, 0, nil
	case act == actAnswered:
		return dnode.PayloadAnswered, 0, nil
	}
	return dnode.PayloadRequest, 0, nil
}

// Serve routes a peer request (servePeerRequest).
func (h peerHandler) Serve(r *msg.Request, typ msg.PeerType, conn uint) {
	h.s.servePeerRequest(r, conn, typ)
}

// Completed records a stamped write the datastore applied (lww.go); the
// Server calls it once r's reply is known (dnode.Completer).
func (h peerHandler) Completed(r *msg.Request) { h.s.cluster.applied(r) }

// ErrorReply renders a failure in the datastore protocol.
func (h peerHandler) ErrorReply(err error) []byte { return h.s.codec.errorReply(err) }

// servePeerRequest: type 3 goes to the datastore; type 4 fans out to every
// rack of this datacenter, answering with this node's own reply (upstream's
// remote coordinator, DC_ONE).
func (s *Server) servePeerRequest(r *msg.Request, hint uint, typ msg.PeerType) {
	if typ == msg.PeerPubSub || s.pubsub != nil && isPubSub(r) {
		s.servePubSubPeer(r, typ)
		return
	}
	if s.warming.Load() && typ == msg.PeerServe && isRead(r) {
		s.cluster.fail(r, warmingReply) // the coordinator asks another rack (warming.go)
		return
	}
	s.cluster.observe(r)
	if r.CrossDC {
		// this node coordinates the copy in its datacenter: decided here,
		// for its own datastore and the copies it makes (lww.go)
		r.Replay = r.Replay || s.cluster.lateCopy(r)
		r.CrossDC = false
	}
	if typ == msg.PeerForward && s.cluster != nil {
		if st := s.cluster.state.Load(); !st.single && r.Key != nil {
			if _, ok := st.topo.KeyToken(r.Key); ok {
				s.cluster.forwardLocalDC(st, r, hint)
				return
			}
		}
	}
	s.cluster.toDatastore(r, hint)
}

// forwardLocalDC: this node is the coordinator in its datacenter for a write
// from another datacenter.
func (c *cluster) forwardLocalDC(st *clusterState, r *msg.Request, hint uint) {
	topo := st.topo
	if r.Class == msg.ClassWrite || r.Flags.Has(msg.FlagWrite) {
		c.stamp(r) // an upstream coordinator's copy comes unstamped
	}
	f := c.newFanout(st, r, hint, consistency.DCOne, false)
	f.localFirst()
	t, _ := topo.KeyToken(r.Key)
	localDC := topo.LocalDC()
	moving := topo.Moving() && (r.Class == msg.ClassWrite || r.Flags.Has(msg.FlagWrite))
	for rk := 0; rk < topo.NumRacks(localDC); rk++ {
		owner := topo.Owner(localDC, rk, t)
		if rk != topo.LocalRack() {
			f.add(owner, roleSwallow, localDC, t, nil)
			sub := f.subs[len(f.subs)-1].req
			sub.PeerType, sub.CrossDC = peerReq, false // within this datacenter
		} else if moving && !owner.Local {
			// the sender's ring picked this node for its rack; while a
			// move changes phases the rings of the two datacenters may
			// disagree on the side, so the owner this ring reads from
			// gets its copy too
			f.add(owner, roleExtra, localDC, t, nil)
		}
		if !moving {
			continue
		}
		if e := topo.ExtraOwner(localDC, rk, t); e != nil && !e.Local {
			f.add(e, roleExtra, localDC, t, nil)
		}
	}
	f.start()
}
