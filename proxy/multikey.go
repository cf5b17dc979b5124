package proxy

import (
	"strconv"
	"strings"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Multi-key commands (msg.FlagMultiKey in the command tables: MGET, DEL,
// EXISTS, MSET, UNLINK and memcache get/gets/gat/gats) are split into one
// fragment per replica set — the keys whose owners are the same in every
// rack of every datacenter (upstream splits by the local rack's ring only,
// so racks with other token layouts got keys on the wrong node) — each
// routed like a single-key request at the connection's consistency level,
// and reassembled in key order. Values of any size work (upstream rejects
// payloads larger than one mbuf). The codec builds the fragments and the
// client's reply; how the replies combine is the command's msg.Coalesce.

type coalescer struct {
	c      *cluster
	parent *msg.Request

	parts   countdown
	frags   []*msg.Request
	keys    [][]byte // the parent's keys in request order
	keyFrag []int    // per original key: its fragment
	keyPos  []int    // per original key: its index in the fragment
}

// replicaSignature identifies the set of nodes that hold tok. While nodes
// join or leave it also names every rack's owner on the other side of the
// move (ring.Topology.ExtraOwner), in every datacenter: a fragment is routed
// by its first key, so its keys must share their extra owners too, or a
// write's extra copy would miss the keys that moved elsewhere.
func replicaSignature(topo *ring.Topology, tok ring.Token, buf []*ring.Node, sb *strings.Builder) string {
	sb.Reset()
	for _, n := range topo.ReplicasForToken(tok, buf[:0]) {
		sb.WriteString(strconv.Itoa(n.Index))
		sb.WriteByte(',')
	}
	if topo.Moving() {
		for dc := range topo.NumDCs() {
			for rk := range topo.NumRacks(dc) {
				sb.WriteByte('+')
				if e := topo.ExtraOwner(dc, rk, tok); e != nil {
					sb.WriteString(strconv.Itoa(e.Index))
				}
			}
		}
	}
	return sb.String()
}

// multiKey fragments r when its keys live on different replica sets. It
// reports false when every key has the same replicas: the caller routes r
// whole, untouched.
func (c *cluster) multiKey(st *clusterState, r *msg.Request, hint uint, rl, wl consistency.Level) bool {
	topo := st.topo
	keys := c.codec.keys(r, nil)
	if len(keys) <= 1 {
		return false
	}
	buf := make([]*ring.Node, 0, 16)
	var sb strings.Builder
	groups := map[string]int{}
	co := &coalescer{c: c, parent: r, keys: keys, keyFrag: make([]int, len(keys)), keyPos: make([]int, len(keys))}
	var members [][]int // fragment → original key indices
	for i, k := range keys {
		sig := ""
		if tok, ok := topo.KeyToken(k); ok {
			sig = replicaSignature(topo, tok, buf, &sb)
		}
		g, seen := groups[sig]
		if !seen {
			g = len(members)
			groups[sig] = g
			members = append(members, nil)
		}
		co.keyFrag[i], co.keyPos[i] = g, len(members[g])
		members[g] = append(members[g], i)
	}
	if len(members) == 1 {
		return false
	}
	class := msg.ClassRead
	if r.Flags.Has(msg.FlagWrite) {
		class = msg.ClassWrite
	}
	r.Hold()
	co.parts.remaining = len(members)
	for _, idx := range members {
		frag := c.reqs.Get()
		frag.Notify = co
		frag.Tag = int32(len(co.frags))
		frag.Class = class
		frag.Cmd, frag.Flags, frag.Retrieval = r.Cmd, r.Flags, r.Retrieval
		// Args are the fragment's own (slices of r.Raw, which r outlives the
		// fragment with): the per-key quorum of a read reads its keys there
		c.codec.fragment(frag, r, keys, idx)
		co.frags = append(co.frags, frag)
	}
	for _, frag := range co.frags {
		c.route(frag, hint, rl, wl)
	}
	return true
}

// SubDone collects one fragment; the last one builds the client's reply.
func (co *coalescer) SubDone(frag *msg.Request) {
	if co.parts.done() {
		finishParts(co.c.reqs, co.parent, co.frags, co.build)
	}
}

// countdown counts the parts of a client request still outstanding
// (fragments, a rack's nodes); done reports the last one.
type countdown struct {
	mu        sync.Mutex
	remaining int
}

func (c *countdown) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remaining--
	return c.remaining == 0
}

// finishParts answers parent with the reply build makes of its parts, then
// recycles the parts and releases parent.
func finishParts(pool *msg.Pool, parent *msg.Request, parts []*msg.Request, build func([]byte) []byte) {
	parent.KeepReply(build(parent.ReplyBuf()))
	parent.Done()
	for _, f := range parts {
		pool.Put(f)
	}
	pool.Put(parent)
}

// fragmentFailed tells a fragment reply that fails the whole request: an
// error reply of either protocol (replyIsError), or none at all.
func fragmentFailed(reply []byte) bool { return len(reply) == 0 || replyIsError(reply) }

func (co *coalescer) build(dst []byte) []byte {
	codec := co.c.codec
	// a failed fragment fails the whole request (upstream: rsp_make_error)
	for _, f := range co.frags {
		if f.Err != nil {
			return append(dst, codec.errorReply(f.Err)...)
		}
		if fragmentFailed(f.Reply) {
			return append(dst, f.Reply...)
		}
	}
	return codec.coalesce(dst, co)
}

// allNodes runs SCRIPT LOAD/FLUSH/EXISTS/KILL on every node of every
// datacenter; the client gets the local datastore's reply (upstream).
func (c *cluster) allNodes(st *clusterState, r *msg.Request, hint uint) {
	f := c.newFanout(st, r, hint, consistency.DCOne, false)
	f.localFirst()
	topo := st.topo
	for i := range topo.Nodes() {
		if n := topo.Node(i); !n.Local {
			f.add(n, roleSwallow, n.DCIndex, 0, nil)
			f.subs[len(f.subs)-1].req.PeerType = peerReq
		}
	}
	f.start()
}

// adminDelete (-x 1): deletes run on the local datastore only, and only for
// keys this node owns in its rack (upstream admin_req_forward_local_datastore).
func (c *cluster) adminDelete(st *clusterState, r *msg.Request, hint uint) {
	if !r.Flags.Has(msg.FlagDelete) {
		c.fail(r, "Dynomite: Invalid request in Dynomite's admin mode")
		return
	}
	topo := st.topo
	for _, k := range c.codec.keys(r, nil) {
		if tok, ok := topo.KeyToken(k); ok && !topo.Owner(topo.LocalDC(), topo.LocalRack(), tok).Local {
			c.fail(r, "Dynomite: Invalid request in Dynomite's admin mode")
			return
		}
	}
	c.local.Send(r, hint)
}

// verifyScript: every key of a script must have the same replicas
// (upstream: "Keys in the script cannot span multiple nodes").
func (c *cluster) verifyScript(st *clusterState, r *msg.Request) bool {
	if !r.Flags.Has(msg.FlagScript) {
		return true
	}
	keys := c.codec.keys(r, nil)
	if len(keys) <= 1 {
		return true
	}
	topo := st.topo
	buf := make([]*ring.Node, 0, 16)
	var sb strings.Builder
	want := ""
	for i, k := range keys {
		sig := ""
		if tok, ok := topo.KeyToken(k); ok {
			sig = replicaSignature(topo, tok, buf, &sb)
		}
		if i == 0 {
			want = sig
		} else if sig != want {
			return false
		}
	}
	return true
}
