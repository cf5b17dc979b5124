package proxy

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/pubsub"
	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Pub/sub across the cluster. Every node keeps the subscriptions of its
// own clients (pubsub.Registry); nothing is stored in the datastores.
//
// PUBLISH and SPUBLISH: the node a client publishes on delivers the message
// to its own subscribers and sends it once to every other node of every
// rack and datacenter, as a msg.PeerPubSub copy (dnode.TypePubSub on the
// wire): the receiver delivers it to its own subscribers and sends it
// nowhere, so each subscriber gets the message once. The copies of one
// client go over one connection per peer (the session's hint), in order,
// so a client's messages arrive in the order it published them.
//
// The reply waits for the other nodes: it is the number of deliveries on
// this node plus those every other node reported (Redis's count, summed
// over the cluster). A node that does not answer within the peer timeout,
// or is marked down, counts 0: the number is a lower bound, never
// invented. When the reply arrives, the message is in the buffer of every
// subscriber of every node that answered.
//
// PUBSUB CHANNELS, SHARDCHANNELS, NUMSUB, SHARDNUMSUB and NUMPAT ask every
// node the same way and combine the answers: channel lists are merged
// (sorted, duplicates once), counts added up, and NUMPAT counts the
// distinct patterns of the whole cluster (over the peer link a node
// answers NUMPAT with its patterns, so that a pattern subscribed on two
// nodes counts once). A node that does not answer is left out.

// PUBSUB queries and publishes, as parsed.
type psQueryOp uint8

const (
	qPublish psQueryOp = iota
	qSPublish
	qChannels
	qShardChannels
	qNumSub
	qShardNumSub
	qNumPat
	qHelp
)

// psQuery is a PUBLISH, SPUBLISH or PUBSUB request: args are what follows
// the (sub)command.
type psQuery struct {
	op   psQueryOp
	args [][]byte
}

// errNotQuery: a (un)subscription where a query was due (a peer's frame).
const errNotQuery = "ERR Dynomite: a pub/sub frame must carry PUBLISH, SPUBLISH or PUBSUB"

// parsePubSubQuery reads PUBLISH, SPUBLISH and PUBSUB <sub> ...; errText is
// Redis's error for a bad call.
func parsePubSubQuery(args [][]byte) (q psQuery, errText string) {
	switch strings.ToLower(string(args[0])) {
	case "publish":
		return psQuery{op: qPublish, args: args[1:]}, ""
	case "spublish":
		return psQuery{op: qSPublish, args: args[1:]}, ""
	case "pubsub":
	default:
		return q, errNotQuery
	}
	sub := strings.ToLower(string(args[1]))
	rest := args[2:]
	ok := true
	switch sub {
	case "channels", "shardchannels":
		q.op = qChannels
		if sub == "shardchannels" {
			q.op = qShardChannels
		}
		if len(rest) > 1 {
			// checked by the command itself in Redis (pubsub.c), with
			// this wording
			return q, "ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try PUBSUB HELP."
		}
	case "numsub":
		q.op = qNumSub
	case "shardnumsub":
		q.op = qShardNumSub
	case "numpat":
		q.op, ok = qNumPat, len(rest) == 0
	case "help":
		q.op, ok = qHelp, len(rest) == 0
	default:
		return q, "ERR unknown subcommand '" + string(args[1]) + "'. Try PUBSUB HELP."
	}
	if !ok {
		return q, "ERR wrong number of arguments for 'pubsub|" + sub + "' command"
	}
	q.args = rest
	return q, ""
}

