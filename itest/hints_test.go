package itest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestHintsSurviveACoordinatorKill: three racks. Rack 3's node is stopped;
// writes go through rack 1's node, which keeps a hint for rack 3 of each
// (proxy/hints); rack 1's node is then killed (SIGKILL) with its hints on
// disk. Rack 3's node comes back: its Redis lacks every one of those writes
// (rack 1, the only coordinator, is dead). Rack 1's node restarts. Checked:
// the restarted coordinator replays the hints it kept before it was killed,
// and every write ends in all three Redis. Reported: the time from rack 1's
// restart to zero divergent keys, and the replay rate.
func TestHintsSurviveACoordinatorKill(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "hintkill")
	c := oneDC(e, 3, false, "", "")
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
	coord, target := c.Nodes[0], c.Nodes[2]

	target.Stop(5 * time.Second)
	ctx := context.Background()
	nc := nodeClient(coord, "DC_ONE")
	want := map[string]string{}
	const n = 2000
	for i := range n {
		k, v := fmt.Sprintf("kill:%05d", i), fmt.Sprintf("v%d", i)
		if err := nc.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatalf("SET %s through %s: %v", k, coord.Role, err)
		}
		want[k] = v
	}
	nc.Close()
	var kept hintInfo
	if err := eventually(20*time.Second, 200*time.Millisecond, func() error {
		h, err := coord.hints()
		if err != nil {
			return err
		}
		kept = h
		if h.Pending < n {
			return fmt.Errorf("%s holds %d hints, want %d", coord.Role, h.Pending, n)
		}
		return nil
	}); err != nil {
		t.Fatalf("hints for the stopped rack: %v", err)
	}

	coord.Kill()
	target.Restart()
	// Rack 3's Redis missed every write: the dead coordinator holds them.
	per, _, err := divergence(ctx, c.Stores[2:], want)
	if err != nil {
		t.Fatal(err)
	}
	if per[c.Stores[2].Role] != n {
		t.Fatalf("%s lacks %d of the %d writes before the coordinator restarts, want all", c.Stores[2].Role, per[c.Stores[2].Role], n)
	}

	restartAt := time.Now()
	coord.Restart()
	conv := awaitConverged(t, c.Nodes, c.Stores, want, restartAt, hintInfo{}, 60*time.Second)
	if len(conv.Remaining) > 0 {
		t.Errorf("the killed coordinator's hints did not repair rack 3: %s\n%s", conv, logsOf(30, coord.Ctr, target.Ctr))
	}
	after, err := coord.hints()
	if err != nil {
		t.Fatal(err)
	}
	if after.Dropped > 0 {
		t.Errorf("%s dropped %d hints", coord.Role, after.Dropped)
	}
	summary(t, "hint-kill", start,
		"3 racks; %d writes through dyn-r1 while dyn-r3 was stopped: %d hints kept; dyn-r1 SIGKILLed, dyn-r3 restarted lacking all %d; "+
			"dyn-r1 restarted: %s; hints replayed by the restarted dyn-r1 %d, dropped %d: %s",
		n, kept.Pending, n, conv, after.Replayed, after.Dropped, verdict(t))
}
