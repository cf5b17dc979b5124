// Package msg holds the protocol-neutral request that travels from a client
// session to a datastore (or, later, a peer) and back.
//
// # Lifecycle
//
// A session takes a [Request] from a [Pool], fills Raw with the exact wire
// bytes of one client request (and Args/Key with slices of Raw), hands it to a
// backend, and waits on [Request.Wait]. The backend writes Raw unchanged,
// reads the datastore's reply into Reply (or sets Err) and calls
// [Request.Done] exactly once. The session then writes Reply (or an error
// reply built from Err) to the client and returns the request to the pool.
//
// A request is owned by exactly one goroutine at a time; the hand-offs
// (backend queue, Done/Wait) are the synchronisation points.
package msg

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Proto is the client and datastore protocol of a pool; the configuration's
// data_store key holds it as its number (0 or 1, upstream's dyn_conf.c
// data_store), so the values must not be reordered.
type Proto uint8

const (
	// Redis is RESP, data_store: 0.
	Redis Proto = iota
	// Memcache is the memcached ASCII protocol, data_store: 1.
	Memcache
)

// String returns "redis" or "memcache", the names the configuration dump and
// the metrics labels use.
func (p Proto) String() string {
	switch p {
	case Redis:
		return "redis"
	case Memcache:
		return "memcache"
	}
	return "Proto(" + strconv.Itoa(int(p)) + ")"
}

// Valid reports whether p is one of the protocols above.
func (p Proto) Valid() bool { return p == Redis || p == Memcache }

// Class is how a command is routed (dyn_client.c req_forward, proto/dyn_redis.c
// redis_parse_req).
type Class uint8

const (
	// ClassUnsupported commands get an error reply naming the command.
	ClassUnsupported Class = iota
	// ClassRead commands go to the token owner(s) the read consistency names.
	ClassRead
	// ClassWrite commands go to the owner in every rack and every datacenter.
	ClassWrite
	// ClassMultiKey commands (MGET, DEL, EXISTS, MSET, memcache get/gets) are
	// split per owner and coalesced.
	ClassMultiKey
	// ClassLocal commands run on the local datastore only (PING, INFO, KEYS, SCAN...).
	ClassLocal
	// ClassAllNodes commands go to every node of every datacenter (SCRIPT ...).
	ClassAllNodes
	// ClassProxy commands are answered by the proxy itself (QUIT, ECHO, COMMAND...).
	ClassProxy
	// ClassRack commands see the keyspace of every node of the local rack,
	// which together hold every key once (SCAN, KEYS, DBSIZE, RANDOMKEY).
	ClassRack
)

var classNames = [...]string{"unsupported", "read", "write", "multikey", "local", "allnodes", "proxy", "rack"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Flags are what a protocol's command table says about a command beyond its
// Class. The codec sets them on the request when it parses it; the router
// reads them, and never the command's name or the protocol (after codis's
// opTable flags, pkg/proxy/mapper.go).
type Flags uint16

const (
	// FlagRead: the command only reads data; routed at the read consistency.
	FlagRead Flags = 1 << iota
	// FlagWrite: the command changes data; routed at the write consistency
	// to every rack and datacenter.
	FlagWrite
	// FlagMultiKey: the keys may live on different nodes. A request whose
	// keys have different replicas is split into one fragment per replica
	// set, and the client's reply is built from the fragments' replies as
	// [Flags.Coalesce] says.
	FlagMultiKey
	// FlagScript: every key must have the same replicas, or the request is
	// refused (EVAL: a script runs on one node).
	FlagScript
	// FlagKeyless: the command names no key; the local datastore, every
	// node or the proxy itself answers it (PING, INFO, SCRIPT, QUIT).
	FlagKeyless
	// FlagLocalRackOnly: a read served by the token owner of the local rack
	// only, at every consistency level (upstream's
	// ROUTING_TOKEN_OWNER_LOCAL_RACK_ONLY in dyn_redis.c: HGETALL, scans).
	FlagLocalRackOnly
	// FlagDelete: the command deletes keys; the only one admin mode 1 runs
	// (upstream's admin_req_forward_local_datastore in dyn_client.c).
	FlagDelete
	// FlagQuiet: a memcached meta command sent with the q flag, which the
	// codec removed; the client gets its reply only when quiet mode would
	// have sent it (proxy/memcache QuietHides).
	FlagQuiet
)

// Coalesce is how the replies of a multi-key command's fragments make the
// client's reply. It is stored in the top bits of [Flags].
type Coalesce uint8

const (
	// CoalesceNone: the command is never fragmented.
	CoalesceNone Coalesce = iota
	// CoalesceArray: one reply element per key, in key order (MGET;
	// memcache get, whose VALUE blocks end with one END). The quorum of a
	// read is decided key by key.
	CoalesceArray
	// CoalesceSum: integer replies added up (DEL, EXISTS, UNLINK).
	CoalesceSum
	// CoalesceStatus: one status reply when every fragment returns it (MSET).
	CoalesceStatus
)

const coalesceShift = 14

// The coalesce kinds as flag bits, for command tables.
const (
	FlagCoalesceArray  = Flags(CoalesceArray) << coalesceShift
	FlagCoalesceSum    = Flags(CoalesceSum) << coalesceShift
	FlagCoalesceStatus = Flags(CoalesceStatus) << coalesceShift
)

// Coalesce returns how fragments of a multi-key command are coalesced.
func (f Flags) Coalesce() Coalesce { return Coalesce(f >> coalesceShift) }

// Has reports whether every flag of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

var flagNames = [...]string{"read", "write", "multikey", "script", "keyless", "localrack", "delete", "quiet"}

var coalesceNames = [...]string{"", "array", "sum", "status"}

// String lists the flags, "read|multikey|coalesce=array".
func (f Flags) String() string {
	out := ""
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			if out != "" {
				out += "|"
			}
			out += name
		}
	}
	if c := f.Coalesce(); c != CoalesceNone {
		if out != "" {
			out += "|"
		}
		out += "coalesce=" + coalesceNames[c]
	}
	return out
}

