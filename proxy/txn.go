package proxy

import (
	"net"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/consistency"
	"github.com/dynomite-go/dynomite/proxy/msg"
	"github.com/dynomite-go/dynomite/proxy/resp"
	"github.com/dynomite-go/dynomite/proxy/ring"
)

// The cluster's side of Redis transactions (session_redis.go): who owns a
// key, and the replication of a watched transaction that committed locally.

// ownerOf identifies the replicas of key (one owner per rack): two keys
// with the same result can be in one transaction.
func (c *cluster) ownerOf(st *clusterState, key []byte) string {
	tok, ok := st.topo.KeyToken(key)
	if !ok {
		return ""
	}
	var sb strings.Builder
	return replicaSignature(st.topo, tok, make([]*ring.Node, 0, 16), &sb)
}

// ownsLocally reports whether this node owns key in its rack.
func (c *cluster) ownsLocally(st *clusterState, key []byte) bool {
	tok, ok := st.topo.KeyToken(key)
	if !ok {
		return true
	}
	topo := st.topo
	return topo.Owner(topo.LocalDC(), topo.LocalRack(), tok).Local
}

// localRackOwner names the node of this rack that owns key.
func (c *cluster) localRackOwner(st *clusterState, key []byte) string {
	tok, _ := st.topo.KeyToken(key)
	topo := st.topo
	n := topo.Owner(topo.LocalDC(), topo.LocalRack(), tok)
	return "node " + n.Name + " (" + n.Addr + ")"
}

// replicateElsewhere sends a transaction unit that committed on the local
// datastore to the key's owners in the other racks of this datacenter and
// to the other datacenters (forwarded, as a write's copies are), without
// waiting for them: the client already has the local reply.
func (c *cluster) replicateElsewhere(r *msg.Request, hint uint) {
	st := c.state.Load()
	if st.single {
		return
	}
	topo := st.topo
	tok, ok := topo.KeyToken(r.Key)
	if !ok {
		return
	}
	type target struct {
		node *ring.Node
		dc   int
		next []int
	}
	var targets []target
	localDC := topo.LocalDC()
	for rk := 0; rk < topo.NumRacks(localDC); rk++ {
		if rk != topo.LocalRack() {
			targets = append(targets, target{topo.Owner(localDC, rk, tok), localDC, nil})
		}
		// while nodes join or leave, the owners on the other side of the
		// move take the unit too, as they take every write
		if e := topo.ExtraOwner(localDC, rk, tok); e != nil && !e.Local {
			targets = append(targets, target{e, localDC, nil})
		}
	}
	for dc := 0; dc < topo.NumDCs(); dc++ {
		if order := topo.RemoteRackOrder(dc); dc != localDC && len(order) > 0 {
			targets = append(targets, target{topo.Owner(dc, order[0], tok), dc, order[1:]})
		}
	}
	if len(targets) == 0 {
		return
	}
	cp := c.reqs.Get()
	cp.SetRaw(r.Raw)
	cp.Cmd, cp.Class, cp.Flags = r.Cmd, r.Class, r.Flags
	_, args, _ := resp.ParseRequest(cp.Raw[len(multiRaw):], nil, nil)
	if cmd := resp.CommandByID(lookupID(args)); cmd != nil {
		cp.Key = cmd.Key(args)
	}
	cp.Notify = releaseOnDone{c.reqs}
	f := c.newFanout(st, cp, hint, consistency.DCOne, true)
	f.set.Primary = 0
	for i, t := range targets {
		role := uint8(roleSwallow)
		if i == 0 {
			role = roleCounted // the fan-out's decision; nobody waits for it
		}
		f.add(t.node, role, t.dc, tok, t.next)
		f.subs[len(f.subs)-1].req.PeerType = peerReq
		if t.dc != localDC {
			f.subs[len(f.subs)-1].req.PeerType = peerForward
		}
	}
	f.start()
}

// releaseOnDone returns a request nobody waits for to its pool when it
// completes.
type releaseOnDone struct{ pool *msg.Pool }

func (d releaseOnDone) SubDone(r *msg.Request) { d.pool.Put(r) }

// dialDatastore opens a connection of its own to the local datastore (a
// watching client's), authenticated like the pool's.
func (s *Server) dialDatastore() (net.Conn, error) {
	network, addr := splitNetwork(s.opts.Datastore)
	nc, err := net.DialTimeout(network, addr, s.opts.Timeout)
	if err != nil {
		return nil, err
	}
	if s.opts.DatastorePassword != "" {
		if err := datastoreAuth(s.opts.DatastorePassword)(nc); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return nc, nil
}

// lastReply returns the last of the replies a transaction unit got (EXEC's).
func lastReply(replies []byte) []byte {
	lim := resp.DefaultLimits()
	start := 0
	for start < len(replies) {
		k, err := resp.ParseReply(replies[start:], &lim)
		if err != nil || start+k == len(replies) {
			break
		}
		start += k
	}
	return replies[start:]
}

// execRESP3 appends EXEC's reply with each element converted as its
// command's reply (the unit's commands, after MULTI, in raw).
func execRESP3(dst, raw, last []byte) []byte {
	if len(last) == 0 || last[0] != '*' || string(last) == "*-1\r\n" {
		out, _ := resp.AppendRESP3(dst, last, resp.ShapePlain, nil)
		return out
	}
	lim := resp.DefaultLimits()
	n, _ := resp.ParseInt(last[1:strings.IndexByte(string(last), '\r')])
	pos := strings.IndexByte(string(last), '\n') + 1
	dst = append(dst, last[:pos]...)
	cmdPos := len(multiRaw)
	for i := int64(0); i < n; i++ {
		k, err := resp.ParseReply(last[pos:], &lim)
		if err != nil {
			return append(dst[:0], last...)
		}
		shape, args := resp.ShapePlain, [][]byte(nil)
		if m, a, err := resp.ParseRequest(raw[cmdPos:], nil, nil); err == nil {
			cmdPos += m
			args = a
			if cmd := resp.CommandByID(lookupID(a)); cmd != nil {
				shape = cmd.Reply3
			}
		}
		dst, _ = resp.AppendRESP3(dst, last[pos:pos+k], shape, args)
		pos += k
	}
	return dst
}
