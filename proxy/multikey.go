package proxy

import (
	"strconv"
	"strings"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/memcache"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// Multi-key commands (reference §8.3): MGET, DEL, EXISTS, MSET, UNLINK and
// memcache get/gets/gat are split into one fragment per replica set — the
// keys whose owners are the same in every rack of every datacenter (upstream
// splits by the local rack's ring only, so racks with other token layouts
// got keys on the wrong node) — each routed like a single-key request at the
// connection's consistency level, and reassembled in key order. Values of
// any size work (upstream rejects payloads larger than one mbuf).

type coalesceKind uint8

const (
	coalesceArray    coalesceKind = iota // MGET: one element per key, in order
	coalesceSum                          // DEL, EXISTS, UNLINK: sum of integers
	coalesceOK                           // MSET: +OK when every fragment says so
	coalesceMemcache                     // get/gets/gat: VALUE blocks, one END
)

type coalescer struct {
	c      *cluster
	parent *msg.Request
	kind   coalesceKind

	mu        sync.Mutex
	remaining int
	frags     []*msg.Request
	keys      [][]byte // memcache: the keys in request order
	keyFrag   []int    // per original key: its fragment
	keyPos    []int    // per original key: its index in the fragment
}

// isWriteMulti tells DEL/MSET/UNLINK (writes) from MGET/EXISTS/get (reads).
func (s *Server) isWriteMulti(r *msg.Request) bool {
	if s.opts.Proto == msg.Memcache {
		return false
	}
	switch resp.CommandByID(r.Cmd).Name {
	case "mget", "exists":
		return false
	}
	return true
}

// replicaSignature identifies the set of nodes that hold tok.
func replicaSignature(topo *ring.Topology, tok ring.Token, buf []*ring.Node, sb *strings.Builder) string {
	sb.Reset()
	for _, n := range topo.ReplicasForToken(tok, buf[:0]) {
		sb.WriteString(strconv.Itoa(n.Index))
		sb.WriteByte(',')
	}
	return sb.String()
}

// multiKey fragments r when its keys live on different replica sets. It
// reports false when every key has the same replicas: the caller routes r
// whole, untouched.
func (c *cluster) multiKey(st *clusterState, r *msg.Request, hint uint, rl, wl Level) bool {
	s := c.s
	topo := st.topo
	var (
		keys  [][]byte
		step  = 1 // args per key in the fragment (MSET: key and value)
		first = 1 // index of the first key in Args
		kind  coalesceKind
	)
	if s.opts.Proto == msg.Memcache {
		keys, kind = r.Args, coalesceMemcache
	} else {
		cmd := resp.CommandByID(r.Cmd)
		switch cmd.Name {
		case "mget":
			kind = coalesceArray
		case "mset":
			kind, step = coalesceOK, 2
		default:
			kind = coalesceSum
		}
		for i := first; i < len(r.Args); i += step {
			keys = append(keys, r.Args[i])
		}
	}
	if len(keys) <= 1 {
		return false
	}
	buf := make([]*ring.Node, 0, 16)
	var sb strings.Builder
	groups := map[string]int{}
	co := &coalescer{c: c, parent: r, kind: kind, keys: keys, keyFrag: make([]int, len(keys)), keyPos: make([]int, len(keys))}
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
	write := s.isWriteMulti(r)
	r.Hold()
	co.remaining = len(members)
	for _, idx := range members {
		frag := s.reqs.Get()
		frag.Notify = co
		frag.Tag = int32(len(co.frags))
		frag.Class = msg.ClassRead
		if write {
			frag.Class = msg.ClassWrite
		}
		frag.Cmd, frag.Retrieval = r.Cmd, r.Retrieval
		// Args are the fragment's own (slices of r.Raw, which r outlives the
		// fragment with): the per-key quorum of a read reads its keys there
		if s.opts.Proto == msg.Memcache {
			fk := frag.ArgsBuf()
			for _, ki := range idx {
				fk = append(fk, keys[ki])
			}
			frag.SetArgs(fk)
			frag.KeepRaw(c.memcacheFragment(frag.RawBuf(), r, fk))
			frag.Key = fk[0]
		} else {
			args := append(frag.ArgsBuf(), r.Args[0])
			for _, ki := range idx {
				a := first + ki*step
				args = append(args, r.Args[a:a+step]...)
			}
			frag.SetArgs(args)
			frag.KeepRaw(resp.AppendCommand(frag.RawBuf(), args))
			frag.Key = keys[idx[0]]
		}
		co.frags = append(co.frags, frag)
	}
	for _, frag := range co.frags {
		c.route(frag, hint, rl, wl)
	}
	return true
}

func (c *cluster) memcacheFragment(dst []byte, r *msg.Request, keys [][]byte) []byte {
	cmd := memcache.Cmd(r.Cmd)
	if cmd == memcache.CmdGat || cmd == memcache.CmdGats {
		// gat <exptime> <key>*: the exptime is the token after the command
		fields := strings.Fields(string(r.Raw[:min(len(r.Raw), 64)]))
		exptime := []byte("0")
		if len(fields) > 1 {
			exptime = []byte(fields[1])
		}
		return memcache.AppendGat(dst, cmd, exptime, keys)
	}
	return memcache.AppendGet(dst, cmd, keys)
}

// SubDone collects one fragment; the last one builds the client's reply.
func (co *coalescer) SubDone(frag *msg.Request) {
	co.mu.Lock()
	co.remaining--
	last := co.remaining == 0
	co.mu.Unlock()
	if !last {
		return
	}
	p := co.parent
	p.KeepReply(co.build(p.ReplyBuf()))
	p.Done()
	pool := &co.c.s.reqs
	for _, f := range co.frags {
		pool.Put(f)
	}
	pool.Put(p)
}

func (co *coalescer) build(dst []byte) []byte {
	codec := co.c.s.codec
	// a failed fragment fails the whole request (upstream: rsp_make_error)
	for _, f := range co.frags {
		if f.Err != nil {
			return append(dst, codec.errorReply(f.Err)...)
		}
		if isErrorReply(co.kind, f.Reply) {
			return append(dst, f.Reply...)
		}
	}
	switch co.kind {
	case coalesceSum:
		var sum int64
		for _, f := range co.frags {
			n, err := strconv.ParseInt(strings.TrimSpace(string(f.Reply[1:])), 10, 64)
			if f.Reply[0] != ':' || err != nil {
				return codec.errorLine(dst, "Dynomite: unexpected fragment reply "+strconv.Quote(string(f.Reply[:min(len(f.Reply), 32)])))
			}
			sum += n
		}
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, sum, 10)
		return append(dst, '\r', '\n')
	case coalesceOK:
		for _, f := range co.frags {
			if string(f.Reply) != "+OK\r\n" {
				return append(dst, f.Reply...)
			}
		}
		return append(dst, "+OK\r\n"...)
	case coalesceArray:
		// element k of fragment i is spans[starts[i]+k]
		var (
			startBuf [16]int
			spans    []span
			ok       bool
		)
		starts := startBuf[:0]
		for _, f := range co.frags {
			starts = append(starts, len(spans))
			if spans, ok = arraySpans(f.Reply, -1, spans); !ok {
				return codec.errorLine(dst, "Dynomite: unexpected fragment reply "+strconv.Quote(string(f.Reply[:min(len(f.Reply), 32)])))
			}
		}
		starts = append(starts, len(spans))
		dst = append(dst, '*')
		dst = strconv.AppendInt(dst, int64(len(co.keyFrag)), 10)
		dst = append(dst, '\r', '\n')
		for k, fi := range co.keyFrag {
			at := starts[fi] + co.keyPos[k]
			if at >= starts[fi+1] {
				return codec.errorLine(dst[:0], "Dynomite: fragment reply has too few elements")
			}
			sp := spans[at]
			dst = append(dst, co.frags[fi].Reply[sp.start:sp.end]...)
		}
		return dst
	default: // memcache
		frags := make([][]byte, len(co.frags))
		for i, f := range co.frags {
			frags[i] = f.Reply
		}
		out, err := memcache.AppendCoalesced(dst, co.keys, frags)
		if err != nil {
			return codec.errorLine(dst[:0], "Dynomite: "+err.Error())
		}
		return out
	}
}

