package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// Hinted handoff in the suites (proxy/hints): every node keeps the copies
// its peers missed in the image's hints directory and replays them once the
// peer is back, so the suites can demand zero divergence after an outage.

// hintsExtra are the configuration keys that turn hinted handoff on in a
// node of the suites. The directory is in the container's own filesystem,
// so hints survive a restart or SIGKILL of the container.
var hintsExtra = [][2]string{{"hints_dir", "/var/lib/dynomite/hints"}}

// hintInfo is the hinted handoff part of a node's /info (pool object).
type hintInfo struct {
	Pending, Written, Replayed, Dropped, Superseded uint64
}

// hints reads the node's /info hint counters.
func (n *Node) hints() (hintInfo, error) {
	a, err := n.HostAddr("22222/tcp")
	if err != nil {
		return hintInfo{}, err
	}
	c := http.Client{Timeout: 3 * time.Second}
	r, err := c.Get("http://" + a + "/info")
	if err != nil {
		return hintInfo{}, err
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return hintInfo{}, fmt.Errorf("/info: %v", err)
	}
	var pool struct {
		Pending    uint64 `json:"hints_pending_records"`
		Written    uint64 `json:"hints_written"`
		Replayed   uint64 `json:"hints_replayed"`
		Dropped    uint64 `json:"hints_dropped"`
		Superseded uint64 `json:"hints_superseded"`
	}
	if err := json.Unmarshal(doc["dyn_o_mite"], &pool); err != nil {
		return hintInfo{}, fmt.Errorf("/info pool object: %v", err)
	}
	return hintInfo(pool), nil
}

// hintTotals sums the hint counters of the nodes.
func hintTotals(nodes []*Node) (hintInfo, error) {
	var s hintInfo
	for _, n := range nodes {
		h, err := n.hints()
		if err != nil {
			return s, fmt.Errorf("%s: %v", n.Role, err)
		}
		s.Pending += h.Pending
		s.Written += h.Written
		s.Replayed += h.Replayed
		s.Dropped += h.Dropped
		s.Superseded += h.Superseded
	}
	return s, nil
}

// divergence lists, per Redis, the keys of want it does not hold with the
// wanted value, and the union of those keys.
func divergence(ctx context.Context, stores []*Ctr, want map[string]string) (perStore map[string]int, keys []string, err error) {
	ws := make([]Write, 0, len(want))
	for k, v := range want {
		ws = append(ws, Write{Key: k, Val: v})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Key < ws[j].Key })
	perStore = map[string]int{}
	bad := map[string]bool{}
	for _, s := range stores {
		sc := storeClient(s)
		missing, wrong, err := missingIn(ctx, sc, ws)
		sc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %v", s.Role, err)
		}
		perStore[s.Role] = len(missing) + len(wrong)
		for _, w := range append(missing, wrong...) {
			bad[w.Key] = true
		}
	}
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return perStore, keys, nil
}

// convergence is how replicas came back together after an outage.
type convergence struct {
	Keys      int           // keys checked
	Took      time.Duration // from the reference instant to zero divergent keys
	First     int           // divergent keys at the first measurement
	Replayed  uint64        // hints delivered in the meantime (every node)
	Remaining []string      // divergent keys when it gave up
	PerStore  map[string]int
}

// Rate is the hints delivered per second while converging.
func (c convergence) Rate() float64 {
	if c.Took <= 0 {
		return 0
	}
	return float64(c.Replayed) / c.Took.Seconds()
}

func (c convergence) String() string {
	if len(c.Remaining) > 0 {
		return fmt.Sprintf("%d of %d keys still divergent after %s (per Redis %v; e.g. %s)", len(c.Remaining), c.Keys,
			c.Took.Round(100*time.Millisecond), c.PerStore, strings.Join(c.Remaining[:min(5, len(c.Remaining))], ", "))
	}
	return fmt.Sprintf("%d keys identical in every Redis %s after the reference instant (%d divergent at first; %d hints replayed, %.0f hints/s)",
		c.Keys, c.Took.Round(100*time.Millisecond), c.First, c.Replayed, c.Rate())
}

// awaitConverged waits (up to within) until every Redis of stores holds
// every key of want with its wanted value, measuring from since; Replayed
// counts the hints the nodes delivered since the counters were before.
func awaitConverged(t *testing.T, nodes []*Node, stores []*Ctr, want map[string]string, since time.Time, before hintInfo, within time.Duration) convergence {
	t.Helper()
	ctx := context.Background()
	c := convergence{Keys: len(want), First: -1}
	deadline := time.Now().Add(within)
	for {
		per, keys, err := divergence(ctx, stores, want)
		if err != nil {
			t.Logf("measuring divergence: %v", err)
		} else {
			if c.First < 0 {
				c.First = len(keys)
			}
			c.Remaining, c.PerStore = keys, per
			if len(keys) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.Took = time.Since(since)
	if len(c.Remaining) > 0 {
		// what each Redis holds for the first divergent keys
		var b strings.Builder
		for _, k := range c.Remaining[:min(5, len(c.Remaining))] {
			fmt.Fprintf(&b, "\n  %s want %q:", k, want[k])
			for _, st := range stores {
				sc := storeClient(st)
				v, err := sc.Get(ctx, k).Result()
				sc.Close()
				if err != nil {
					v = "(" + err.Error() + ")"
				}
				fmt.Fprintf(&b, " %s=%q", st.Role, v)
			}
		}
		t.Logf("divergent keys:%s", b.String())
	}
	if after, err := hintTotals(nodes); err == nil {
		c.Replayed = after.Replayed - min(before.Replayed, after.Replayed)
	}
	return c
}

// wantOf maps every acknowledged write's key to its value.
func wantOf(ws []Write) map[string]string {
	want := make(map[string]string, len(ws))
	for _, w := range ws {
		want[w.Key] = w.Val
	}
	return want
}

// writeBothSides writes keys prefix:0..n-1 through a and through b (DC_ONE),
// the even keys through a first, the odd through b first, each second write
// in a later millisecond than the first, and returns each key's later
// value: what last writer wins must leave everywhere.
func writeBothSides(t *testing.T, a, b *Node, prefix string, n int) map[string]string {
	t.Helper()
	ctx := context.Background()
	ca, cb := nodeClient(a, "DC_ONE"), nodeClient(b, "DC_ONE")
	defer ca.Close()
	defer cb.Close()
	want := map[string]string{}
	for i := range n {
		k := fmt.Sprintf("%s:%d", prefix, i)
		first, second := ca, cb
		fr, sr := a.Role, b.Role
		if i%2 == 1 {
			first, second, fr, sr = cb, ca, b.Role, a.Role
		}
		if err := first.Set(ctx, k, "first-"+fr, 0).Err(); err != nil {
			t.Fatalf("SET %s through %s: %v", k, fr, err)
		}
		// the stamps are milliseconds (proxy/hlc): the second write comes
		// in a later one, on a clock every container shares with the host
		for t0 := time.Now().UnixMilli(); time.Now().UnixMilli() <= t0+1; {
			time.Sleep(100 * time.Microsecond)
		}
		if err := second.Set(ctx, k, "second-"+sr, 0).Err(); err != nil {
			t.Fatalf("SET %s through %s: %v", k, sr, err)
		}
		want[k] = "second-" + sr
	}
	return want
}
