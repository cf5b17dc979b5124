package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is the time source of a stream and its throttle; tests inject a
// fake one so that rate limits can be checked without wall-clock timing.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// throttleCatchUp is how far a throttle's schedule may fall behind the clock
// and still be caught up (see Throttle).
const throttleCatchUp = 100 * time.Millisecond

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Throttle bounds a stream to a number of keys and of bytes per second.
// Either limit may be changed at any time with Set, from any goroutine, and
// applies from the next key on; zero means unlimited.
//
// It spaces permits evenly rather than handing out bursts (a virtual
// schedule, as in the generic cell rate algorithm): each key costs
// 1/keysPerSec seconds and each byte 1/bytesPerSec, and a caller waits until
// the schedule reaches it. Over any interval T the stream therefore copies
// at most (T+throttleCatchUp)*keysPerSec + 1 keys, whatever the load on the
// datastores.
//
// The schedule may fall behind the clock by up to throttleCatchUp, and the
// callers then go without waiting until it has caught up: a sleep lasts
// longer than asked (a timer fires late on a loaded machine, by a
// millisecond or more) and the copying between two waits takes time, and
// without it each of those would be lost. A schedule reset to the clock at
// every wait ran at about 1,500 keys/s on a loaded 2-core machine whatever
// the limit above that. Behind by more (the stream was idle), the schedule
// starts again from the clock, so no burst follows a pause.
type Throttle struct {
	keys  atomic.Int64
	bytes atomic.Int64
	clock Clock

	mu   sync.Mutex
	next time.Time
}

// NewThrottle returns a throttle with the given limits (0 for unlimited);
// a nil clock means the real one.
func NewThrottle(keysPerSec, bytesPerSec int64, clock Clock) *Throttle {
	if clock == nil {
		clock = realClock{}
	}
	t := &Throttle{clock: clock}
	t.Set(keysPerSec, bytesPerSec)
	return t
}

// Set changes both limits; zero or a negative value means unlimited.
func (t *Throttle) Set(keysPerSec, bytesPerSec int64) {
	t.keys.Store(max(keysPerSec, 0))
	t.bytes.Store(max(bytesPerSec, 0))
}

// Limits returns the current limits.
func (t *Throttle) Limits() (keysPerSec, bytesPerSec int64) { return t.keys.Load(), t.bytes.Load() }

// Wait blocks until keys keys and bytes bytes may be moved, or ctx is done.
// A nil throttle never waits.
func (t *Throttle) Wait(ctx context.Context, keys, bytes int64) error {
	if t == nil {
		return ctx.Err()
	}
	var cost time.Duration
	if kps := t.keys.Load(); kps > 0 {
		cost += time.Duration(keys * int64(time.Second) / kps)
	}
	if bps := t.bytes.Load(); bps > 0 {
		cost += time.Duration(float64(bytes) * float64(time.Second) / float64(bps))
	}
	if cost == 0 {
		return ctx.Err()
	}
	t.mu.Lock()
	now := t.clock.Now()
	if t.next.IsZero() || now.Sub(t.next) > throttleCatchUp {
		t.next = now
	}
	wait := t.next.Sub(now)
	t.next = t.next.Add(cost)
	t.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	return t.clock.Sleep(ctx, wait)
}
