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
	// far more keys than one bucket holds: every key of the newest
	// lwwWays*lwwBuckets/16 writes (half an entry per bucket on average)
	// is still known
	n := lwwWays * lwwBuckets * 2
	key := func(i int) []byte { return []byte("k" + strconv.Itoa(i)) }
	for i := range n {
		tb.record(key(i), hlc.Version{TS: hlc.Make(int64(1000+i), 0)})
	}
	lost := 0
	for i := n - lwwWays*lwwBuckets/16; i < n; i++ {
		if _, ok := tb.lookup(key(i)); !ok {
			lost++
		}
	}
	require.Zero(t, lost, "recent keys evicted")
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
