package proxy

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/stretchr/testify/require"
)

func TestLWWTableKnowsTheNewestAppliedVersionPerKey(t *testing.T) {
	tb := newLWWTable()
	v := func(ms int64, node uint64) hlc.Version { return hlc.Version{TS: hlc.Make(ms, 0), Node: node} }
	k := []byte("user:1")

	require.True(t, tb.newer(k, v(100, 1)), "an unknown key: a replay applies")
	tb.record(k, v(200, 1))
	require.False(t, tb.newer(k, v(150, 9)), "an older replay is refused")
	require.False(t, tb.newer(k, v(200, 1)), "the same write, applied already, is refused")
	require.True(t, tb.newer(k, v(200, 2)), "equal stamps: the higher node order wins")
	require.True(t, tb.newer(k, v(201, 0)))
	tb.record(k, v(50, 1))
	got, ok := tb.lookup(k)
	require.True(t, ok)
	require.Equal(t, v(200, 1), got, "an older write does not move the entry back")
	_, ok = tb.lookup([]byte("user:2"))
	require.False(t, ok)
}

// keyLost reports whether key's absence (or older entry) in the table is
// explained by its bucket: lwwWays entries, each newer than v.
func keyLost(tb *lwwTable, key []byte, v hlc.Version) bool {
	_, b, mu := tb.bucket(key)
	mu.Lock()
	defer mu.Unlock()
	for i := range b {
		newer := !b[i].less(v.TS, uint32(v.Node)) && (b[i].ts != v.TS || b[i].node != uint32(v.Node))
		if b[i].tag == 0 || !newer {
			return false
		}
	}
	return true
}

func TestLWWTableKeepsTheNewestKeysOfABucket(t *testing.T) {
	tb := newLWWTable()
	t.Cleanup(tb.stop)
	tb.use() // in use: writes go to the table itself
	// far more keys than the table holds (eight per bucket on average);
	// each bucket must still know the lwwWays newest keys written into it
	// (which keys share a bucket depends on the table's random seed, so
	// the check follows the buckets, not a fixed share of recent keys)
	n := lwwWays * lwwBuckets * 2
	key := func(i int) []byte { return []byte("k" + strconv.Itoa(i)) }
	written := map[*[lwwWays]lwwSlot][]int{} // per bucket, in write order
	for i := range n {
		tb.record(key(i), hlc.Version{TS: hlc.Make(int64(1000+i), 0)})
		_, b, _ := tb.bucket(key(i))
		written[b] = append(written[b], i)
	}
	lost, checked := 0, 0
	for _, keys := range written {
		for _, i := range keys[max(0, len(keys)-lwwWays):] {
			checked++
			if v, ok := tb.lookup(key(i)); !ok || v.TS != hlc.Make(int64(1000+i), 0) {
				lost++
			}
		}
	}
	require.Greater(t, checked, lwwBuckets, "most buckets hold keys")
	require.Zero(t, lost, "a bucket evicted one of its %d newest keys", lwwWays)
}

// Out of use, writes go to the log; the first guarded request folds the log
// into the table, which then knows what it would have known had every
// write gone to it: each bucket's newest keys among the last lwwLogLen
// writes.
func TestLWWLogIsFoldedIntoTheTableOnFirstUse(t *testing.T) {
	tb := newLWWTable()
	t.Cleanup(tb.stop)
	n := lwwLogLen + lwwLogLen/2 // the first half lap is overwritten
	key := func(i int) []byte { return []byte("k" + strconv.Itoa(i)) }
	written := map[*[lwwWays]lwwSlot][]int{}
	for i := range n {
		tb.record(key(i), hlc.Version{TS: hlc.Make(int64(1000+i), 0), Node: uint64(i % 7)})
		if i >= n-lwwLogLen {
			_, b, _ := tb.bucket(key(i))
			written[b] = append(written[b], i)
		}
	}
	require.False(t, tb.guarded.Load(), "no guarded request yet: the table is not in use")
	require.Zero(t, tb.folds.Load())
	lost, checked := 0, 0
	for _, keys := range written {
		for _, i := range keys[max(0, len(keys)-lwwWays):] {
			checked++
			want := hlc.Version{TS: hlc.Make(int64(1000+i), 0), Node: uint64(i % 7)}
			if v, ok := tb.lookup(key(i)); !ok || v != want {
				lost++
			}
		}
	}
	require.Equal(t, uint64(1), tb.folds.Load(), "one fold for the episode")
	require.Greater(t, checked, lwwBuckets/2, "most buckets hold keys")
	require.Zero(t, lost, "a bucket lost one of its %d newest keys of the log", lwwWays)
	require.False(t, tb.newer(key(n-1), hlc.Version{TS: hlc.Make(int64(1000+n-2), 0)}), "an older replay of the last write is refused")
}

