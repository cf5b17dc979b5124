package dnode

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/drain"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/tlsconf"
)

// Payload is what [Handler.ReadRequest] found at the head of a peer
// connection's input, after a request frame's header.
type Payload uint8

const (
	// PayloadMore: the payload is not all there yet; the n returned with it
	// is its total size when known, else 0.
	PayloadMore Payload = iota
	// PayloadRequest: r holds a request for [Handler.Serve].
	PayloadRequest
	// PayloadAnswered: r already holds its reply (a command the node
	// answers itself).
	PayloadAnswered
	// PayloadMalformed: r holds an error reply to a payload that did not
	// parse. The input after it cannot be trusted: the Server writes the
	// reply, then closes the connection.
	PayloadMalformed
	// PayloadSkip: input consumed, with nothing to answer.
	PayloadSkip
)

// Handler is what a [Server] asks of the node: the datastore protocol and
// the routing of peer requests. The Server calls it from one goroutine per
// connection, for every connection at once.
type Handler interface {
	// ReadRequest parses the datastore request at the head of fr into r,
	// consuming its bytes unless it returns PayloadMore.
	ReadRequest(fr *msg.FrameReader, r *msg.Request) (p Payload, n int, err error)
	// Serve starts serving r, which a peer asked to be served as typ
	// (TypeReq or TypeReqForward arrived as msg.PeerServe or
	// msg.PeerForward). conn numbers the connection it came on (a hint for
	// spreading work over datastore connections). Serve must complete r
	// exactly once, before it returns or later on any goroutine; it must
	// not block on the reply.
	Serve(r *msg.Request, typ msg.PeerType, conn uint)
	// ErrorReply renders a failed request's error as its reply payload.
	ErrorReply(err error) []byte
}

// Completer is optionally implemented by a [Handler]: the Server calls
// Completed with each served request once its reply is known, before
// writing it (the node records which writes its datastore applied).
type Completer interface {
	Completed(r *msg.Request)
}

// ServerConfig configures a [Server].
type ServerConfig struct {
	// TLS secures the links SecureOption selects (secure_server_option);
	// nil, or SecureOption "" or "none", serves every link in the clear.
	TLS          *tls.Config
	SecureOption string
	// Requests recycles requests: the Server takes one per frame and puts
	// it back once its reply is written (nil: a pool of its own).
	Requests *msg.Pool
	// MaxRequestBytes caps one frame's payload, the datastore request
	// (default 512 MiB + 64 KiB, the node's max_request_bytes default).
	MaxRequestBytes int
	// MaxInflight bounds the requests a connection may have in flight;
	// beyond it the Server stops reading from that peer (back-pressure;
	// default 128).
	MaxInflight int
	// Logger gets a line for every connection closed for cause.
	Logger *slog.Logger
	// Conns is the group the Server's connections join: the node drains
	// them with its client connections (drain.Group.Drain), and they stop
	// at a frame boundary. Nil: a group of the Server's own.
	Conns *drain.Group
}

// Buffer sizes of a peer connection; a request larger than the read
// buffer grows it up to MaxRequestBytes, and it shrinks back when empty.
const (
	readBuf  = 4 << 10
	writeBuf = 4 << 10
)

// handshakeTimeout bounds the TLS sniff and handshake of a new link.
const handshakeTimeout = 10 * time.Second

// Server is the peer listener (dyn_listen, upstream's dyn_dnode_server.c):
// it accepts the connections other nodes open to send this node their
// requests, frames each request (TypeReq, TypeReqForward), hands it to the
// [Handler] and writes the replies back in request order as TypeRes frames
// carrying the request's id. Gossip frames (TypeGossipSyn) are read and
// dropped. A frame that does not parse, an upstream-encrypted frame or an
// unexpected type closes that one connection, with a log line naming the
// peer; the others carry on.
//
// Each connection has a reader and a writer goroutine joined by a bounded,
// ordered queue, like the node's client sessions.
type Server struct {
	cfg    ServerConfig
	h      Handler
	log    *slog.Logger
	ln     net.Listener
	conns  *drain.Group
	nextID atomic.Uint64
}

// NewServer returns a Server that hands requests to h. Nothing is opened
// until Listen.
func NewServer(cfg ServerConfig, h Handler) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Requests == nil {
		cfg.Requests = new(msg.Pool)
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 128
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 512<<20 + 64<<10
	}
	if cfg.Conns == nil {
		cfg.Conns = new(drain.Group)
	}
	return &Server{cfg: cfg, h: h, log: cfg.Logger, conns: cfg.Conns}
}

// Listen opens the listener on addr (dyn_listen).
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dyn_listen: %q: %w", addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the listener's address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Close, then returns. Every connection
// is served on its own goroutines, in the drain.Group ServerConfig.Conns.
func (s *Server) Serve() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("peer accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		id := uint(s.nextID.Add(1))
		s.conns.Go(nc, func() {
			if sc := s.secure(nc); sc != nil {
				s.serveConn(sc, id)
			}
		})
	}
}

// Close closes the listener: Serve returns, the connections carry on.
func (s *Server) Close() error { return s.ln.Close() }

