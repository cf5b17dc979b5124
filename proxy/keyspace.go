package proxy

import (
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Commands that see the whole keyspace. Every rack holds every key once,
// split over its nodes by token, so the local rack's nodes together answer
// for the cluster:
//
//   - DBSIZE adds up every node's count; KEYS joins every node's keys;
//     RANDOMKEY takes the first node (the local one first) that has a key.
//   - SCAN walks the nodes one after the other. The cursor the client gets
//     carries the node's position in the rack (in ring order) in its top 8
//     bits and that node's own cursor in the other 56 (Redis's cursors are
//     reversed bit counters over the hash table size, far below 2^56): a
//     scan_iter from cursor 0 visits every node once and ends with cursor
//     0 after the last. MATCH, COUNT and TYPE go to each node unchanged.
//   - FLUSHDB and FLUSHALL empty every node of every datacenter, like
//     SCRIPT FLUSH, when allow_flush is on; off (the default) they are
//     refused with an error naming the key.
//
// Nodes reach their peers' datastores through the peer links: a peer
// serves these commands from its own datastore (peerserver.go).

const (
	scanNodeShift = 56
	scanNodeMask  = 1<<scanNodeShift - 1
)

// keyspace prepares a keyspace command for dispatch (cluster.rackWide).
func (ss *session) keyspace(r *msg.Request, cmd *resp.Command) action {
	if cmd.Answer == resp.AnswerFlush {
		if !ss.s.opts.AllowFlush {
			return ss.answerError(r, "ERR Dynomite: "+upper(cmd.Name)+" is disabled: it would empty every datastore of the cluster; set allow_flush: true to allow it")
		}
		r.Class = msg.ClassAllNodes
	} else {
		r.Class = msg.ClassRack
	}
	if cmd.Answer == resp.AnswerScan {
		if _, ok := parseCursor(r.Args[1]); !ok {
			return ss.answerError(r, "ERR invalid cursor")
		}
	}
	r.RESP3 = ss.resp3
	return actForward
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func parseCursor(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

// rackNodes lists the nodes of the local rack in ring index order.
func rackNodes(topo *ring.Topology) []*ring.Node {
	local := topo.Local()
	var out []*ring.Node
	for i := range topo.Nodes() {
		if n := topo.Node(i); n.DC == local.DC && n.Rack == local.Rack {
			out = append(out, n)
		}
	}
	return out
}

// rackGather is one keyspace command sent to nodes of the local rack; the
// last reply builds the client's.
type rackGather struct {
	c      *cluster
	parent *msg.Request
	answer resp.Answer
	nodes  []*ring.Node
	subs   []*msg.Request
	// scan: the rack position of the node scanned, and how many nodes
	scanAt int

	parts countdown
}

// rackWide sends r to the local rack's nodes (one node for SCAN).
func (c *cluster) rackWide(st *clusterState, r *msg.Request, hint uint) {
	cmd := resp.CommandByID(r.Cmd)
	nodes := rackNodes(st.topo)
	g := &rackGather{c: c, parent: r, answer: cmd.Answer, nodes: nodes}
	if cmd.Answer == resp.AnswerScan {
		cursor, _ := parseCursor(r.Args[1])
		g.scanAt = int(cursor >> scanNodeShift)
		if g.scanAt >= len(nodes) {
			c.fail(r, "invalid cursor")
			return
		}
		sub := c.reqs.Get()
		args := append([][]byte{r.Args[0], strconv.AppendUint(nil, cursor&scanNodeMask, 10)}, r.Args[2:]...)
		sub.KeepRaw(resp.AppendCommand(sub.RawBuf(), args))
		g.subs = append(g.subs, sub)
		g.nodes = nodes[g.scanAt : g.scanAt+1]
	} else {
		for range nodes {
			sub := c.reqs.Get()
			sub.AdoptRaw(r.Raw)
			g.subs = append(g.subs, sub)
		}
	}
	r.Hold()
	g.parts.remaining = len(g.subs)
	for i, sub := range g.subs {
		sub.Cmd, sub.Class, sub.Flags = r.Cmd, r.Class, r.Flags
		sub.Notify, sub.PeerType = g, peerReq
		n := g.nodes[i]
		switch {
		case n.Local:
			c.local.Send(sub, hint)
		case st.down[n.Index].Load():
			sub.Fail(errPeerAdminDown)
		default:
			st.pools[n.Index].Send(sub, hint)
		}
	}
}

// SubDone collects one node's reply; the last one answers the client.
func (g *rackGather) SubDone(*msg.Request) {
	if g.parts.done() {
		finishParts(g.c.reqs, g.parent, g.subs, g.build)
	}
}

func (g *rackGather) build(dst []byte) []byte {
	codec := g.c.codec
	for i, s := range g.subs {
		n := g.nodes[i]
		if s.Err != nil {
			return codec.errorLine(dst, peerErrorText(s.Err, n.Local)+" (node "+n.Name+" "+n.DC+"/"+n.Rack+")")
		}
		if fragmentFailed(s.Reply) {
			return append(dst, s.Reply...)
		}
	}
	switch g.answer {
	case resp.AnswerDBSize:
		var sum int64
		for _, s := range g.subs {
			v, ok := intReply(s.Reply)
			if !ok {
				return g.c.redisUnexpected(dst, s.Reply)
			}
			sum += v
		}
		return resp.AppendInt(dst, sum)
	case resp.AnswerKeys:
		var spans []span
		var from []int
		for i, s := range g.subs {
			n := len(spans)
			var ok bool
			if spans, ok = arraySpans(s.Reply, -1, spans); !ok {
				return g.c.redisUnexpected(dst, s.Reply)
			}
			for range len(spans) - n {
				from = append(from, i)
			}
		}
		dst = resp.AppendArrayHeader(dst, len(spans))
		for k, sp := range spans {
			dst = append(dst, g.subs[from[k]].Reply[sp.start:sp.end]...)
		}
		return dst
	case resp.AnswerRandomKey:
		// the local node's key when it has one, else the first other's
		first := -1
		for i, s := range g.subs {
			if string(s.Reply) == "$-1\r\n" {
				continue
			}
			if g.nodes[i].Local {
				return append(dst, s.Reply...)
			}
			if first < 0 {
				first = i
			}
		}
		if first < 0 {
			return resp.AppendNullBulk(dst)
		}
		return append(dst, g.subs[first].Reply...)
	}
	return g.scanReply(dst, g.subs[0].Reply)
}

// scanReply rewrites a node's SCAN reply with the cluster cursor.
func (g *rackGather) scanReply(dst, reply []byte) []byte {
	var sp [2]span
	got, ok := arraySpans(reply, 2, sp[:0])
	if !ok || reply[got[0].start] != '$' {
		return g.c.redisUnexpected(dst, reply)
	}
	cur := reply[got[0].start:got[0].end]
	nl := 0
	for nl < len(cur) && cur[nl] != '\n' {
		nl++
	}
	next, ok := parseCursor(cur[nl+1 : len(cur)-2])
	if !ok || next > scanNodeMask {
		return g.c.redisUnexpected(dst, reply)
	}
	at := uint64(g.scanAt)
	switch {
	case next != 0:
		next |= at << scanNodeShift
	case g.scanAt+1 < len(rackNodes(g.c.state.Load().topo)):
		next = (at + 1) << scanNodeShift
	}
	dst = resp.AppendArrayHeader(dst, 2)
	dst = resp.AppendBulk(dst, strconv.AppendUint(nil, next, 10))
	return append(dst, reply[got[1].start:got[1].end]...)
}

func intReply(reply []byte) (int64, bool) {
	if len(reply) < 4 || reply[0] != ':' {
		return 0, false
	}
	return resp.ParseInt(reply[1 : len(reply)-2])
}

func (c *cluster) redisUnexpected(dst, reply []byte) []byte {
	return c.codec.errorLine(dst, "Dynomite: unexpected reply "+strconv.Quote(string(reply[:min(len(reply), 32)])))
}