// The table is left after lwwQuiet without a guarded request; the writes
// made meanwhile are in the log, and the next episode folds them in.
func TestLWWTableLeavesUseWhenQuietAndFoldsAgain(t *testing.T) {
	old := lwwQuiet
	lwwQuiet = 50 * time.Millisecond
	t.Cleanup(func() { lwwQuiet = old })
	tb := newLWWTable()
	t.Cleanup(tb.stop)
	v := func(ms int64) hlc.Version { return hlc.Version{TS: hlc.Make(ms, 0), Node: 1} }
	tb.record([]byte("a"), v(100))
	require.False(t, tb.newer([]byte("a"), v(90)))
	require.True(t, tb.guarded.Load())
	tb.record([]byte("b"), v(110)) // indexed directly
	require.Eventually(t, func() bool { return !tb.guarded.Load() }, 10*time.Second, 5*time.Millisecond, "never left use")
	tb.record([]byte("c"), v(120)) // to the log
	require.False(t, tb.newer([]byte("c"), v(115)), "the write made while out of use is known after the next fold")
	require.False(t, tb.newer([]byte("b"), v(105)), "what the table knew stays")
	require.True(t, tb.newer([]byte("c"), v(121)))
	require.Equal(t, uint64(2), tb.folds.Load())
}

// Writes racing the fold that starts an episode are all known after it:
// each writes the log or indexes itself (run with -race).
func TestLWWWritesRacingTheFoldAreKept(t *testing.T) {
	tb := newLWWTable()
	t.Cleanup(tb.stop)
	const writers, each = 4, 2000
	key := func(w, i int) []byte { return []byte("w" + strconv.Itoa(w) + ":" + strconv.Itoa(i)) }
	ver := func(w, i int) hlc.Version { return hlc.Version{TS: hlc.Make(int64(10+i), uint16(w)), Node: uint64(w)} }
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				tb.record(key(w, i), ver(w, i))
			}
		}()
	}
	close(start)
	tb.use() // the fold runs while the writers write
	wg.Wait()
	for w := range writers {
		for i := range each {
			got, ok := tb.lookup(key(w, i))
			if (!ok || got != ver(w, i)) && !keyLost(tb, key(w, i), ver(w, i)) {
				t.Fatalf("write %d of writer %d: table has %v %v, want %v", i, w, got, ok, ver(w, i))
			}
		}
	}
}

func TestLWWTableDoesNotAllocate(t *testing.T) {
	tb := newLWWTable()
	t.Cleanup(tb.stop)
	k := []byte("key")
	n := uint64(0)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		n++
		tb.record(k, hlc.Version{TS: hlc.Timestamp(n), Node: 1}) // to the log
	}))
	require.Zero(t, testing.AllocsPerRun(100, func() {
		n++
		tb.record(k, hlc.Version{TS: hlc.Timestamp(n), Node: 1})
		tb.newer(k, hlc.Version{TS: hlc.Timestamp(n), Node: 2})
	}))
}

func TestNodeOrderIsFixedAndDiffersBetweenPlaces(t *testing.T) {
	a := nodeOrder("dc1", "r1", 0)
	require.Equal(t, a, nodeOrder("dc1", "r1", 0))
	require.NotEqual(t, a, nodeOrder("dc1", "r2", 0))
	require.NotEqual(t, a, nodeOrder("dc2", "r1", 0))
	require.NotEqual(t, a, nodeOrder("dc1", "r1", 1))
	// the separators keep "dc1"+"r1" apart from "dc"+"1r1"
	require.NotEqual(t, a, nodeOrder("dc", "1r1", 0))
}