// secure accepts TLS and plain links on one listener: TLS when the
// dialer's secure_server_option says the link is secured, plain otherwise;
// with secure_server_option: all, plain links are refused. It returns nil,
// having closed nc, for a link it refuses.
func (s *Server) secure(nc net.Conn) net.Conn {
	if s.cfg.TLS == nil || s.cfg.SecureOption == "" || s.cfg.SecureOption == tlsconf.OptionNone {
		return nc
	}
	_ = nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	pc, isTLS, err := tlsconf.Peek(nc)
	if err != nil {
		nc.Close()
		return nil
	}
	if !isTLS {
		if s.cfg.SecureOption == tlsconf.OptionAll {
			s.log.Warn("refusing a plain peer link: secure_server_option is all", "peer", nc.RemoteAddr().String())
			nc.Close()
			return nil
		}
		_ = nc.SetReadDeadline(time.Time{})
		return pc
	}
	tc := tls.Server(pc, s.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		s.log.Warn("peer TLS handshake failed", "peer", nc.RemoteAddr().String(), "err", err)
		tc.Close()
		return nil
	}
	_ = nc.SetReadDeadline(time.Time{})
	return tc
}

// serveConn serves one peer connection, already secured, until the peer
// closes it, it breaks or the Server drains; it closes nc. id numbers the
// connection for Handler.Serve.
func (s *Server) serveConn(nc net.Conn, id uint) {
	inflight := make(chan *msg.Request, s.cfg.MaxInflight)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.writeLoop(nc, inflight)
	}()
	s.readLoop(nc, id, inflight)
	wg.Wait()
}

func (s *Server) readLoop(nc net.Conn, id uint, inflight chan<- *msg.Request) {
	defer close(inflight)
	peer := nc.RemoteAddr().String()
	fr := msg.NewFrameReader(nc, readBuf, s.cfg.MaxRequestBytes)
	lim := DefaultLimits()
	var (
		h       Header
		typ     msg.PeerType
		haveHdr bool
		r       *msg.Request
		need    int
	)
	defer func() {
		if r != nil {
			s.cfg.Requests.Put(r)
		}
	}()
	for {
		if fr.Buffered() > 0 {
			if !haveHdr {
				n, err := ParseHeader(fr.Bytes(), &h, &lim)
				if errors.Is(err, ErrIncomplete) {
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
				if h.Type == TypeGossipSyn {
					continue // gossip frames carry no payload to answer
				}
				var ok bool
				if typ, ok = peerType(h.Type); !ok {
					s.log.Warn("closing peer connection: unexpected frame type", "peer", peer, "type", h.Type.String())
					return
				}
				haveHdr = true
			}
			if r == nil {
				r = s.cfg.Requests.Get()
			}
			p, n, err := s.h.ReadRequest(fr, r)
			if err != nil {
				if !drain.Ended(err) {
					s.log.Warn("closing peer connection", "peer", peer, "err", err)
				}
				return
			}
			if p == PayloadMore {
				need = n
				goto fill
			}
			haveHdr, need = false, 0
			if p == PayloadSkip {
				continue
			}
			r.PeerID = h.ID
			r.Stamp, r.StampNode, r.Replay, r.CrossDC = h.Stamp.TS, h.Stamp.Node, h.Stamp.Replay, h.Stamp.CrossDC
			if p == PayloadRequest {
				s.h.Serve(r, typ, id)
			} else {
				r.Done()
			}
			inflight <- r
			r = nil
			if p == PayloadMalformed {
				s.log.Warn("closing peer connection: unparseable payload", "peer", peer)
				return
			}
			continue
		}
	fill:
		if fr.Buffered() == 0 {
			fr.Shrink(readBuf)
		}
		if s.conns.Draining() {
			// finish the frame under way, read no other
			if !haveHdr && fr.Buffered() == 0 {
				return
			}
			_ = nc.SetReadDeadline(s.conns.Deadline())
		}
		if err := fr.Fill(need); err != nil {
			if s.conns.ReadOn(nc, haveHdr || fr.Buffered() > 0, err) {
				continue
			}
			if !drain.Ended(err) {
				s.log.Warn("closing peer connection", "peer", peer, "err", err)
			}
			return
		}
	}
}

func (s *Server) writeLoop(nc net.Conn, inflight <-chan *msg.Request) {
	bw := bufio.NewWriterSize(nc, writeBuf)
	var hdr []byte
	broken := false
	done, _ := s.h.(Completer)
	for r := range inflight {
		r.Wait()
		if done != nil {
			done.Completed(r)
		}
		if !broken && !r.NoReply {
			hdr = AppendHeader(hdr[:0], Header{ID: r.PeerID, Type: TypeRes, Version: Version1, SameDC: true})
			reply := r.Reply
			if r.Err != nil {
				reply = s.h.ErrorReply(r.Err)
			}
			if _, err := bw.Write(hdr); err != nil {
				broken = true
			} else if _, err := bw.Write(reply); err != nil {
				broken = true
			}
		}
		s.cfg.Requests.Put(r)
		if !broken && len(inflight) == 0 {
			if err := bw.Flush(); err != nil {
				broken = true
			}
		}
		if broken {
			// stops the reader: nothing more can be answered
			_ = nc.SetReadDeadline(time.Unix(1, 0))
		}
	}
	if s.conns.Draining() && !broken {
		s.conns.CloseGently(nc) // the peer reads every reply, then EOF
		return
	}
	nc.Close()
}
