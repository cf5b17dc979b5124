package node

import "time"

// SetWarmupTiming shortens the warm-up's backoff and wait for a source for
// a test, restoring them when it ends.
func SetWarmupTiming(cleanup func(func()), backoff, sourceWait time.Duration) {
	minB, maxB, wait := warmupBackoffMin, warmupBackoffMax, warmupSourceWait
	warmupBackoffMin, warmupBackoffMax, warmupSourceWait = backoff, backoff, sourceWait
	cleanup(func() { warmupBackoffMin, warmupBackoffMax, warmupSourceWait = minB, maxB, wait })
}
