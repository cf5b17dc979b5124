package proxy

import (
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
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
// way (msg.Request.Replay) when they arrive late (lateCopy): one held in a
// dead TCP connection while the link between the datacenters was cut is
// delivered when it comes back, after the newer writes made there
// meanwhile. Copies within a datacenter, and copies from another one that
// arrive on time, are applied as they come: their replies count for the
// client's consistency level, and two writes of one key racing each other
// are ordered by whichever reaches each replica last, as upstream does.
//
// An entry is recorded once the datastore answered the write without an
// error (applied: for a copy the node serves for a peer, when its reply is
// written back, dnode.Completer; for its own copies, when the fan-out gets
// the reply), so a write the datastore refused can still be replayed. The
// table knows nothing of the keys it lost: after a restart, or when newer
// writes of other keys took their entries, a replayed hint is applied
// whatever the datastore holds.
//
// Two stages. Every write of every replica records itself, and the table
// below is far larger than the processor's caches: a random entry costs a
// cache and TLB miss per write (a fifth of a replica's CPU in make bench's
// three-rack cell), while it is read only when a hint or a late copy from
// another datacenter arrives, which a healthy cluster never sends. So
// writes are first appended to a log, a ring of the lwwLogLen most recent
// (key hash, version) records written in sequence, which costs a store to
// a cache line the previous write has just loaded; the table is built from
// the log (fold) only when the first guarded request of an episode needs
// it, and while it is in use (guarded) writes go to the table directly.
// The table is left after lwwQuiet without a guarded request. The log and
// the table hold as many writes (2^18) and both keep the newest, so the
// guard knows what the always-built table would have known, apart from
// writes whose log record was not yet complete when the fold ran and did
// not complete within lwwFoldWait (a writer preempted in between).

// The table holds lwwWays * lwwBuckets entries (2^18): the writes of the
// last seconds to minutes of a busy node. A hint replays within
// max_hint_window, but the keys that matter are those written on both
// sides of a partition, which are the recent ones. A key's hash picks a
// bucket of lwwWays entries, one 64-byte cache line; a new key takes an
// empty entry or the one with the oldest version, so the newest writes
// stay known (a direct-mapped table would lose a key to any other key
// hashed to its slot). An entry keeps 32 bits of the key's hash besides
// those that chose its bucket, and the low 32 bits of the version's node
// order, which every node truncates alike, so that ties still break the
// same way everywhere.
const (
	lwwWays    = 4
	lwwBuckets = 1 << 16
	lwwLogLen  = lwwWays * lwwBuckets
)

// lwwStripes serialises the updates of a bucket (a version is two words).
const lwwStripes = 256

// lwwQuiet is how long the table stays in use after the last guarded
// request; lwwFoldWait how long a fold waits for log records being written.
var (
	lwwQuiet    = time.Minute
	lwwFoldWait = 10 * time.Millisecond
)

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

// lwwRecord is one write in the log: the key's hash, the version's stamp,
// and meta, the version's node order (high 32 bits) and the low 32 bits of
// the record's position, stored last, so that a fold can tell a complete
// record of the lap it reads from one being written or from an older lap.
type lwwRecord struct{ hash, ts, meta atomic.Uint64 }

type lwwTable struct {
	seed maphash.Seed

	// pos counts the writes ever recorded: the next record's position
	pos atomic.Uint64
	_   [56]byte // pos is written by every write; guarded read by every one
	// guarded: the table is in use and writes go to it (lwwLookups, the
	// fold and the exit serialised by foldMu)
	guarded atomic.Bool
	lastUse atomic.Int64 // unix nanoseconds of the last guarded request
	foldMu  sync.Mutex
	exit    *time.Timer // leaves the table after lwwQuiet (under foldMu)
	closed  bool
	folds   atomic.Uint64

	log     []lwwRecord
	locks   [lwwStripes]sync.Mutex
	buckets [][lwwWays]lwwSlot
}

func newLWWTable() *lwwTable {
	t := &lwwTable{seed: maphash.MakeSeed(), buckets: make([][lwwWays]lwwSlot, lwwBuckets), log: make([]lwwRecord, lwwLogLen)}
	// Touch every page now: the kernel maps pages on their first write, and
	// a page fault costs microseconds in a virtual machine, which the first
	// writes would pay on the request path instead.
	const perPage = 4096 / int(unsafe.Sizeof(t.buckets[0]))
	for i := 0; i < len(t.buckets); i += max(perPage, 1) {
		t.buckets[i][0].node = 0
	}
	const recPerPage = 4096 / int(unsafe.Sizeof(t.log[0]))
	for i := 0; i < len(t.log); i += max(recPerPage, 1) {
		t.log[i].meta.Store(0)
	}
	return t
}

// stop cancels the pending exit (the cluster is closing).
func (t *lwwTable) stop() {
	t.foldMu.Lock()
	defer t.foldMu.Unlock()
	t.closed = true
	if t.exit != nil {
		t.exit.Stop()
	}
}

// bucketOf returns the tag, bucket and lock of a key hash.
func (t *lwwTable) bucketOf(h uint64) (uint32, *[lwwWays]lwwSlot, *sync.Mutex) {
	i := h & (lwwBuckets - 1)
	return uint32(h>>32) | 1, &t.buckets[i], &t.locks[i%lwwStripes]
}

// bucket returns key's tag, its bucket and the bucket's lock.
func (t *lwwTable) bucket(key []byte) (uint32, *[lwwWays]lwwSlot, *sync.Mutex) {
	return t.bucketOf(maphash.Bytes(t.seed, key))
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
	t.use()
	tag, b, mu := t.bucket(key)
	mu.Lock()
	defer mu.Unlock()
	s := find(b, tag)
	return s == nil || s.less(v.TS, uint32(v.Node))
}

// record notes that the write of key at version v was applied.
//
// The position is taken before guarded is read, and a fold sets guarded
// before it reads the position (both sequentially consistent): a write
// whose position the fold reads saw guarded unset and writes the log, or
// saw it set and indexes itself; a later write sees it set.
func (t *lwwTable) record(key []byte, v hlc.Version) {
	h := maphash.Bytes(t.seed, key)
	p := t.pos.Add(1)
	if t.guarded.Load() {
		t.index(h, v.TS, uint32(v.Node))
		return
	}
	rec := &t.log[p&(lwwLogLen-1)]
	rec.hash.Store(h)
	rec.ts.Store(uint64(v.TS))
	rec.meta.Store(uint64(uint32(v.Node))<<32 | uint64(uint32(p)))
}

// index records a version in the table; an entry never moves back to an
// older version. A key not in the table takes an empty entry of its bucket,
// or the entry with the oldest version.
func (t *lwwTable) index(h uint64, ts hlc.Timestamp, node uint32) {
	tag, b, mu := t.bucketOf(h)
	mu.Lock()
	defer mu.Unlock()
	if s := find(b, tag); s != nil {
		if s.less(ts, node) {
			s.ts, s.node = ts, node
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
	victim.tag, victim.ts, victim.node = tag, ts, node
}

// use notes a guarded request and puts the table in use, folding the log
// into it first when it was not.
func (t *lwwTable) use() {
	t.lastUse.Store(time.Now().UnixNano())
	if t.guarded.Load() {
		return
	}
	t.foldMu.Lock()
	defer t.foldMu.Unlock()
	if t.guarded.Load() {
		return
	}
	t.guarded.Store(true)
	t.fold(t.pos.Load())
	t.folds.Add(1)
	if !t.closed {
		t.exit = time.AfterFunc(lwwQuiet, t.leave)
	}
}

// fold indexes the log's records up to position end, oldest first; a
// record not complete yet is waited for at most lwwFoldWait.
func (t *lwwTable) fold(end uint64) {
	var pending []uint64
	first := uint64(1)
	if end > lwwLogLen {
		first = end - lwwLogLen + 1
	}
	take := func(p uint64) bool {
		rec := &t.log[p&(lwwLogLen-1)]
		meta := rec.meta.Load()
		if uint32(meta) != uint32(p) {
			return false
		}
		h, ts := rec.hash.Load(), rec.ts.Load()
		if rec.meta.Load() != meta {
			return false // overwritten meanwhile: a newer lap's record
		}
		t.index(h, hlc.Timestamp(ts), uint32(meta>>32))
		return true
	}
	for p := first; p <= end; p++ {
		if !take(p) {
			pending = append(pending, p)
		}
	}
	// the records still missing are being written, belong to writes that
	// indexed themselves (they saw guarded), or to an older lap (a slot
	// written before this node's first lap ends holds position 0)
	deadline := time.Now().Add(lwwFoldWait)
	for len(pending) > 0 && time.Now().Before(deadline) {
		runtime.Gosched()
		pending = slices.DeleteFunc(pending, take)
	}
}

// leave takes the table out of use once lwwQuiet passed without a guarded
// request; writes go back to the log.
func (t *lwwTable) leave() {
	t.foldMu.Lock()
	defer t.foldMu.Unlock()
	if t.closed {
		return
	}
	if idle := time.Since(time.Unix(0, t.lastUse.Load())); idle < lwwQuiet {
		t.exit = time.AfterFunc(lwwQuiet-idle, t.leave)
		return
	}
	t.guarded.Store(false)
	t.exit = nil
}

// lookup returns the version recorded for key (tests, /info): it puts the
// table in use as a guarded request does. The version's node order is its
// low 32 bits.
func (t *lwwTable) lookup(key []byte) (hlc.Version, bool) {
	t.use()
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

// lateAfter is how far behind this node's clock a copy from another
// datacenter's coordinator may be stamped and still count as on time. A
// copy that timed out there is hinted after the cross-datacenter peer
// timeout (the datastore timeout plus 5 s, peerTimeout), so its replay is
// always late and guarded, as is any copy a cut link held back.
const lateAfter = time.Second

// lateCopy reports whether r, a stamped copy from another datacenter,
// arrived late and must pass the guard. The clock has observed r's stamp.
func (c *cluster) lateCopy(r *msg.Request) bool {
	return r.Stamp != 0 && hlc.Timestamp(r.Stamp).Millis() < c.clock.Last().Millis()-lateAfter.Milliseconds()
}

func stampOf(r *msg.Request) hlc.Version {
	return hlc.Version{TS: hlc.Timestamp(r.Stamp), Node: r.StampNode}
}
