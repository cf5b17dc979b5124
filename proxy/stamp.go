package proxy

import (
	"hash/fnv"
	"strconv"

	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Write stamps. Every write gets a version at its coordinator (the node its
// client sent it to): the node's hybrid logical clock reading (proxy/hlc)
// and the node's order. The copies carry it to the replicas in the peer
// frame (proxy/dnode, "Write stamps"), and a replica that receives one
// merges the stamp into its own clock (hlc.Clock.Observe), so that a write
// it coordinates later is stamped after every write it has applied. Hints
// (proxy/hints) keep the version, and a replayed hint loses to a newer write
// of the same key (lww.go).

// nodeOrder is a node's fixed place in the tie-break order of equal stamps
// (hlc.Version.Node): the 64-bit FNV-1a hash of its datacenter, rack and
// first token ("dc\x00rack\x00token"). Every node computes the same number
// for a node from its configuration, and no two nodes of one ring share a
// (datacenter, rack, token) triple (ring.NewTopology refuses duplicate
// tokens in a rack), so equal orders need a hash collision.
func nodeOrder(dc, rack string, firstToken uint32) uint64 {
	h := fnv.New64a()
	h.Write([]byte(dc))
	h.Write([]byte{0})
	h.Write([]byte(rack))
	h.Write([]byte{0})
	h.Write(strconv.AppendUint(nil, uint64(firstToken), 10))
	return h.Sum64()
}

// stamp gives a write its version unless it has one (a fragment of a
// stamped multi-key write gets its own, later stamp).
func (c *cluster) stamp(r *msg.Request) {
	if r.Stamp == 0 {
		r.Stamp, r.StampNode = uint64(c.clock.Now()), c.order
	}
}

// observe merges the stamp of a copy received from a peer into the clock.
// A stamp too far ahead (hlc.Clock.MaxAhead) does not move the clock; it is
// still the copy's version.
func (c *cluster) observe(r *msg.Request) {
	if r.Stamp != 0 {
		_ = c.clock.Observe(hlc.Timestamp(r.Stamp))
	}
}
