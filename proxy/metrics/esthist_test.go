package metrics

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEstimatedHistogramOffsets(t *testing.T) {
	// Cassandra's EstimatedHistogram offsets, which upstream ported.
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 20, 24, 29, 35, 42, 50, 60, 72, 86, 103, 124, 149, 179, 215, 258, 310, 372, 446, 535, 642, 770, 924, 1109}
	require.Equal(t, want, estOffsets[:len(want)])
	require.Len(t, estOffsets, 94)
	for i := 1; i < len(estOffsets); i++ {
		require.Greater(t, estOffsets[i], estOffsets[i-1])
	}
	require.Greater(t, estOffsets[93], uint64(20_000_000), "the last bucket reaches beyond 20 s in µs")
}

func TestEstimatedHistogramSummary(t *testing.T) {
	var h estHist
	require.Equal(t, estSummary{}, h.summary())
	for v := uint64(1); v <= 1000; v++ {
		h.observe(v)
	}
	s := h.summary()
	require.EqualValues(t, 1000, s.count)
	require.EqualValues(t, 1000, s.max)
	require.EqualValues(t, 501, s.mean) // 500.5 rounded
	// the estimate is the upper bound of the bucket holding the percentile
	require.EqualValues(t, 1000, s.p999, "capped by the exact maximum")
	require.EqualValues(t, 1000, s.p99)
	require.EqualValues(t, 1000, s.p95) // 950 lies in (924, 1109]
	h.observe(100)
	require.EqualValues(t, 1000, h.summary().max)

	// beyond the last offset: the overflow bucket reports the maximum
	var big estHist
	big.observe(1 << 40)
	require.EqualValues(t, 1<<40, big.summary().p99)

	h.reset()
	require.Equal(t, estSummary{}, h.summary())
}

func TestEstimatedHistogramConcurrent(t *testing.T) {
	var h estHist
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); i < 1000; i++ {
				h.observe(i)
			}
		}()
	}
	wg.Wait()
	s := h.summary()
	require.EqualValues(t, 8000, s.count)
	require.EqualValues(t, 999, s.max)
}
