package proxy

import (
	"testing"

	"github.com/dynomite-go/dynomite/proxy/hlc"
	"github.com/stretchr/testify/require"
)

func TestLWWTableAdmitsLiveWritesAlwaysAndReplaysOnlyWhenNewer(t *testing.T) {
	tb := newLWWTable()
	v := func(ms int64, node uint64) hlc.Version { return hlc.Version{TS: hlc.Make(ms, 0), Node: node} }
	k := []byte("user:1")

	require.True(t, tb.admit(k, v(100, 1), true), "an unknown key: the replay applies")
	require.True(t, tb.admit(k, v(200, 1), false), "a live write")
	require.False(t, tb.admit(k, v(150, 9), true), "an older replay is refused")
	require.False(t, tb.admit(k, v(200, 1), true), "the same write replayed again is refused")
	require.True(t, tb.admit(k, v(200, 2), true), "equal stamps: the higher node order wins")
	got, ok := tb.lookup(k)
	require.True(t, ok)
	require.Equal(t, v(200, 2), got)
	require.True(t, tb.admit(k, v(50, 1), false), "a live write is applied even when older...")
	got, _ = tb.lookup(k)
	require.Equal(t, v(200, 2), got, "...but does not move the entry back")
	_, ok = tb.lookup([]byte("user:2"))
	require.False(t, ok)
}

func TestLWWAdmitDoesNotAllocate(t *testing.T) {
	tb := newLWWTable()
	k := []byte("key")
	n := uint64(0)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		n++
		tb.admit(k, hlc.Version{TS: hlc.Timestamp(n), Node: 1}, n%2 == 0)
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