// pubsubLocal answers q from this node's registry, in the form nodes
// exchange (see the top of the file): publishes deliver and return the
// count, NUMPAT returns the patterns.
func (s *Server) pubsubLocal(q psQuery) []byte {
	reg := s.pubsub
	switch q.op {
	case qPublish, qSPublish:
		n := reg.Publish(q.op == qSPublish, q.args[0], q.args[1])
		return resp.AppendInt(nil, int64(n))
	case qChannels, qShardChannels, qNumPat:
		kind := pubsub.Channel
		switch q.op {
		case qShardChannels:
			kind = pubsub.Shard
		case qNumPat:
			kind = pubsub.Pattern
		}
		var pat []byte
		if len(q.args) > 0 {
			pat = q.args[0]
		}
		names := reg.Names(kind, pat)
		b := resp.AppendArrayHeader(nil, len(names))
		for _, n := range names {
			b = resp.AppendBulkString(b, n)
		}
		return b
	default: // qNumSub, qShardNumSub
		kind := pubsub.Channel
		if q.op == qShardNumSub {
			kind = pubsub.Shard
		}
		b := resp.AppendArrayHeader(nil, 2*len(q.args))
		for _, ch := range q.args {
			b = resp.AppendBulk(b, ch)
			b = resp.AppendInt(b, int64(reg.Count(kind, ch)))
		}
		return b
	}
}

// pubsubMerge makes the client's reply to q from the nodes' answers
// (this node's first); answers that do not parse are left out.
func pubsubMerge(q psQuery, answers [][]byte) []byte {
	switch q.op {
	case qPublish, qSPublish:
		var sum int64
		for _, a := range answers {
			if el, ok := flatReply(a); ok && len(el) == 1 && el[0].isInt {
				sum += el[0].n
			}
		}
		return resp.AppendInt(nil, sum)
	case qChannels, qShardChannels, qNumPat:
		seen := map[string]struct{}{}
		var names []string
		for _, a := range answers {
			el, _ := flatReply(a)
			for _, e := range el {
				if _, dup := seen[string(e.b)]; !e.isInt && !dup {
					seen[string(e.b)] = struct{}{}
					names = append(names, string(e.b))
				}
			}
		}
		if q.op == qNumPat {
			return resp.AppendInt(nil, int64(len(names)))
		}
		slices.Sort(names)
		b := resp.AppendArrayHeader(nil, len(names))
		for _, n := range names {
			b = resp.AppendBulkString(b, n)
		}
		return b
	default: // qNumSub, qShardNumSub
		counts := make([]int64, len(q.args))
		for _, a := range answers {
			el, ok := flatReply(a)
			if !ok || len(el) != 2*len(q.args) {
				continue
			}
			for i := range q.args {
				if e := el[2*i+1]; e.isInt {
					counts[i] += e.n
				}
			}
		}
		b := resp.AppendArrayHeader(nil, 2*len(q.args))
		for i, ch := range q.args {
			b = resp.AppendBulk(b, ch)
			b = resp.AppendInt(b, counts[i])
		}
		return b
	}
}

// flatElem is one element of a node's answer: a bulk string or an integer.
type flatElem struct {
	b     []byte
	n     int64
	isInt bool
}

// flatReply reads an integer reply, or an array of bulk strings and
// integers (the only shapes nodes answer pub/sub queries with).
func flatReply(b []byte) ([]flatElem, bool) {
	line := func() ([]byte, bool) {
		i := strings.Index(string(b), "\r\n")
		if i < 1 {
			return nil, false
		}
		l := b[:i]
		b = b[i+2:]
		return l, true
	}
	num := func(l []byte) (int64, bool) {
		// canonical numbers only ("+1", "007" are not what a node writes)
		n, err := strconv.ParseInt(string(l), 10, 64)
		return n, err == nil && strconv.FormatInt(n, 10) == string(l)
	}
	head, ok := line()
	if !ok {
		return nil, false
	}
	switch head[0] {
	case ':':
		n, ok := num(head[1:])
		return []flatElem{{n: n, isInt: true}}, ok && len(b) == 0
	case '*':
	default:
		return nil, false
	}
	count, ok := num(head[1:])
	if !ok || count < 0 || count > int64(len(b)) {
		return nil, false
	}
	out := make([]flatElem, 0, count)
	for ; count > 0; count-- {
		l, ok := line()
		if !ok {
			return nil, false
		}
		n, ok := num(l[1:])
		switch {
		case !ok:
			return nil, false
		case l[0] == ':':
			out = append(out, flatElem{n: n, isInt: true})
		case l[0] == '$' && n >= 0 && int64(len(b)) >= n+2 && string(b[n:n+2]) == "\r\n":
			out = append(out, flatElem{b: b[:n]})
			b = b[n+2:]
		default:
			return nil, false
		}
	}
	return out, len(b) == 0
}

