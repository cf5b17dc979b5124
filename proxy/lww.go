package proxy

import (
	"hash/maphash"
	"sync"
	"unsafe"

	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// The last-writer-wins guard of replayed hints (proxy/hints, "Replay never
// overwrites newer data"). Every node keeps, for the keys most recently
// written through it to its own datastore (as coordinator or as replica),
// the version of the newest write applied: a fixed table of entries, each
// holding one key's hash and version (below).
// A replayed hint whose version is not newer than its key's entry is
// answered without reaching the datastore (hintSuperseded), so a write made
// meanwhile on the other side of a partition is not undone, and a hint
// whose copy had arrived after all (a timeout after the write was applied)
// is not applied twice. Copies for another datacenter are guarded the same
// way (msg.Request.Replay): one held in a dead TCP connection while the
// link between the datacenters was cut is delivered when it comes back,
// after the newer writes made there meanwhile. Copies within a datacenter
// are applied as they come: their replies count for the client's
// consistency level.
//
// An entry is recorded once the datastore answered the write without an
// error (applied: for a copy the node serves for a peer, when its reply is
// written back, dnode.Completer; for its own copies, when the fan-out gets
// the reply), so a write the datastore refused can still be replayed. The
// table knows nothing of the keys it lost: after a restart, or when newer
// writes of other keys took their entries, a replayed hint is applied
// whatever the datastore holds.

// The table holds lwwWays * lwwBuckets entries (2^18): the writes of the
// last seconds to minutes of a busy node. A hint replays within
// max_hint_window, but the keys that matter are those written on both
// sides of a partition, which are the recent ones. A key's hash picks a
// bucket of lwwWays entries, one 64-byte cache line (a lookup costs one
// memory access: the table is too large for the caches, and every write
// on every replica records itself); a new key takes an empty entry or the
// one with the oldest version, so the newest writes stay known (a
// direct-mapped table would lose a key to any other key hashed to its
// slot). An entry keeps 32 bits of the key's hash besides those that chose
// its bucket, and the low 32 bits of the version's node order, which every
// node truncates alike, so that ties still break the same way everywhere.
const (
	lwwWays    = 4
	lwwBuckets = 1 << 16
)

// lwwStripes serialises the updates of a bucket (a version is two words).
const lwwStripes = 256

type lwwSlot struct {
	tag  uint32 // the key hash's high 32 bits, never 0; 0: empty
	node uint32 // the version's node order, low 32 bits
	ts   hlc.Timestamp
}

// less orders entries as hlc.Version.Less orders versions.
func (s *lwwSlot) less(ts hlc.Timestamp, node uint32) bool {
	if s.ts != ts {
		return s.ts < ts
	}
	return s.node < node
}

type lwwTable struct {
	seed    maphash.Seed
	locks   [lwwStripes]sync.Mutex
	buckets [][lwwWays]lwwSlot
}

func newLWWTable() *lwwTable {
	t := &lwwTable{seed: maphash.MakeSeed(), buckets: make([][lwwWays]lwwSlot, lwwBuckets)}
	// Touch every page now: the kernel maps the table's pages on their
	// first write, and a page fault costs microseconds in a virtual
	// machine, which the first writes of every key would pay on the
	// request path instead (seen as lwwTable.record in CPU profiles).
	const perPage = 4096 / int(unsafe.Sizeof(t.buckets[0]))
	for i := 0; i < len(t.buckets); i += max(perPage, 1) {
		t.buckets[i][0].node = 0
	}
	return t
}

// bucket returns key's tag, its bucket and the bucket's lock.
func (t *lwwTable) bucket(key []byte) (uint32, *[lwwWays]lwwSlot, *sync.Mutex) {
	h := maphash.Bytes(t.seed, key)
	i := h & (lwwBuckets - 1)
	return uint32(h>>32) | 1, &t.buckets[i], &t.locks[i%lwwStripes]
}

// find returns the entry of tag in b, or nil.
func find(b *[lwwWays]lwwSlot, tag uint32) *lwwSlot {
	for i := range b {
		if b[i].tag == tag {
			return &b[i]
		}
	}
	return nil
}

// newer reports whether v is newer than the version recorded for key (true
// when none is: the table does not know what the datastore holds).
func (t *lwwTable) newer(key []byte, v hlc.Version) bool {
	tag, b, mu := t.bucket(key)
	mu.Lock()
	defer mu.Unlock()
	s := find(b, tag)
	return s == nil || s.less(v.TS, uint32(v.Node))
}

// record notes that the write of key at version v was applied; an entry
// never moves back to an older version. A key not in the table takes an
// empty entry of its bucket, or the entry with the oldest version.
func (t *lwwTable) record(key []byte, v hlc.Version) {
	tag, b, mu := t.bucket(key)
	node := uint32(v.Node)
	mu.Lock()
	defer mu.Unlock()
	if s := find(b, tag); s != nil {
		if s.less(v.TS, node) {
			s.ts, s.node = v.TS, node
		}
		return
	}
	victim := &b[0]
	for i := range b {
		if b[i].tag == 0 {
			victim = &b[i]
			break
		}
		if b[i].less(victim.ts, victim.node) {
			victim = &b[i]
		}
	}
	victim.tag, victim.ts, victim.node = tag, v.TS, node
}

// lookup returns the version recorded for key (tests, /info).
// The version's node order is its low 32 bits.
func (t *lwwTable) lookup(key []byte) (hlc.Version, bool) {
	tag, b, mu := t.bucket(key)
	mu.Lock()
	defer mu.Unlock()
	if s := find(b, tag); s != nil {
		return hlc.Version{TS: s.ts, Node: uint64(s.node)}, true
	}
	return hlc.Version{}, false
}

// hintSuperseded is the reply to a replayed hint the guard refused; the
// replayer counts it as delivered.
const hintSuperseded = "HINT superseded: this replica applied a newer write of the key"

// toDatastore hands r, a request for this node's datastore, to it, unless r
// is a replayed hint that a write recorded for its key supersedes (as new
// or newer: the hint's own write, applied after all, included): r is then
// completed with hintSuperseded.
func (c *cluster) toDatastore(r *msg.Request, hint uint) {
	if r.Replay && r.Key != nil && !c.lww.newer(r.Key, stampOf(r)) {
		c.hintsSuperseded.Add(1)
		c.fail(r, hintSuperseded)
		return
	}
	c.local.Send(r, hint)
}

// applied records r, a stamped write this node's datastore answered
// without an error, in the table.
func (c *cluster) applied(r *msg.Request) {
	if r.Stamp != 0 && r.Key != nil && r.Err == nil && !replyIsError(r.Reply) {
		c.lww.record(r.Key, stampOf(r))
	}
}

func stampOf(r *msg.Request) hlc.Version {
	return hlc.Version{TS: hlc.Timestamp(r.Stamp), Node: r.StampNode}
}
