package node

import "time"

// SetScaleTiming shortens the bound of a move's preparation (and of its
// roll-back) and the backoff of its retries for a test, restoring them
// when it ends.
func SetScaleTiming(cleanup func(func()), wait, backoff time.Duration) {
	w, minB, maxB := scaleWait, scaleBackoffMin, scaleBackoffMax
	scaleWait, scaleBackoffMin, scaleBackoffMax = wait, backoff, backoff
	cleanup(func() { scaleWait, scaleBackoffMin, scaleBackoffMax = w, minB, maxB })
}
