package antientropy

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

type item struct {
	value  Digest
	expiry int64
}

func valueOf(s string) Digest {
	h := sha256.Sum256([]byte(s))
	return Digest(h[:16])
}

func treeOf(data map[string]item, depth int) *Tree {
	b := NewBuilder(depth)
	for k, it := range data {
		b.Add([]byte(k), it.value, it.expiry)
	}
	return b.Tree()
}

// diffAll is what a repair compares: every differing leaf's differing key
// hashes.
func diffAll(trees []*Tree) []uint64 {
	leaves, _ := DiffLeaves(trees)
	var out []uint64
	for _, l := range leaves {
		out = append(out, DiffKeys(trees, l)...)
	}
	return out
}

// TestTreesFindExactlyTheInjectedDifferences builds three replicas of random
// data, injects differences of every kind into some (a changed value, a
// changed expiry bucket, a key missing, a key only one replica has) and
// checks the comparison reports exactly those keys, at several depths.
func TestTreesFindExactlyTheInjectedDifferences(t *testing.T) {
	for _, depth := range []int{0, 3, 8, 12} {
		t.Run(fmt.Sprint("depth ", depth), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(depth), 7))
			base := map[string]item{}
			for i := range 5000 {
				exp := NoExpiry
				if i%3 == 0 {
					exp = int64(rng.IntN(1000))
				}
				base[fmt.Sprint("key:", i)] = item{valueOf(fmt.Sprint("v", rng.Uint64())), exp}
			}
			reps := []map[string]item{{}, {}, {}}
			for k, it := range base {
				for _, r := range reps {
					r[k] = it
				}
			}
			var want []uint64
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range base {
					if !yield(k) {
						return
					}
				}
			})
			for n, k := range keys[:200] {
				r := reps[n%3]
				switch n % 4 {
				case 0:
					r[k] = item{valueOf("stale"), base[k].expiry}
				case 1:
					r[k] = item{base[k].value, base[k].expiry + 1}
				case 2:
					delete(r, k)
				case 3:
					k = "only:" + k
					r[k] = item{valueOf("x"), NoExpiry}
				}
				want = append(want, KeyHash([]byte(k)))
			}
			slices.Sort(want)
			trees := []*Tree{treeOf(reps[0], depth), treeOf(reps[1], depth), treeOf(reps[2], depth)}
			got := diffAll(trees)
			slices.Sort(got)
			require.Equal(t, want, got)
		})
	}
}

func TestEqualReplicasHaveEqualRootsAndNoDifferingLeaf(t *testing.T) {
	data := map[string]item{}
	for i := range 1000 {
		data[fmt.Sprint("k", i)] = item{valueOf(fmt.Sprint(i)), NoExpiry}
	}
	a, b := treeOf(data, 10), treeOf(data, 10)
	require.Equal(t, a.Root(), b.Root())
	require.Equal(t, 1000, a.Len())
	leaves, compared := DiffLeaves([]*Tree{a, b})
	require.Empty(t, leaves)
	require.Equal(t, 1, compared, "equal roots: nothing below is compared")
}

// TestDiffLeavesDescendsOnlyWhereTreesDiffer: one changed key costs one
// root-to-leaf path, two nodes per level.
func TestDiffLeavesDescendsOnlyWhereTreesDiffer(t *testing.T) {
	data := map[string]item{}
	for i := range 4000 {
		data[fmt.Sprint("k", i)] = item{valueOf(fmt.Sprint(i)), NoExpiry}
	}
	a := treeOf(data, 10)
	data["k17"] = item{valueOf("changed"), NoExpiry}
	b := treeOf(data, 10)
	leaves, compared := DiffLeaves([]*Tree{a, b})
	require.Equal(t, []int{a.LeafOf(KeyHash([]byte("k17")))}, leaves)
	require.Equal(t, 1+2*10, compared)
	require.Equal(t, []uint64{KeyHash([]byte("k17"))}, DiffKeys([]*Tree{a, b}, leaves[0]))
}

// SCAN may return a key twice; the entry added last stands, once.
func TestBuilderKeepsTheLastEntryOfARepeatedKey(t *testing.T) {
	b := NewBuilder(4)
	b.Add([]byte("k"), valueOf("old"), NoExpiry)
	b.Add([]byte("other"), valueOf("o"), NoExpiry)
	b.Add([]byte("k"), valueOf("new"), NoExpiry)
	got := b.Tree()
	want := treeOf(map[string]item{"k": {valueOf("new"), NoExpiry}, "other": {valueOf("o"), NoExpiry}}, 4)
	require.Equal(t, 2, got.Len())
	require.Equal(t, want.Root(), got.Root())
}

func TestEmptyTreesAgree(t *testing.T) {
	a, b := NewBuilder(6).Tree(), NewBuilder(6).Tree()
	leaves, _ := DiffLeaves([]*Tree{a, b})
	require.Empty(t, leaves)
	c := treeOf(map[string]item{"x": {valueOf("1"), NoExpiry}}, 6)
	require.Equal(t, []uint64{KeyHash([]byte("x"))}, diffAll([]*Tree{a, c}))
}

// BenchmarkTreeBuild measures the in-memory part of a tree build: entry
// digests, sorting and the Merkle digests (keys/s). The digest pass against
// Redis is BenchmarkDigestPassRedis.
func BenchmarkTreeBuild(b *testing.B) {
	const n = 100000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user:%d", i)
	}
	v := valueOf("value")
	b.ResetTimer()
	for range b.N {
		bl := NewBuilder(14)
		for _, k := range keys {
			bl.Add(k, v, NoExpiry)
		}
		_ = bl.Tree()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
