package hlc

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// logicalBits is the width of the logical counter in a [Timestamp].
const logicalBits = 16

const logicalMask = 1<<logicalBits - 1

// Timestamp is a hybrid logical clock reading: milliseconds since the Unix
// epoch in the high 48 bits, a logical counter in the low 16. Zero means "no
// stamp".
type Timestamp uint64

// Make builds a stamp from milliseconds and a logical counter.
func Make(millis int64, logical uint16) Timestamp {
	return Timestamp(uint64(millis)<<logicalBits | uint64(logical))
}

// Millis is the physical part, in milliseconds since the Unix epoch.
func (t Timestamp) Millis() int64 { return int64(t >> logicalBits) }

// Logical is the counter part.
func (t Timestamp) Logical() uint16 { return uint16(t & logicalMask) }

// Time is the physical part as a time.Time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.Millis()) }

// String is "millis.logical", the form [Parse] reads.
func (t Timestamp) String() string {
	return strconv.FormatInt(t.Millis(), 10) + "." + strconv.FormatUint(uint64(t.Logical()), 10)
}

// AppendUint appends the stamp as one decimal integer (the wire form: short,
// and ordered like the stamps when compared as numbers).
func (t Timestamp) AppendUint(b []byte) []byte { return strconv.AppendUint(b, uint64(t), 10) }

// ParseUint reads the wire form written by [Timestamp.AppendUint].
func ParseUint(b []byte) (Timestamp, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, fmt.Errorf("hlc: invalid timestamp %q", b)
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("hlc: invalid timestamp %q", b)
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, fmt.Errorf("hlc: timestamp %q overflows 64 bits", b)
		}
		v = v*10 + d
	}
	return Timestamp(v), nil
}

// Parse reads the "millis.logical" form written by [Timestamp.String].
func Parse(s string) (Timestamp, error) {
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			continue
		}
		ms, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || ms < 0 || ms >= 1<<(64-logicalBits) {
			return 0, fmt.Errorf("hlc: invalid milliseconds in timestamp %q", s)
		}
		l, err := strconv.ParseUint(s[i+1:], 10, logicalBits)
		if err != nil {
			return 0, fmt.Errorf("hlc: invalid logical counter in timestamp %q", s)
		}
		return Make(ms, uint16(l)), nil
	}
	return 0, fmt.Errorf("hlc: timestamp %q is not millis.logical", s)
}

// DefaultMaxAhead is how far ahead of the local wall clock a received stamp
// may be and still move the clock.
const DefaultMaxAhead = time.Minute

// Clock is a hybrid logical clock. It is safe for concurrent use and takes no
// lock: the last stamp is one atomic word.
type Clock struct {
	last atomic.Uint64
	wall func() int64 // milliseconds since the epoch
	// seen is the highest wall time read so far (Now and Observe read
	// it), so that Observe can tell most stamps are within MaxAhead
	// without reading the wall clock again.
	seen atomic.Int64
	// MaxAhead bounds how far a stamp received by Observe may lead the
	// local wall clock and still move it. Set before first use.
	MaxAhead time.Duration
}

// New returns a clock reading the wall clock (through a [Wall]).
func New() *Clock { return NewWithWall(NewWall().Millis) }

// rebaseEvery is how often a [Wall] reads the wall clock itself.
const rebaseEvery = time.Second

// Wall reads the wall clock in milliseconds at half the cost of time.Now:
// between reads of the real wall clock, at most rebaseEvery apart, it adds
// the monotonic time elapsed since the last one (time.Since reads only the
// monotonic clock). Stamping a write reads it once at the coordinator and
// once per replica, and on a virtual machine time.Now (two clock reads) was
// a tenth of a replicated write's coordination cost. A step of the wall
// clock shows within rebaseEvery; between steps the two clocks advance
// alike (NTP slews both).
type Wall struct {
	base atomic.Pointer[time.Time] // a time.Now reading, monotonic part included
}

// NewWall returns a Wall that has just read the wall clock.
func NewWall() *Wall {
	w := &Wall{}
	now := time.Now()
	w.base.Store(&now)
	return w
}

