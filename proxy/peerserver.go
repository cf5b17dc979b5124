package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/dynomite-go/dynomite/proxy/dnode"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/tlsconf"
)

// The peer listener (dyn_listen) serves requests other nodes send with the
// dnode framing (reference §4): type 3 from the datastore, type 4 by fanning
// out to this node's datacenter (this node is the remote coordinator). The
// replies go back in request order, framed as type 5 with the request's id.
// A frame that cannot be parsed closes that peer connection, with a log line
// naming the peer; the node and its other connections carry on.

func (s *Server) listenPeers() error {
	if s.opts.DynListen == "" || s.cluster == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.DynListen)
	if err != nil {
		return fmt.Errorf("dyn_listen: %q: %w", s.opts.DynListen, err)
	}
	s.peerLn = ln
	return nil
}

// PeerAddr is the peer listener's address (after Listen), or nil.
func (s *Server) PeerAddr() net.Addr {
	if s.peerLn == nil {
		return nil
	}
	return s.peerLn.Addr()
}

func (s *Server) acceptPeers() {
	for {
		nc, err := s.peerLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("peer accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.track(nc, func(id uint) {
			if nc = s.securePeerConn(nc); nc != nil {
				s.servePeer(nc, id)
			}
		})
	}
}

// securePeerConn accepts TLS and plain links on one dyn_listen: TLS when
// the dialer's secure_server_option says the link is secured, plain
// otherwise; with secure_server_option: all, plain links are refused.
func (s *Server) securePeerConn(nc net.Conn) net.Conn {
	if s.opts.PeerTLSServer == nil || s.opts.SecureOption == "" || s.opts.SecureOption == tlsconf.OptionNone {
		return nc
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	pc, isTLS, err := tlsconf.Peek(nc)
	if err != nil {
		nc.Close()
		return nil
	}
	if !isTLS {
		if s.opts.SecureOption == tlsconf.OptionAll {
			s.log.Warn("refusing a plain peer link: secure_server_option is all", "peer", nc.RemoteAddr().String())
			nc.Close()
			return nil
		}
		_ = nc.SetReadDeadline(time.Time{})
		return pc
	}
	tc := tls.Server(pc, s.opts.PeerTLSServer)
	if err := tc.Handshake(); err != nil {
		s.log.Warn("peer TLS handshake failed", "peer", nc.RemoteAddr().String(), "err", err)
		tc.Close()
		return nil
	}
	_ = nc.SetReadDeadline(time.Time{})
	return tc
}

func (s *Server) servePeer(nc net.Conn, id uint) {
	inflight := make(chan *msg.Request, inflightLen)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.peerWriteLoop(nc, inflight)
	}()
	s.peerReadLoop(nc, id, inflight)
	wg.Wait()
}

