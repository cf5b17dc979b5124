package hlc_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dynomite-go/dynomite/proxy/hlc"
)

// wall is a wall clock the test moves by hand.
type wall struct {
	mu sync.Mutex
	ms int64
}

func (w *wall) now() int64   { w.mu.Lock(); defer w.mu.Unlock(); return w.ms }
func (w *wall) set(ms int64) { w.mu.Lock(); w.ms = ms; w.mu.Unlock() }
func newClock(ms int64) (*hlc.Clock, *wall) {
	w := &wall{ms: ms}
	return hlc.NewWithWall(w.now), w
}

func TestNowFollowsTheWallClockForwards(t *testing.T) {
	c, w := newClock(1000)
	if got := c.Now(); got != hlc.Make(1000, 0) {
		t.Fatalf("first stamp %s, want 1000.0", got)
	}
	w.set(1005)
	if got := c.Now(); got != hlc.Make(1005, 0) {
		t.Fatalf("after the wall moved: %s, want 1005.0", got)
	}
}

func TestNowCountsWhileTheWallClockStandsStillOrGoesBack(t *testing.T) {
	c, w := newClock(2000)
	want := []hlc.Timestamp{hlc.Make(2000, 0), hlc.Make(2000, 1), hlc.Make(2000, 2)}
	for i, wt := range want {
		if got := c.Now(); got != wt {
			t.Fatalf("stamp %d: %s, want %s", i, got, wt)
		}
	}
	w.set(1500) // stepped back half a second
	if got := c.Now(); got != hlc.Make(2000, 3) {
		t.Fatalf("after the wall went back: %s, want 2000.3", got)
	}
	w.set(2001)
	if got := c.Now(); got != hlc.Make(2001, 0) {
		t.Fatalf("after the wall passed the last stamp: %s, want 2001.0", got)
	}
}

func TestCounterOverflowCarriesIntoMilliseconds(t *testing.T) {
	c, _ := newClock(10)
	var last hlc.Timestamp
	for i := 0; i < 1<<16+5; i++ {
		n := c.Now()
		if n <= last {
			t.Fatalf("stamp %d: %s not after %s", i, n, last)
		}
		last = n
	}
	if last.Millis() != 11 || last.Logical() != 4 {
		t.Fatalf("after 65541 stamps in one millisecond: %s, want 11.4", last)
	}
}

func TestObserveMovesTheClockPastReceivedStamps(t *testing.T) {
	c, _ := newClock(5000)
	if err := c.Observe(hlc.Make(5200, 7)); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); got != hlc.Make(5200, 8) {
		t.Fatalf("after observing 5200.7: %s, want 5200.8", got)
	}
	// An older stamp changes nothing.
	if err := c.Observe(hlc.Make(100, 0)); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); got != hlc.Make(5200, 9) {
		t.Fatalf("after observing an old stamp: %s, want 5200.9", got)
	}
}

func TestObserveRefusesAStampFarAhead(t *testing.T) {
	c, _ := newClock(1_000_000)
	c.MaxAhead = time.Second
	far := hlc.Make(1_000_000+5000, 0)
	err := c.Observe(far)
	var ahead *hlc.ErrTooFarAhead
	if !errors.As(err, &ahead) || ahead.Stamp != far || ahead.Ahead != 5*time.Second {
		t.Fatalf("Observe(5 s ahead) = %v, want ErrTooFarAhead of 5s", err)
	}
	if got := c.Now(); got != hlc.Make(1_000_000, 0) {
		t.Fatalf("a refused stamp moved the clock: %s", got)
	}
}

func TestConcurrentStampsAreUnique(t *testing.T) {
	c, w := newClock(1)
	const goroutines, each = 8, 2000
	out := make([][]hlc.Timestamp, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if g == 0 && i%100 == 0 {
					w.set(int64(i % 7)) // a wall clock jumping about
				}
				if g == 1 && i%50 == 0 {
					_ = c.Observe(hlc.Make(int64(i/50), 3))
				}
				out[g] = append(out[g], c.Now())
			}
		}()
	}
	wg.Wait()
	seen := make(map[hlc.Timestamp]bool, goroutines*each)
	for g := range out {
		for i, ts := range out[g] {
			if seen[ts] {
				t.Fatalf("stamp %s returned twice", ts)
			}
			seen[ts] = true
			if i > 0 && ts <= out[g][i-1] {
				t.Fatalf("goroutine %d: stamp %s not after %s", g, ts, out[g][i-1])
			}
		}
	}
}