// PeerType says what a peer node is to do with a request this node sends
// it. Its values are independent of the wire: proxy/dnode maps them onto
// frame types (upstream's dmsg_type_t, dyn_dnode_msg.h), so that msg stays
// free of the peer protocol.
type PeerType uint8

const (
	// PeerServe: the peer serves the request from its own datastore
	// (upstream's DMSG_REQ). It is the zero value.
	PeerServe PeerType = iota
	// PeerForward: the peer, this node's counterpart in another datacenter,
	// sends the request on to the key's owner in every rack of its own
	// datacenter (upstream's DMSG_REQ_FORWARD).
	PeerForward
	// PeerPubSub: a PUBLISH, SPUBLISH or PUBSUB query for the peer's own
	// pub/sub registry; the peer delivers it to its own subscribers and
	// sends it nowhere else. Upstream has no pub/sub.
	PeerPubSub
)

// Errors a backend completes a request with. The session maps them to
// protocol error replies (see reply text in the proxy package). Their text
// is upstream's (dyn_core.c dn_strerror), capitalised as clients see it.
var (
	// ErrDatastoreDown: no connected datastore connection (or it was ejected).
	//lint:ignore ST1005 upstream's wording, sent to clients as is
	ErrDatastoreDown = errors.New("Datastore refused connection")
	// ErrDatastoreTimeout: the datastore did not answer within `timeout`.
	//lint:ignore ST1005 upstream's wording, sent to clients as is
	ErrDatastoreTimeout = errors.New("Datastore timed out")
	// ErrDatastoreClosed: the connection closed with the request in flight.
	//lint:ignore ST1005 upstream's wording, sent to clients as is
	ErrDatastoreClosed = errors.New("Datastore connection closed")
	// ErrShutdown: the node is stopping.
	ErrShutdown = errors.New("node is shutting down")
)

// Request is one client request and, once done, its reply.
type Request struct {
	// Raw is the request exactly as the client sent it. It is forwarded
	// unchanged; only fragments of multi-key commands are re-encoded.
	Raw []byte
	// Args are the parsed arguments, slices of Raw. For Redis, Args[0] is the
	// command name; for memcache they are the tokens of the command line.
	Args [][]byte
	// Key is the routing key (a slice of Raw), nil for key-less commands.
	Key []byte
	// Cmd is the index of the command in its protocol's command table.
	Cmd uint16
	// Class is the routing class of Cmd.
	Class Class
	// Flags are the command table's flags for Cmd.
	Flags Flags
	// NoReply is set for memcache requests with `noreply`: the datastore
	// sends nothing back, and the client gets nothing either.
	NoReply bool
	// Retrieval is set for memcache get/gets, whose replies end with END.
	Retrieval bool
	// PeerType is what the peer a peer pool sends this request to is to do
	// with it; proxy/dnode writes it as the frame's type.
	PeerType PeerType
	// PeerID is the frame id the peer pool sent the request with; the reply
	// must carry it.
	PeerID uint64
	// Notify, when set, is told of completion instead of waking Wait: the
	// request is one copy of a fanned-out client request.
	Notify Notifier
	// Start is when the session parsed the request and Sent when a pool wrote
	// it, both as Now() nanoseconds (monotonic); for latency metrics.
	Start, Sent int64
	// Tag is free for the one who created the request (e.g. which replica
	// a copy went to).
	Tag int32

	// RESP3 is set on a Redis request read after the client switched to
	// RESP3 (HELLO 3): its reply is converted from the datastore's RESP2
	// before the client gets it.
	RESP3 bool
	// Stamp is a write's version (proxy/hlc: the coordinator's timestamp
	// and node order), given by its coordinator and carried to the replicas
	// in the peer frame (proxy/dnode); zero Stamp means unstamped. Replay
	// marks a copy the replica applies only when it is newer than the write
	// it holds for the key: a hint being replayed (proxy/hints). CrossDC
	// marks a copy for another datacenter, which its receiver guards the
	// same way only when it arrives late (proxy/lww.go, lateCopy).
	Stamp, StampNode uint64
	Replay, CrossDC  bool

	// CloseAfter makes the session close the client connection once this
	// request's reply is written (QUIT, protocol errors).
	CloseAfter bool

	// Reply is the datastore's reply, exact wire bytes. Valid after Wait.
	Reply []byte
	// Err is set instead of Reply when the request failed. Valid after Wait.
	Err error

	done chan struct{}
	// refs counts the holders that must release the request before it is
	// recycled: the session, plus a fan-out whose copies share Raw.
	refs atomic.Int32
	// own holds backing storage reused across uses of this Request.
	rawBuf   []byte
	replyBuf []byte
	argsBuf  [][]byte
}

