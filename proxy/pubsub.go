package proxy

import (
	"bufio"
	"iter"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/pubsub"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Redis pub/sub on the client side: SUBSCRIBE and its kin, PUBLISH,
// SPUBLISH and PUBSUB, with Redis's replies (pubsub.c). Subscriptions live
// in the node's pubsub.Registry; pubsub_cluster.go sends publishes and
// PUBSUB queries to the other nodes.
//
// Order. Redis writes a SUBSCRIBE's confirmation before any message of its
// channel, and every message delivered before an UNSUBSCRIBE before its
// confirmation, and a reply after the replies of the requests sent before
// it. Here the reader answers a (un)subscribe at once (the counts are a
// function of this connection's commands alone), but the registry is
// changed by the writer, when it reaches that reply in the connection's
// order: it first writes the messages already delivered, then changes the
// registry, then writes the confirmation; messages delivered from then on
// follow it.
//
// Slow subscribers. Messages wait in the subscriber's own buffer (out),
// never in the publisher's: delivery appends and returns. The buffer, and
// the part the writer is writing, are bounded like Redis's
// client-output-buffer-limit pubsub (networking.c
// checkClientOutputBufferLimits): above the hard limit, or above the soft
// limit for the soft duration, the connection is closed.

// Pub/sub actions of the Redis codec, numbered apart from session.go's so
// that actions added there do not collide with them.
const (
	// actPubSub: r is a pub/sub command for ss.pubsubCommand.
	actPubSub action = 32 + iota
	// actPending: r is queued for its reply, which another goroutine
	// completes (a publish or PUBSUB query waiting for the other nodes).
	actPending
)

// PubSubLimits bound what a subscriber's connection may have waiting to
// be written: more than Hard bytes, or more than Soft bytes for SoftFor,
// and it is closed (Redis's client-output-buffer-limit pubsub). Zero
// fields take Redis's defaults (32 MiB, 8 MiB, 60s); a negative one turns
// that limit off.
type PubSubLimits struct {
	Hard, Soft int64
	SoftFor    time.Duration
}

// withDefaults fills zero fields with Redis's defaults.
func (l PubSubLimits) withDefaults() PubSubLimits {
	if l.Hard == 0 {
		l.Hard = 32 << 20
	}
	if l.Soft == 0 {
		l.Soft = 8 << 20
	}
	if l.SoftFor == 0 {
		l.SoftFor = 60 * time.Second
	}
	return l
}

// psConn is one client connection's pub/sub state, made at its first
// pub/sub command. It is the connection's pubsub.Subscriber.
type psConn struct {
	s  *Server
	nc net.Conn
	// resp3: the client speaks RESP3 (session.resp3 when it subscribed):
	// messages and confirmations are push frames
	resp3 atomic.Bool

	// the reader's view: what it has confirmed, in subscription order
	sets [3]nameSet
	// the writer's view: what is in the registry (then serveClient's, to
	// remove it when the connection ends)
	registered [3]map[string]struct{}

	mu sync.Mutex
	// ops: (un)subscriptions answered by the reader and not yet applied
	// by the writer, in request order
	ops []psOp
	// out: messages delivered, not yet taken by the writer; spare: the
	// buffer the writer gives back; writing: the size of what the writer
	// is writing now
	out, spare []byte
	writing    int
	// softSince: since when out has been above the soft limit (zero: it
	// is not)
	softSince time.Time
	killed    bool
	// wake holds one token while out has something to write
	wake chan struct{}
}

// psOp is one (un)subscription for the writer to apply to the registry
// when it reaches r (RESET queues one per kind for the same r).
type psOp struct {
	r     *msg.Request
	kind  pubsub.Kind
	add   bool
	names []string
}

// nameSet is a set that remembers insertion order (UNSUBSCRIBE without
// arguments confirms in it).
type nameSet struct {
	names []string
	has   map[string]struct{}
}

func (n *nameSet) add(name string) bool {
	if _, ok := n.has[name]; ok {
		return false
	}
	if n.has == nil {
		n.has = map[string]struct{}{}
	}
	n.has[name] = struct{}{}
	n.names = append(n.names, name)
	return true
}

func (n *nameSet) remove(name string) bool {
	if _, ok := n.has[name]; !ok {
		return false
	}
	delete(n.has, name)
	n.names = slices.Delete(n.names, slices.Index(n.names, name), slices.Index(n.names, name)+1)
	return true
}

// subscribed: Redis's CLIENT_PUBSUB, the connection has a subscription of
// any kind.
func (p *psConn) subscribed() bool {
	return len(p.sets[pubsub.Channel].names)+len(p.sets[pubsub.Pattern].names)+len(p.sets[pubsub.Shard].names) > 0
}

// psConnOf returns the session's pub/sub state, made on first use.
func (ss *session) psConnOf() *psConn {
	if p := ss.ps.Load(); p != nil {
		return p
	}
	p := &psConn{s: ss.s, nc: ss.nc, wake: make(chan struct{}, 1)}
	for k := range p.registered {
		p.registered[k] = map[string]struct{}{}
	}
	ss.ps.Store(p)
	return p
}

// pubsubFilter runs on the reader for every Redis request once the codec
// and authentication have had it, when the command is a pub/sub one or
// the connection has subscriptions: it answers the pub/sub commands and,
// on a RESP2 connection in subscribed mode, refuses the others as Redis
// does (server.c processCommand) and answers PING with a pong message.
func (ss *session) pubsubFilter(r *msg.Request, act action) action {
	if act == actPubSub {
		if txn := ss.rs.txn; txn != nil {
			// Redis would queue it; a subscription inside a transaction
			// unit is not something the replicas could run
			txn.aborted = true
			return ss.answerError(r, "ERR Dynomite: "+strings.ToUpper(string(r.Args[0]))+" inside MULTI is not supported")
		}
		return ss.pubsubCommand(r)
	}
	p := ss.ps.Load()
	if p == nil || r.Cmd == 0 || act == actMore || act == actSkip {
		return act
	}
	name := resp.CommandByID(r.Cmd).Name
	if name == "reset" || name == "quit" {
		// RESET leaves every subscription (the session answers it; inside
		// MULTI it refuses it, and the subscriptions stay). QUIT too,
		// before its reply is written: Redis frees a client that quit
		// before it reads another client's next command (networking.c,
		// CLIENT_CLOSE_AFTER_REPLY), so PUBSUB NUMSUB sent after the OK
		// never counts it
		if ss.rs.txn == nil {
			ss.unsubscribeAll(p, r)
		}
		return act
	}
	if ss.resp3 || !p.subscribed() {
		return act
	}
	switch name {
	case "ping":
		if len(r.Args) > 2 {
			r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR wrong number of arguments for 'ping' command"))
			return actAnswered
		}
		// a RESP2 subscriber can only read arrays of the subscribed-mode
		// shape (pubsub.c: pingCommand's CLIENT_PUBSUB reply)
		b := resp.AppendArrayHeader(r.ReplyBuf(), 2)
		b = resp.AppendBulkString(b, "pong")
		if len(r.Args) == 2 {
			b = resp.AppendBulk(b, r.Args[1])
		} else {
			b = resp.AppendBulkString(b, "")
		}
		r.KeepReply(b)
		r.Class = msg.ClassProxy
		return actAnswered
	}
	ss.refuseSubscribed(r, fullName(name, r.Args))
	return actAnswered
}

// unsubscribeAll drops every subscription of the connection, in the
// registry once the writer reaches r.
func (ss *session) unsubscribeAll(p *psConn, r *msg.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.sets {
		set := &p.sets[k]
		if len(set.names) == 0 {
			continue
		}
		p.ops = append(p.ops, psOp{r: r, kind: pubsub.Kind(k), names: set.names})
		*set = nameSet{}
	}
}

// refuseSubscribed answers a command a RESP2 subscriber may not send.
func (ss *session) refuseSubscribed(r *msg.Request, name string) {
	r.KeepReply(resp.AppendError(r.ReplyBuf(), "ERR Can't execute '"+name+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
	r.Class = msg.ClassProxy
	r.CloseAfter = false
}

// containers are the commands Redis names with their subcommand in
// errors ("config|get").
var containers = map[string]bool{
	"config": true, "script": true, "command": true, "object": true, "memory": true, "xinfo": true,
	"client": true, "function": true, "cluster": true, "acl": true, "latency": true, "slowlog": true,
	"module": true, "xgroup": true, "pubsub": true,
}

// fullName is Redis's cmd->fullname for args: "name|subcommand" for a
// container command called with a subcommand.
func fullName(name string, args [][]byte) string {
	if containers[name] && len(args) > 1 {
		return name + "|" + strings.ToLower(string(args[1]))
	}
	return name
}

// pubsubCommand answers one pub/sub command on the reader.
func (ss *session) pubsubCommand(r *msg.Request) action {
	name := strings.ToLower(string(r.Args[0]))
	p := ss.ps.Load()
	switch name {
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		ss.subscribeCommand(ss.psConnOf(), r, name)
		return actAnswered
	}
	if p != nil && p.subscribed() && !ss.resp3 {
		ss.refuseSubscribed(r, fullName(name, r.Args))
		return actAnswered
	}
	q, errText := parsePubSubQuery(r.Args)
	if errText != "" {
		r.KeepReply(resp.AppendError(r.ReplyBuf(), errText))
		return actAnswered
	}
	if q.op == qHelp {
		r.AdoptReply(pubsubHelp)
		return actAnswered
	}
	return ss.s.pubsubQuery(r, q, ss.id)
}

// subscribeCommand answers (UN|P|S)(UN)SUBSCRIBE: one confirmation per
// name (per subscription removed, when UNSUBSCRIBE names none), and queues
// the registry change for the writer.
func (ss *session) subscribeCommand(p *psConn, r *msg.Request, name string) {
	p.resp3.Store(ss.resp3)
	add := !strings.Contains(name, "unsubscribe")
	kind := pubsub.Channel
	switch name {
	case "psubscribe", "punsubscribe":
		kind = pubsub.Pattern
	case "ssubscribe", "sunsubscribe":
		kind = pubsub.Shard
	}
	set := &p.sets[kind]
	names := make([]string, 0, len(r.Args)-1)
	for _, a := range r.Args[1:] {
		names = append(names, string(a))
	}
	if !add && len(names) == 0 {
		names = slices.Clone(set.names)
	}
	count := func() int {
		if kind == pubsub.Shard {
			return len(p.sets[pubsub.Shard].names)
		}
		return len(p.sets[pubsub.Channel].names) + len(p.sets[pubsub.Pattern].names)
	}
	b := r.ReplyBuf()
	op := psOp{r: r, kind: kind, add: add}
	for _, n := range names {
		changed := false
		if add {
			changed = set.add(n)
		} else {
			changed = set.remove(n)
		}
		if changed {
			op.names = append(op.names, n)
		}
		b = appendConfirm(b, p.resp3.Load(), name, n, true, count())
	}
	if len(names) == 0 {
		// UNSUBSCRIBE with nothing to unsubscribe: one confirmation with a
		// null name
		b = appendConfirm(b, p.resp3.Load(), name, "", false, count())
	}
	r.KeepReply(b)
	if len(op.names) > 0 {
		p.mu.Lock()
		p.ops = append(p.ops, op)
		p.mu.Unlock()
	}
}

// appendPush appends the header of a push of n elements: a RESP3 push
// ('>') or, for RESP2, an array.
func appendPush(dst []byte, resp3 bool, n int) []byte {
	if !resp3 {
		return resp.AppendArrayHeader(dst, n)
	}
	dst = append(dst, '>')
	dst = append(dst, byte('0'+n))
	return append(dst, '\r', '\n')
}

// appendConfirm appends a (un)subscribe confirmation: [kind, name,
// count]; without a name, a null.
func appendConfirm(dst []byte, resp3 bool, kind, name string, hasName bool, count int) []byte {
	dst = appendPush(dst, resp3, 3)
	dst = resp.AppendBulkString(dst, kind)
	switch {
	case hasName:
		dst = resp.AppendBulkString(dst, name)
	case resp3:
		dst = append(dst, "_\r\n"...)
	default:
		dst = resp.AppendNullBulk(dst)
	}
	return resp.AppendInt(dst, int64(count))
}

// Deliver appends a message to the connection's buffer (it runs on the
// publisher's goroutine, under the registry's read lock) and closes the
// connection when the buffer is over its limits.
func (p *psConn) Deliver(kind pubsub.Kind, pattern string, channel, message []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return
	}
	empty := len(p.out) == 0
	r3 := p.resp3.Load()
	switch kind {
	case pubsub.Pattern:
		p.out = appendPush(p.out, r3, 4)
		p.out = resp.AppendBulkString(p.out, "pmessage")
		p.out = resp.AppendBulkString(p.out, pattern)
	case pubsub.Shard:
		p.out = appendPush(p.out, r3, 3)
		p.out = resp.AppendBulkString(p.out, "smessage")
	default:
		p.out = appendPush(p.out, r3, 3)
		p.out = resp.AppendBulkString(p.out, "message")
	}
	p.out = resp.AppendBulk(p.out, channel)
	p.out = resp.AppendBulk(p.out, message)
	if p.overLimit() {
		return
	}
	if empty {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// overLimit applies the output buffer limits, called with p.mu held after
// a message was added; it closes the connection and returns true when
// they are exceeded.
func (p *psConn) overLimit() bool {
	lim := &p.s.live.Load().PubSubLimits
	pending := int64(len(p.out) + p.writing)
	which := ""
	switch {
	case lim.Hard > 0 && pending > lim.Hard:
		which = "hard"
	case lim.Soft > 0 && pending > lim.Soft:
		now := time.Now()
		if p.softSince.IsZero() {
			p.softSince = now
		} else if now.Sub(p.softSince) >= lim.SoftFor {
			which = "soft"
		}
	default:
		p.softSince = time.Time{}
	}
	if which == "" {
		return false
	}
	p.killed = true
	p.out = nil
	if which == "hard" {
		p.s.pubsubClosedHard.Add(1)
	} else {
		p.s.pubsubClosedSoft.Add(1)
	}
	p.s.log.Warn("closing a pub/sub client that does not read its messages: output buffer over pubsub_output_buffer_"+which+"_limit",
		"client", p.nc.RemoteAddr().String(), "pending_bytes", pending)
	abort(p.nc)
	return true
}

// abort closes a client connection at once, dropping what the kernel
// still holds for it (SO_LINGER 0: a reset instead of a FIN after
// megabytes the client is not reading). Closed, not given a deadline, so
// that the reader does not take it for an idle client; in a goroutine,
// because closing a TLS connection may write.
func abort(nc net.Conn) {
	raw := nc
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		raw = u.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	go nc.Close()
}

// requests is the writer's loop over the connection's requests, in order.
// Until the connection subscribes or tracks keys it is a plain receive;
// then it also
// writes delivered messages as they come, and applies the registry
// changes of (un)subscriptions when their replies are next (see Order
// above). bw and broken are the writer's.
func (ss *session) requests(bw **bufio.Writer, broken, retired *bool) iter.Seq[*msg.Request] {
	return func(yield func(*msg.Request) bool) {
		for {
			var (
				r    *msg.Request
				ok   bool
				wake chan struct{} // nil (never ready) while not subscribed
			)
			p := ss.ps.Load()
			if ss.retireNow {
				// a sparse connection's writer ends after each reply
				// (session_writer.go)
				ss.retireNow = false
				next, gone := ss.retire(*bw, *broken)
				if gone {
					*retired = true
					return
				}
				r, ok = next, true
			}
			if r != nil {
				// the request retire found
			} else if p == nil && !ss.rs.push.on.Load() {
				// neither subscribed nor tracking: nothing but requests
				// can wake the writer, and a receive from one channel
				// costs a fraction of a select over three (runtime
				// chanrecv against selectgo, which locks every channel)
				r, ok = <-ss.inflight
			} else {
				if p != nil {
					wake = p.wake
				}
				// push.ready: client-side caching's invalidations became
				// due (tracking.go)
				select {
				case r, ok = <-ss.inflight:
				case <-wake:
					ss.writeMessages(p, bw, broken)
					if !*broken && *bw != nil && len(ss.inflight) == 0 {
						ss.flush(bw, broken)
					}
					continue
				case <-ss.rs.push.ready:
					ss.writePushes(bw, broken)
					continue
				}
			}
			if r == retireMark {
				if !*broken && *bw != nil && len(ss.inflight) == 0 {
					ss.flush(bw, broken) // a mark queued after a reply held its flush back
				}
				next, gone := ss.retire(*bw, *broken)
				if gone {
					*retired = true
					return
				}
				if next == nil || next == retireMark {
					continue
				}
				r = next
			}
			if !ok || r == endMark {
				return
			}
			if p := ss.ps.Load(); p != nil {
				ss.applyOps(p, r, bw, broken)
			}
			if !yield(r) {
				return
			}
		}
	}
}

// applyOps: when r is the next (un)subscription, write the messages
// delivered so far, then change the registry; r's confirmation follows.
func (ss *session) applyOps(p *psConn, r *msg.Request, bw **bufio.Writer, broken *bool) {
	for first := true; ; first = false {
		p.mu.Lock()
		if len(p.ops) == 0 || p.ops[0].r != r {
			p.mu.Unlock()
			return
		}
		op := p.ops[0]
		p.ops[0] = psOp{}
		p.ops = p.ops[1:]
		p.mu.Unlock()
		if first {
			ss.writeMessages(p, bw, broken)
		}
		reg := ss.s.pubsub
		for _, n := range op.names {
			if op.add {
				reg.Subscribe(p, op.kind, n)
				p.registered[op.kind][n] = struct{}{}
			} else {
				reg.Unsubscribe(p, op.kind, n)
				delete(p.registered[op.kind], n)
			}
		}
		if !op.add {
			// what was delivered before the registry changed precedes the
			// confirmation
			ss.writeMessages(p, bw, broken)
		}
	}
}

// writeMessages writes what was delivered to p (unflushed). A broken or
// killed connection drops it.
func (ss *session) writeMessages(p *psConn, bw **bufio.Writer, broken *bool) {
	p.mu.Lock()
	out := p.out
	if p.killed {
		*broken = true
	}
	p.out, p.spare = p.spare[:0], nil
	p.writing = len(out)
	p.mu.Unlock()
	if len(out) > 0 && !*broken {
		if *bw == nil {
			*bw = getWriter(ss.nc)
		}
		if _, err := (*bw).Write(out); err != nil {
			*broken = true
		}
	}
	p.mu.Lock()
	p.writing = 0
	if cap(out) <= 1<<20 {
		p.spare = out[:0]
	}
	p.mu.Unlock()
}

// pubsubEnd removes a finished connection's subscriptions (after its
// writer returned).
func (ss *session) pubsubEnd() {
	p := ss.ps.Load()
	if p == nil {
		return
	}
	for k := range p.registered {
		for n := range p.registered[k] {
			ss.s.pubsub.Unsubscribe(p, pubsub.Kind(k), n)
		}
	}
}

// pubsubHelp is PUBSUB HELP's reply, Redis's text.
var pubsubHelp = func() []byte {
	lines := []string{
		"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
		"HELP",
		"    Prints this help.",
	}
	b := resp.AppendArrayHeader(nil, len(lines))
	for _, l := range lines {
		b = resp.AppendSimple(b, l)
	}
	return b
}()
