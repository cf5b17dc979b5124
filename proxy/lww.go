package proxy

import (
	"hash/maphash"
	"sync"

	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/dynomite-go/dynomite/proxy/msg"
)

// The last-writer-wins guard of replayed hints (proxy/hints, "Replay never
// overwrites newer data"). Every node keeps, for the keys most recently
// written through it to its own datastore (as coordinator or as replica),
// the version of the newest write applied: a fixed table of lwwSlots
// indexed by the key's hash, each slot holding one key's hash and version.
// A replayed hint whose version is not newer than its key's entry is
// answered without reaching the datastore (hintSuperseded), so a write made
// meanwhile on the other side of a partition is not undone, and a hint
// whose copy had arrived after all (a timeout after the write was applied)
// is not applied twice.
//
// The table knows nothing of the keys it lost: after a restart, or when
// another key took the slot, a replayed hint is applied whatever the
// datastore holds. Entries are recorded when the write is handed to the
// datastore, before its reply: a write the datastore then refuses still
// counts as applied here.

// lwwSlots is the table's size: 2^18 keys (6 MiB), the writes of the last
// seconds to minutes of a busy node. A hint replays within max_hint_window,
// but the keys that matter are those written on both sides of a partition,
// which are the recent ones.
const lwwSlots = 1 << 18

// lwwStripes serialises the updates of a slot (a version is two words).
const lwwStripes = 256

type lwwSlot struct {
	key     uint64 // the key's hash; 0: empty
	version hlc.Version
}

type lwwTable struct {
	seed  maphash.Seed
	locks [lwwStripes]sync.Mutex
	slots []lwwSlot
}

func newLWWTable() *lwwTable {
	return &lwwTable{seed: maphash.MakeSeed(), slots: make([]lwwSlot, lwwSlots)}
}

// admit records the write of key at version v and reports whether it may be
// applied: always for a live write; for a replayed hint (replay) only when v
// is newer than the version recorded for key.
func (t *lwwTable) admit(key []byte, v hlc.Version, replay bool) bool {
	h := maphash.Bytes(t.seed, key) | 1 // never 0, the empty slot
	i := h & (lwwSlots - 1)
	mu := &t.locks[i%lwwStripes]
	mu.Lock()
	defer mu.Unlock()
	s := &t.slots[i]
	if s.key == h {
		if !s.version.Less(v) {
			// the replica holds this write or a newer one
			return !replay
		}
	}
	s.key, s.version = h, v
	return true
}

// lookup returns the version recorded for key (tests, /info).
func (t *lwwTable) lookup(key []byte) (hlc.Version, bool) {
	h := maphash.Bytes(t.seed, key) | 1
	i := h & (lwwSlots - 1)
	mu := &t.locks[i%lwwStripes]
	mu.Lock()
	defer mu.Unlock()
	if s := t.slots[i]; s.key == h {
		return s.version, true
	}
	return hlc.Version{}, false
}

// hintSuperseded is the reply to a replayed hint the guard refused; the
// replayer counts it as delivered.
const hintSuperseded = "HINT superseded: this replica applied a newer write of the key"

// toDatastore hands r, a request for this node's datastore, to it, unless r
// is a replayed hint that a newer write of its key supersedes: r is then
// completed with hintSuperseded. Stamped writes are recorded in the table.
func (c *cluster) toDatastore(r *msg.Request, hint uint) {
	if r.Stamp != 0 && r.Key != nil &&
		!c.lww.admit(r.Key, hlc.Version{TS: hlc.Timestamp(r.Stamp), Node: r.StampNode}, r.Replay) {
		c.hintsSuperseded.Add(1)
		c.fail(r, hintSuperseded)
		return
	}
	c.local.Send(r, hint)
}
