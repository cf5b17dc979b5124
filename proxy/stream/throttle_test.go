package stream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Time lost between waits (a late timer, the copying itself) is made up
// for, up to throttleCatchUp; after a longer pause the schedule starts
// again from the clock, with no burst.
func TestThrottleCatchesUpWithoutBursting(t *testing.T) {
	clock := newFakeClock()
	ctx := context.Background()
	th := NewThrottle(1000, 0, clock) // a key per millisecond
	require.NoError(t, th.Wait(ctx, 1, 0))
	start := clock.Now()
	// 5ms pass outside the throttle (work, or a sleep that ran late)
	clock.mu.Lock()
	clock.now = clock.now.Add(5 * time.Millisecond)
	clock.mu.Unlock()
	for range 5 { // the 5 keys those 5ms allowed go at once
		require.NoError(t, th.Wait(ctx, 1, 0))
	}
	require.Equal(t, 5*time.Millisecond, clock.Now().Sub(start))
	require.NoError(t, th.Wait(ctx, 1, 0)) // then the schedule holds again
	require.Equal(t, 6*time.Millisecond, clock.Now().Sub(start))

	// a pause longer than throttleCatchUp: no burst after it
	clock.mu.Lock()
	clock.now = clock.now.Add(throttleCatchUp + time.Second)
	clock.mu.Unlock()
	start = clock.Now()
	for range 10 {
		require.NoError(t, th.Wait(ctx, 1, 0))
	}
	require.Equal(t, 9*time.Millisecond, clock.Now().Sub(start))
}
