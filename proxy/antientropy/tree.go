package antientropy

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"slices"
)

// Digest is a truncated SHA-256: 128 bits are plenty to tell two values,
// or two buckets, apart, and halve the memory of a tree's entries.
type Digest [16]byte

// NoExpiry is the expiry of a key that never expires.
const NoExpiry int64 = -1

// KeyHash places a key in a tree: FNV-1a of the key, mixed by the
// splitmix64 finalizer so that its top bits (the leaf) are as uniform as its
// low ones. Every replica's tree uses the same function, so a key falls in
// the same leaf everywhere. It is not the ring's hash: keys of one range
// spread over all the leaves of the range's tree.
func KeyHash(key []byte) uint64 {
	h := fnv.New64a()
	h.Write(key)
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Entry is one key in a tree: its KeyHash and the digest of (key, value
// digest, expiry bucket).
type Entry struct {
	Hash   uint64
	Digest Digest
}

// EntryDigest is what a key contributes to its leaf. The expiry is given as
// a bucket (absolute expiry divided by the bucket width, or NoExpiry), so
// that the same key read a few seconds apart on two replicas digests the
// same although its PTTL went down meanwhile.
func EntryDigest(key []byte, value Digest, expiryBucket int64) Digest {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(key)))
	h.Write(n[:])
	h.Write(key)
	h.Write(value[:])
	binary.BigEndian.PutUint64(n[:], uint64(expiryBucket))
	h.Write(n[:])
	var d Digest
	copy(d[:], h.Sum(nil))
	return d
}

// Tree is a Merkle tree over the keys of one token range of one replica.
// Its 2^Depth leaves bucket the keys by the top Depth bits of their KeyHash;
// a leaf's digest covers its entries in KeyHash order, and an inner node's
// covers its two children. Two replicas hold the same keys, values and
// expiries in the range exactly when (barring a hash collision) their roots
// are equal, and a difference is found by descending only where children
// differ.
type Tree struct {
	depth int
	// nodes is the tree in heap order: nodes[0] the root, nodes[i]'s
	// children 2i+1 and 2i+2, the leaves last.
	nodes []Digest
	// entries are sorted by Hash; bounds[l] is where leaf l's start.
	entries []Entry
	bounds  []int
}

// Builder collects a replica's entries for one Tree. It is not safe for
// concurrent use.
type Builder struct {
	depth   int
	entries []Entry
}

// MaxDepth bounds a tree's depth: 2^16 leaves of 16 bytes, 1 MiB of
// digests per tree.
const MaxDepth = 16

// NewBuilder returns a builder of a tree with 2^depth leaves (depth is
// clamped to 0..MaxDepth).
func NewBuilder(depth int) *Builder {
	return &Builder{depth: min(max(depth, 0), MaxDepth)}
}

// Add records a key. A key added twice (SCAN may return a key more than
// once) keeps the entry added last.
func (b *Builder) Add(key []byte, value Digest, expiryBucket int64) {
	b.entries = append(b.entries, Entry{Hash: KeyHash(key), Digest: EntryDigest(key, value, expiryBucket)})
}

// Len is the number of entries added so far (duplicates included).
func (b *Builder) Len() int { return len(b.entries) }