// NewRequest returns a request ready for use (outside a Pool, in tests).
func NewRequest() *Request {
	r := &Request{done: make(chan struct{}, 1)}
	r.refs.Store(1)
	return r
}

// Hold adds a holder: the request is recycled only after one more Put.
func (r *Request) Hold() { r.refs.Add(1) }

// SetRaw copies b into storage owned by r and sets r.Raw to the copy.
// Args and Key must be set afterwards, as slices of r.Raw.
func (r *Request) SetRaw(b []byte) {
	r.rawBuf = append(r.rawBuf[:0], b...)
	r.Raw = r.rawBuf
}

// AdoptRaw makes b (which the caller gives up) the request's raw bytes without
// copying; used for large requests read straight into their own buffer.
func (r *Request) AdoptRaw(b []byte) { r.Raw = b }

// RawBuf returns a zero-length slice with the request's reusable raw
// storage, to build a re-encoded request in; hand the result to KeepRaw.
func (r *Request) RawBuf() []byte { return r.rawBuf[:0] }

// KeepRaw sets Raw to b, built on RawBuf, and keeps b's storage for reuse.
func (r *Request) KeepRaw(b []byte) {
	r.rawBuf = b
	r.Raw = b
}

// ReplyBuf returns a zero-length slice with the reusable reply storage, to
// build a reply in; hand the result to KeepReply.
func (r *Request) ReplyBuf() []byte { return r.replyBuf[:0] }

// KeepReply sets Reply to b, built on ReplyBuf, and keeps b's storage.
func (r *Request) KeepReply(b []byte) {
	r.replyBuf = b
	r.Reply = b
}

// ArgsBuf returns a zero-length slice with reusable capacity for Args.
func (r *Request) ArgsBuf() [][]byte { return r.argsBuf[:0] }

// SetArgs records args (usually built on ArgsBuf) as r.Args and keeps the
// capacity for reuse.
func (r *Request) SetArgs(args [][]byte) {
	r.Args = args
	r.argsBuf = args
}

// SetReply copies b into storage owned by r and sets r.Reply.
func (r *Request) SetReply(b []byte) {
	r.replyBuf = append(r.replyBuf[:0], b...)
	r.Reply = r.replyBuf
}

// AdoptReply makes b the reply without copying (large replies, static
// replies). b must not be modified afterwards.
func (r *Request) AdoptReply(b []byte) { r.Reply = b }

// base anchors Now to the monotonic clock.
var base = time.Now()

// Now returns monotonic nanoseconds since process start; cheap enough to
// call twice per request.
func Now() int64 { return int64(time.Since(base)) }

// Notifier receives the completion of requests it fanned out. SubDone runs
// on the goroutine that completed the request (a connection's reader) and
// must not block.
type Notifier interface {
	SubDone(r *Request)
}

// Done completes the request. It must be called exactly once per use.
func (r *Request) Done() {
	if r.Notify != nil {
		r.Notify.SubDone(r)
		return
	}
	r.done <- struct{}{}
}

// Fail completes the request with err.
func (r *Request) Fail(err error) {
	r.Err = err
	r.Done()
}

// Wait blocks until Done has been called.
func (r *Request) Wait() { <-r.done }

// DoneChan is closed-over by select loops that wait with other events.
func (r *Request) DoneChan() <-chan struct{} { return r.done }

// reset clears a request for reuse, keeping its buffers when they are small.
func (r *Request) reset() {
	const keep = 64 << 10 // do not pin huge buffers in the pool
	if cap(r.rawBuf) > keep {
		r.rawBuf = nil
	}
	if cap(r.replyBuf) > keep {
		r.replyBuf = nil
	}
	if cap(r.argsBuf) > 1024 {
		r.argsBuf = nil
	}
	clear(r.argsBuf[:cap(r.argsBuf)])
	done, raw, reply, args := r.done, r.rawBuf, r.replyBuf, r.argsBuf
	*r = Request{done: done, rawBuf: raw, replyBuf: reply, argsBuf: args}
}

// Pool recycles requests so that forwarding a single-key request allocates
// nothing in steady state (benchmarked in the proxy package).
type Pool struct{ p sync.Pool }

// Get returns a cleared request.
func (p *Pool) Get() *Request {
	if r, ok := p.p.Get().(*Request); ok {
		r.refs.Store(1)
		return r
	}
	return NewRequest()
}

// Put releases one holder of r; the last one returns r to the pool. r must
// be completed, and the caller must not use it afterwards.
func (p *Pool) Put(r *Request) {
	if r.refs.Add(-1) > 0 {
		return
	}
	r.reset()
	p.p.Put(r)
}