// Millis returns the wall time in milliseconds since the Unix epoch.
func (w *Wall) Millis() int64 {
	b := w.base.Load()
	d := time.Since(*b)
	if d < 0 || d >= rebaseEvery {
		now := time.Now()
		w.base.CompareAndSwap(b, &now)
		return now.UnixMilli()
	}
	// from nanoseconds, so the result truncates as time.Now().UnixMilli()
	// does: never a millisecond behind it
	return (b.UnixNano() + int64(d)) / int64(time.Millisecond)
}

// NewWithWall returns a clock reading wall, which returns milliseconds since
// the Unix epoch (tests give it a clock they control).
func NewWithWall(wall func() int64) *Clock {
	return &Clock{wall: wall, MaxAhead: DefaultMaxAhead}
}

// next is the stamp after last given the wall time: the wall time when it is
// ahead, else last plus one logical tick (carrying into the milliseconds when
// the counter is full).
func next(last Timestamp, wall int64) Timestamp {
	if w := Make(wall, 0); w > last {
		return w
	}
	return last + 1 // the counter's overflow carries into the milliseconds
}

// Now returns a stamp greater than every stamp this clock returned or
// observed before.
func (c *Clock) Now() Timestamp {
	wall := c.readWall()
	for {
		last := Timestamp(c.last.Load())
		n := next(last, wall)
		if c.last.CompareAndSwap(uint64(last), uint64(n)) {
			return n
		}
	}
}

// readWall reads the wall clock and keeps the highest reading in seen.
func (c *Clock) readWall() int64 {
	wall := c.wall()
	if s := c.seen.Load(); wall > s {
		c.seen.CompareAndSwap(s, wall) // a lost race leaves a reading as recent
	}
	return wall
}

// Last is the highest stamp returned or observed so far.
func (c *Clock) Last() Timestamp { return Timestamp(c.last.Load()) }

// ErrTooFarAhead is returned by Observe for a stamp that leads the local wall
// clock by more than MaxAhead.
type ErrTooFarAhead struct {
	Stamp Timestamp
	Ahead time.Duration
}

func (e *ErrTooFarAhead) Error() string {
	return fmt.Sprintf("hlc: received timestamp %s is %s ahead of the local clock", e.Stamp, e.Ahead)
}

// Observe merges a stamp received from another node, so that the next Now is
// after it. A stamp more than MaxAhead ahead of the wall clock does not move
// the clock and is reported as *ErrTooFarAhead (a stamp the clock is
// already past is not checked: it moves nothing).
func (c *Clock) Observe(remote Timestamp) error {
	if uint64(remote) <= c.last.Load() {
		return nil // the common case, decided without reading the wall clock
	}
	// A stamp within MaxAhead of a wall time already read is within it of
	// the wall clock now, which has not gone back (unless it was stepped
	// back since, in which case the stamp leads it by at most MaxAhead
	// plus the step until the next read): a peer's stamps, a few
	// milliseconds old, pass without a read.
	if c.MaxAhead > 0 && remote.Millis()-c.seen.Load() > c.MaxAhead.Milliseconds() {
		wall := c.readWall()
		if ahead := time.Duration(remote.Millis()-wall) * time.Millisecond; ahead > c.MaxAhead {
			return &ErrTooFarAhead{Stamp: remote, Ahead: ahead}
		}
	}
	for {
		last := c.last.Load()
		if uint64(remote) <= last {
			return nil
		}
		if c.last.CompareAndSwap(last, uint64(remote)) {
			return nil
		}
	}
}

// Version is a write's stamp with its coordinator's place in a fixed node
// order, the pair last writer wins compares.
type Version struct {
	TS   Timestamp
	Node uint64
}

// Less reports whether v loses to w: an earlier stamp loses; on equal stamps
// the lower node order loses.
func (v Version) Less(w Version) bool {
	if v.TS != w.TS {
		return v.TS < w.TS
	}
	return v.Node < w.Node
}
