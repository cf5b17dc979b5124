package proxy

import (
	"strconv"
	"testing"

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

func TestLWWTableKeepsTheNewestKeysOfABucket(t *testing.T) {
	tb := newLWWTable()
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

func TestLWWTableDoesNotAllocate(t *testing.T) {
	tb := newLWWTable()
	k := []byte("key")
	n := uint64(0)
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