func TestVersionLessBreaksTiesByNode(t *testing.T) {
	a := hlc.Version{TS: hlc.Make(10, 1), Node: 9}
	b := hlc.Version{TS: hlc.Make(10, 2), Node: 1}
	c := hlc.Version{TS: hlc.Make(10, 2), Node: 2}
	if !a.Less(b) || b.Less(a) {
		t.Fatal("the earlier stamp must lose whatever the node")
	}
	if !b.Less(c) || c.Less(b) {
		t.Fatal("on equal stamps the lower node must lose")
	}
	if c.Less(c) {
		t.Fatal("a version is not less than itself")
	}
}

func TestTextForms(t *testing.T) {
	ts := hlc.Make(1764931200123, 42)
	if s := ts.String(); s != "1764931200123.42" {
		t.Fatalf("String = %q", s)
	}
	back, err := hlc.Parse(ts.String())
	if err != nil || back != ts {
		t.Fatalf("Parse(String) = %s, %v", back, err)
	}
	wire := ts.AppendUint(nil)
	back, err = hlc.ParseUint(wire)
	if err != nil || back != ts {
		t.Fatalf("ParseUint(AppendUint) = %s, %v", back, err)
	}
	for _, bad := range []string{"", "12", "a.1", "1.a", "1.70000", "-1.0", "1.-1"} {
		if _, err := hlc.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "1a", "18446744073709551616", "-1"} {
		if _, err := hlc.ParseUint([]byte(bad)); err == nil {
			t.Errorf("ParseUint(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0.0", "1764931200123.42", "281474976710655.65535", "1.", ".1", "9999999999999999999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := hlc.Parse(s)
		if err != nil {
			return
		}
		if back, err := hlc.Parse(ts.String()); err != nil || back != ts {
			t.Fatalf("%q parsed to %s, which reads back as %s, %v", s, ts, back, err)
		}
		if back, err := hlc.ParseUint(ts.AppendUint(nil)); err != nil || back != ts {
			t.Fatalf("%s: wire form reads back as %s, %v", ts, back, err)
		}
	})
}

func TestWallMillisTracksTheWallClock(t *testing.T) {
	w := hlc.NewWall()
	prev := int64(0)
	for i := 0; i < 2000; i++ {
		before := time.Now().UnixMilli()
		got := w.Millis()
		after := time.Now().UnixMilli()
		// the monotonic and wall clocks advance alike between rebases
		if got < before || got > after {
			t.Fatalf("read %d: Millis %d outside the wall clock's [%d, %d]", i, got, before, after)
		}
		if got < prev-1 {
			t.Fatalf("read %d: Millis went back from %d to %d", i, prev, got)
		}
		prev = got
		if i%200 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func TestObserveReadsTheWallClockOnlyForStampsFarAhead(t *testing.T) {
	reads := 0
	ms := int64(1_000_000)
	c := hlc.NewWithWall(func() int64 { reads++; return ms })
	c.Now() // one read; the clock has seen ms
	for i := int64(1); i <= 100; i++ {
		if err := c.Observe(hlc.Make(ms+i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if reads != 1 {
		t.Fatalf("%d wall clock reads for 100 stamps a few ms ahead, want only Now's", reads)
	}
	if c.Last() != hlc.Make(ms+100, 0) {
		t.Fatalf("Last = %s, want the last observed stamp", c.Last())
	}
	// far ahead of what was seen: read, and refused
	far := hlc.Make(ms+2*time.Minute.Milliseconds(), 0)
	var ahead *hlc.ErrTooFarAhead
	if err := c.Observe(far); !errors.As(err, &ahead) {
		t.Fatalf("Observe(%s) = %v, want ErrTooFarAhead", far, err)
	}
	if reads != 2 {
		t.Fatalf("%d wall clock reads, want 2", reads)
	}
	// once the wall clock caught up, the same stamp is merged
	ms += 2 * time.Minute.Milliseconds()
	if err := c.Observe(far); err != nil || c.Last() != far {
		t.Fatalf("Observe(%s) after the wall clock caught up: %v, Last %s", far, err, c.Last())
	}
}