func isErrorReply(kind coalesceKind, reply []byte) bool {
	if len(reply) == 0 {
		return true
	}
	if kind == coalesceMemcache {
		return strings.HasPrefix(string(reply[:min(len(reply), 13)]), "SERVER_ERROR") ||
			strings.HasPrefix(string(reply[:min(len(reply), 13)]), "CLIENT_ERROR") ||
			strings.HasPrefix(string(reply[:min(len(reply), 6)]), "ERROR")
	}
	return reply[0] == '-'
}

// allNodes runs SCRIPT LOAD/FLUSH/EXISTS/KILL on every node of every
// datacenter; the client gets the local datastore's reply (upstream).
func (c *cluster) allNodes(st *clusterState, r *msg.Request, hint uint) {
	f := c.newFanout(st, r, hint, DCOne, false)
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

// isDelete: DEL or memcache delete (admin mode 1 runs them locally).
func isDelete(s *Server, r *msg.Request) bool {
	if s.opts.Proto == msg.Memcache {
		return memcache.Cmd(r.Cmd) == memcache.CmdDelete
	}
	cmd := resp.CommandByID(r.Cmd)
	return cmd != nil && cmd.Name == "del"
}

// adminDelete (-x 1): deletes run on the local datastore only, and only for
// keys this node owns in its rack (upstream admin_req_forward_local_datastore).
func (c *cluster) adminDelete(st *clusterState, r *msg.Request, hint uint) {
	if !isDelete(c.s, r) {
		c.fail(r, "Dynomite: Invalid request in Dynomite's admin mode")
		return
	}
	topo := st.topo
	keys := r.Args[1:]
	if c.s.opts.Proto == msg.Memcache {
		keys = r.Args
	}
	for _, k := range keys {
		if tok, ok := topo.KeyToken(k); ok && !topo.Owner(topo.LocalDC(), topo.LocalRack(), tok).Local {
			c.fail(r, "Dynomite: Invalid request in Dynomite's admin mode")
			return
		}
	}
	c.s.backend.Send(r, hint)
}

// verifyScript: every key of EVAL/EVALSHA must have the same replicas
// (upstream: "Keys in the script cannot span multiple nodes").
func (s *Server) verifyScript(st *clusterState, r *msg.Request) bool {
	if s.opts.Proto != msg.Redis {
		return true
	}
	cmd := resp.CommandByID(r.Cmd)
	if cmd == nil || (cmd.Name != "eval" && cmd.Name != "evalsha") {
		return true
	}
	keys := cmd.Keys(r.Args, nil)
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

// localRackOnly: HGETALL, HKEYS, HVALS and the scans read from the local
// rack's owner only, at every level (upstream).
func (s *Server) localRackOnly(r *msg.Request) bool {
	if s.opts.Proto != msg.Redis {
		return false
	}
	cmd := resp.CommandByID(r.Cmd)
	return cmd != nil && cmd.LocalRackOnly
}