func (s *Server) peerReadLoop(nc net.Conn, id uint, inflight chan<- *msg.Request) {
	defer close(inflight)
	peer := nc.RemoteAddr().String()
	fr := msg.NewFrameReader(nc, sessionReadBuf, s.opts.MaxRequestBytes)
	lim := dnode.DefaultLimits()
	var (
		h       dnode.Header
		haveHdr bool
		r       *msg.Request
		need    int
	)
	defer func() {
		if r != nil {
			s.reqs.Put(r)
		}
	}()
	for {
		if fr.Buffered() > 0 {
			if !haveHdr {
				n, err := dnode.ParseHeader(fr.Bytes(), &h, &lim)
				if errors.Is(err, dnode.ErrIncomplete) {
					need = 0
					goto fill
				}
				if err != nil {
					s.log.Warn("closing peer connection: unparseable frame", "peer", peer, "err", err)
					return
				}
				fr.Discard(n)
				if h.Encrypted() {
					// upstream's RSA+AES payloads: we secure links with TLS
					// instead, and never read ciphertext as a command
					s.log.Warn("closing peer connection: upstream-encrypted frame (use TLS: secure_server_option with pem_key_file or peer_tls_*)", "peer", peer)
					return
				}
				switch h.Type {
				case dnode.TypeReq, dnode.TypeReqForward:
					haveHdr = true
				case dnode.TypeGossipSyn:
					continue // gossip frames carry no payload to answer
				default:
					s.log.Warn("closing peer connection: unexpected frame type", "peer", peer, "type", h.Type.String())
					return
				}
			}
			if r == nil {
				r = s.reqs.Get()
			}
			act, n, err := s.codec.read(fr, r)
			if err != nil {
				if !isClosed(err) {
					s.log.Warn("closing peer connection", "peer", peer, "err", err)
				}
				return
			}
			if act == actMore {
				need = n
				goto fill
			}
			haveHdr, need = false, 0
			if act == actSkip {
				continue
			}
			r.PeerID = h.ID
			// A client command (QUIT) never closes a peer link; a payload
			// that does not parse does, after its error reply: the codec
			// dropped the buffered input, so the stream is out of step.
			malformed := act == actAnswered && r.CloseAfter && r.Class != msg.ClassProxy
			r.CloseAfter = false
			if act == actAnswered {
				r.Done()
			} else {
				s.servePeerRequest(r, id, h.Type)
			}
			inflight <- r
			r = nil
			if malformed {
				s.log.Warn("closing peer connection: unparseable payload", "peer", peer)
				return
			}
			continue
		}
	fill:
		if fr.Buffered() == 0 {
			fr.Shrink(sessionReadBuf)
		}
		if s.stopping.Load() {
			// the node is stopping: finish the frame under way, read no other
			if !haveHdr && fr.Buffered() == 0 {
				return
			}
			_ = nc.SetReadDeadline(time.Unix(0, s.drainUntil.Load()))
		}
		if err := fr.Fill(need); err != nil {
			if s.drainRead(nc, haveHdr || fr.Buffered() > 0, err) {
				continue
			}
			if !isClosed(err) {
				s.log.Warn("closing peer connection", "peer", peer, "err", err)
			}
			return
		}
	}
}

// servePeerRequest: type 3 goes to the datastore; type 4 fans out to every
// rack of this datacenter, answering with this node's own reply (upstream's
// remote coordinator, DC_ONE).
func (s *Server) servePeerRequest(r *msg.Request, hint uint, typ dnode.Type) {
	if typ == dnode.TypeReqForward && s.cluster != nil {
		if st := s.cluster.state.Load(); !st.single && r.Key != nil {
			if _, ok := st.topo.KeyToken(r.Key); ok {
				s.cluster.forwardLocalDC(st, r, hint)
				return
			}
		}
	}
	s.backend.Send(r, hint)
}

// forwardLocalDC: this node is the coordinator in its datacenter for a write
// from another datacenter.
func (c *cluster) forwardLocalDC(st *clusterState, r *msg.Request, hint uint) {
	topo := st.topo
	f := c.newFanout(st, r, hint, DCOne, false)
	f.localFirst()
	t, _ := topo.KeyToken(r.Key)
	for rk := 0; rk < topo.NumRacks(topo.LocalDC()); rk++ {
		if rk == topo.LocalRack() {
			continue
		}
		f.add(topo.Owner(topo.LocalDC(), rk, t), roleSwallow, topo.LocalDC(), t, nil)
		f.subs[len(f.subs)-1].req.PeerType = peerReq
	}
	f.start()
}

func (s *Server) peerWriteLoop(nc net.Conn, inflight <-chan *msg.Request) {
	bw := bufio.NewWriterSize(nc, sessionWriteBuf)
	var hdr []byte
	broken := false
	for r := range inflight {
		r.Wait()
		if !broken && !r.NoReply {
			hdr = dnode.AppendHeader(hdr[:0], dnode.Header{ID: r.PeerID, Type: dnode.TypeRes, Version: 1, SameDC: true})
			reply := r.Reply
			if r.Err != nil {
				reply = s.codec.errorReply(r.Err)
			}
			if _, err := bw.Write(hdr); err != nil {
				broken = true
			} else if _, err := bw.Write(reply); err != nil {
				broken = true
			}
		}
		s.reqs.Put(r)
		if !broken && len(inflight) == 0 {
			if err := bw.Flush(); err != nil {
				broken = true
			}
		}
		if broken {
			_ = nc.SetReadDeadline(time.Unix(1, 0))
		}
	}
	if s.stopping.Load() && !broken {
		s.lingerClose(nc) // the peer reads every reply, then EOF
		return
	}
	nc.Close()
}