// pubsubQuery answers a PUBLISH, SPUBLISH or PUBSUB query of a client:
// from this node alone on a ring of one, else together with every other
// node (actPending: the reply comes when they answered).
func (s *Server) pubsubQuery(r *msg.Request, q psQuery, hint uint) action {
	local := s.pubsubLocal(q)
	st := s.cluster.state.Load()
	if st.single {
		r.KeepReply(append(r.ReplyBuf(), pubsubMerge(q, [][]byte{local})...))
		return actAnswered
	}
	g := &psGather{s: s, parent: r, q: q, answers: [][]byte{local}}
	var targets []int
	for i, n := range st.topo.Nodes() {
		if !n.Local && !st.down[i].Load() {
			targets = append(targets, i)
		}
	}
	g.outstanding = len(targets)
	if len(targets) == 0 {
		g.finish()
		return actPending
	}
	for _, i := range targets {
		sub := s.reqs.Get()
		sub.SetRaw(r.Raw)
		sub.Class, sub.Cmd = r.Class, r.Cmd
		sub.PeerType = msg.PeerPubSub
		sub.Notify = g
		st.pools[i].Send(sub, hint)
	}
	return actPending
}

// psGather collects the other nodes' answers to one pub/sub query.
type psGather struct {
	s      *Server
	parent *msg.Request
	q      psQuery

	mu          sync.Mutex
	answers     [][]byte
	outstanding int
}

// SubDone takes one node's answer (a failed copy adds nothing).
func (g *psGather) SubDone(sub *msg.Request) {
	var a []byte
	if sub.Err == nil {
		a = slices.Clone(sub.Reply)
	}
	g.s.reqs.Put(sub)
	g.mu.Lock()
	if a != nil {
		g.answers = append(g.answers, a)
	}
	g.outstanding--
	last := g.outstanding == 0
	g.mu.Unlock()
	if last {
		g.finish()
	}
}

func (g *psGather) finish() {
	r := g.parent
	r.KeepReply(append(r.ReplyBuf(), pubsubMerge(g.q, g.answers)...))
	r.Done()
}

// isPubSub reports whether r, a Redis request, is a pub/sub command (the
// codec's resp.AnswerPubSub).
func isPubSub(r *msg.Request) bool {
	cmd := resp.CommandByID(r.Cmd)
	return cmd != nil && cmd.Answer == resp.AnswerPubSub
}

// servePubSubPeer answers a pub/sub copy from another node from the local
// registry: a publish is delivered here and sent nowhere else. A pub/sub
// command that arrives as another frame type (which no node sends) is
// refused rather than run on the datastore.
func (s *Server) servePubSubPeer(r *msg.Request, typ msg.PeerType) {
	if typ != msg.PeerPubSub || s.pubsub == nil {
		r.KeepReply(s.codec.errorLine(r.ReplyBuf(), "Dynomite: pub/sub commands travel between nodes as pub/sub frames only"))
		r.Done()
		return
	}
	if !isPubSub(r) {
		r.KeepReply(resp.AppendError(r.ReplyBuf(), errNotQuery))
		r.Done()
		return
	}
	q, errText := parsePubSubQuery(r.Args)
	switch {
	case errText != "":
		r.KeepReply(resp.AppendError(r.ReplyBuf(), errText))
	case q.op == qHelp:
		r.AdoptReply(pubsubHelp)
	default:
		r.KeepReply(append(r.ReplyBuf(), s.pubsubLocal(q)...))
	}
	r.Done()
}