// Tree sorts the entries, drops duplicates and computes the digests. The
// builder must not be used afterwards.
func (b *Builder) Tree() *Tree {
	es := b.entries
	b.entries = nil
	// A stable sort keeps the order of a key's repeated entries, so the
	// last one can be kept: it is the latest read of the key.
	slices.SortStableFunc(es, func(x, y Entry) int {
		switch {
		case x.Hash < y.Hash:
			return -1
		case x.Hash > y.Hash:
			return 1
		}
		return 0
	})
	out := es[:0]
	for i, e := range es {
		if i+1 < len(es) && es[i+1].Hash == e.Hash {
			continue
		}
		out = append(out, e)
	}
	t := &Tree{depth: b.depth, entries: out}
	leaves := 1 << t.depth
	t.bounds = make([]int, leaves+1)
	for l := range leaves {
		t.bounds[l] = t.leafStart(l)
	}
	t.bounds[leaves] = len(out)
	t.nodes = make([]Digest, 2*leaves-1)
	first := leaves - 1
	var buf [8 + len(Digest{})]byte
	for l := range leaves {
		h := sha256.New()
		for _, e := range t.Leaf(l) {
			binary.BigEndian.PutUint64(buf[:8], e.Hash)
			copy(buf[8:], e.Digest[:])
			h.Write(buf[:])
		}
		copy(t.nodes[first+l][:], h.Sum(nil))
	}
	for i := first - 1; i >= 0; i-- {
		h := sha256.New()
		h.Write(t.nodes[2*i+1][:])
		h.Write(t.nodes[2*i+2][:])
		copy(t.nodes[i][:], h.Sum(nil))
	}
	return t
}

// leafStart is the index of the first entry whose hash falls in leaf l or
// a later one.
func (t *Tree) leafStart(l int) int {
	if t.depth == 0 {
		return 0
	}
	lo := uint64(l) << (64 - t.depth)
	i, _ := slices.BinarySearchFunc(t.entries, lo, func(e Entry, h uint64) int {
		switch {
		case e.Hash < h:
			return -1
		case e.Hash > h:
			return 1
		}
		return 0
	})
	return i
}

// Depth is the tree's depth (2^Depth leaves).
func (t *Tree) Depth() int { return t.depth }

// Root is the digest of the whole range.
func (t *Tree) Root() Digest { return t.nodes[0] }

// Len is the number of distinct keys in the tree.
func (t *Tree) Len() int { return len(t.entries) }

// Leaf returns leaf l's entries, sorted by Hash.
func (t *Tree) Leaf(l int) []Entry { return t.entries[t.bounds[l]:t.bounds[l+1]] }

// LeafOf is the leaf a key hash falls in.
func (t *Tree) LeafOf(hash uint64) int {
	if t.depth == 0 {
		return 0
	}
	return int(hash >> (64 - t.depth))
}

// DiffLeaves compares the trees of one range on several replicas top down
// and returns the leaves where they do not all agree, in ascending order,
// with the number of tree nodes it compared. Every tree must have the same
// depth.
func DiffLeaves(trees []*Tree) (leaves []int, compared int) {
	if len(trees) < 2 {
		return nil, 0
	}
	first := len(trees[0].nodes) / 2 // index of leaf 0
	var walk func(i int)
	walk = func(i int) {
		compared++
		if agree(trees, i) {
			return
		}
		if i >= first {
			leaves = append(leaves, i-first)
			return
		}
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
	return leaves, compared
}

func agree(trees []*Tree, node int) bool {
	for _, t := range trees[1:] {
		if t.nodes[node] != trees[0].nodes[node] {
			return false
		}
	}
	return true
}

// DiffKeys compares leaf l of several replicas' trees entry by entry and
// returns the key hashes that are not present with the same digest on
// every replica, in ascending order.
func DiffKeys(trees []*Tree, l int) []uint64 {
	pos := make([]int, len(trees))
	var out []uint64
	for {
		// The smallest hash not consumed yet on any replica.
		var low uint64
		found := false
		for r, t := range trees {
			leaf := t.Leaf(l)
			if pos[r] < len(leaf) && (!found || leaf[pos[r]].Hash < low) {
				low, found = leaf[pos[r]].Hash, true
			}
		}
		if !found {
			return out
		}
		same, count := true, 0
		var d Digest
		for r, t := range trees {
			leaf := t.Leaf(l)
			if pos[r] < len(leaf) && leaf[pos[r]].Hash == low {
				if count > 0 && leaf[pos[r]].Digest != d {
					same = false
				}
				d = leaf[pos[r]].Digest
				count++
				pos[r]++
			}
		}
		if !same || count != len(trees) {
			out = append(out, low)
		}
	}
}
