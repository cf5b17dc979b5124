package metrics

import (
	"math"
	"sync/atomic"
)

// estBuckets is the number of bucket offsets of upstream's histogram (a
// port of Cassandra's EstimatedHistogram: offsets 1, 2, 3, ... each about
// 1.2 times the previous one).
const estBuckets = 94

// estOffsets are the upper bounds of the buckets: bucket i counts values in
// (estOffsets[i-1], estOffsets[i]]; one more bucket counts larger values.
var estOffsets = func() [estBuckets]uint64 {
	var o [estBuckets]uint64
	last := uint64(1)
	o[0] = last
	for i := 1; i < estBuckets; i++ {
		next := uint64(math.Round(float64(last) * 1.2))
		if next == last {
			next++
		}
		o[i] = next
		last = next
	}
	return o
}()

// estHist is upstream's estimated histogram, safe for concurrent use and
// allocation-free to update. Values are microseconds or bytes.
type estHist struct {
	buckets [estBuckets + 1]atomic.Uint64
	sum     atomic.Uint64
	max     atomic.Uint64
}

func (h *estHist) observe(v uint64) {
	// binary search for the first offset >= v (estBuckets when none)
	lo, hi := 0, estBuckets
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if estOffsets[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	h.buckets[lo].Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

func (h *estHist) reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.sum.Store(0)
	h.max.Store(0)
}

// estSummary is what /info reports of a histogram.
type estSummary struct {
	count, max, mean, p95, p99, p999 uint64
}

// summary estimates the percentiles as upstream does: the upper bound of
// the bucket where the cumulative count reaches ceil(count*p). The mean and
// the maximum are exact.
func (h *estHist) summary() estSummary {
	var b [estBuckets + 1]uint64
	var n uint64
	for i := range h.buckets {
		b[i] = h.buckets[i].Load()
		n += b[i]
	}
	s := estSummary{count: n, max: h.max.Load()}
	if n == 0 {
		return s
	}
	s.mean = (h.sum.Load() + n/2) / n
	pct := func(p float64) uint64 {
		want := uint64(math.Ceil(float64(n) * p))
		var seen uint64
		for i := 0; i < estBuckets; i++ {
			seen += b[i]
			if seen >= want {
				return min(estOffsets[i], max(s.max, 1))
			}
		}
		return s.max // in the overflow bucket
	}
	s.p95, s.p99, s.p999 = pct(0.95), pct(0.99), pct(0.999)
	return s
}
