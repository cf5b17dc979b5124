package itest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// staleRead is the text Worker records for a GET that returned nil right
// after its SET was acknowledged.
const staleRead = "stale read: nil for a key just acknowledged"

// TestNodeLoss: three racks under a steady load at DC_ONE and DC_QUORUM
// through every node. Rack 3's node is killed (SIGKILL) and restarted, then
// rack 3's Redis is killed and restarted. Checked:
//   - through the surviving nodes, every request succeeds in every phase, at
//     both levels (DC_QUORUM: two racks of three agree; DC_ONE: the local
//     rack answers);
//   - through rack 3's node while its Redis is dead, every request succeeds
//     (reads and DC_ONE writes fail over to another rack; DC_QUORUM has two
//     racks of three); a DC_ONE read may miss a write acknowledged by
//     another rack a moment before (counted, not a failure);
//   - the restarted node rejoins: writes through it reach every Redis,
//     writes through the others reach its Redis, and its clients succeed;
//   - no acknowledged DC_QUORUM write is missing from the surviving racks'
//     Redis: those acknowledged while rack 3 was down are in both, the
//     others in at least one (a quorum of three racks has at least one copy
//     outside rack 3);
//   - zero divergence after the repair: once rack 3's node is back and the
//     hints the other coordinators kept for it are replayed (proxy/hints),
//     every write acknowledged so far, DC_ONE and DC_QUORUM, is in all three
//     Redis; once rack 3's Redis is back, every write made after it was
//     killed is in all three (including those through rack
//     3's own node, whose local copies failed), and every write of the run
//     in the two other Redis. Rack 3's Redis runs without persistence, so
//     its SIGKILL loses what it held before: those keys are reported, not
//     judged (hints carry only the writes a replica missed). The times to
//     zero divergent keys and the replay rates are reported.
func TestNodeLoss(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "nodeloss")
	c := oneDC(e, 3, false, "", "")
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
	victim, victimRedis := c.Nodes[2], c.Stores[2]

	l := newLoad(t, "baseline")
	for _, level := range []string{"DC_ONE", "DC_QUORUM"} {
		for _, n := range c.Nodes {
			l.Add(&Worker{Name: level + "@" + n.Role, Level: level, Node: n, Prefix: "loss", Pause: 10 * time.Millisecond})
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			l.Stop()
		}
	}()
	time.Sleep(2 * time.Second)

	hintsBefore, err := hintTotals(c.Nodes)
	if err != nil {
		t.Fatalf("hint counters: %v", err)
	}
	// 1. Rack 3's node dies.
	l.SetPhase("node-killed")
	victim.Kill()
	time.Sleep(5 * time.Second)
	l.SetPhase("node-restart")
	restartAt := time.Now()
	victim.Restart()
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
	nodeRejoin := time.Since(restartAt)
	l.SetPhase("node-back")
	time.Sleep(2 * time.Second)
	// Zero divergence once the hints for the killed node are replayed:
	// every write acknowledged so far in all three Redis.
	nodeConv := awaitConverged(t, c.Nodes, c.Stores, wantOf(l.Acked()), restartAt, hintsBefore, 60*time.Second)
	if len(nodeConv.Remaining) > 0 {
		t.Errorf("acknowledged writes not in all 3 Redis after rack 3's node came back and the hints replayed: %s", nodeConv)
	} else {
		t.Logf("converged after the node kill: %s", nodeConv)
	}
	hintsBefore, err = hintTotals(c.Nodes)
	if err != nil {
		t.Fatalf("hint counters: %v", err)
	}

	// 2. Rack 3's Redis dies; its node stays.
	// Requests started before the kill returned may have reached the Redis
	// and died with its dataset: their own phase, not judged for the repair.
	l.SetPhase("redis-killing")
	victimRedis.Kill()
	l.SetPhase("redis-killed")
	time.Sleep(5 * time.Second)
	l.SetPhase("redis-restart")
	restartAt = time.Now()
	victimRedis.Restart()
	if err := eventually(20*time.Second, 200*time.Millisecond, func() error {
		code, err := victim.Health()
		if err == nil && code != 200 {
			err = fmt.Errorf("/health %d", code)
		}
		return err
	}); err != nil {
		t.Fatalf("%s does not report its Redis back: %v\n%s", victim.Role, err, victim.Logs(30))
	}
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
	redisRejoin := time.Since(restartAt)
	l.SetPhase("redis-back")
	time.Sleep(2 * time.Second)
	l.Stop()
	stopped = true

	// Zero divergence once the hints are replayed: the writes acknowledged
	// from the Redis kill on in all three Redis, every write in the others.
	var sinceKill []Write
	for _, w := range l.Acked() {
		if strings.HasPrefix(w.Phase, "redis-") && w.Phase != "redis-killing" {
			sinceKill = append(sinceKill, w)
		}
	}
	conv := awaitConverged(t, c.Nodes, c.Stores, wantOf(sinceKill), restartAt, hintsBefore, 60*time.Second)
	if len(conv.Remaining) > 0 {
		t.Errorf("writes acknowledged since rack 3's Redis was killed not in all 3 Redis after it came back and the hints replayed: %s", conv)
	} else {
		t.Logf("converged after the Redis kill: %s", conv)
	}
	if c2 := awaitConverged(t, c.Nodes, c.Stores[:2], wantOf(l.Acked()), restartAt, hintsBefore, 10*time.Second); len(c2.Remaining) > 0 {
		t.Errorf("acknowledged writes missing from the two racks that stayed up: %s", c2)
	}
	_, wiped, err := divergence(context.Background(), c.Stores[2:], wantOf(l.Acked()))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s lost %d keys it held when it was killed (no persistence; hints carry only the writes it missed)", victimRedis.Role, len(wiped))

	t.Logf("what the clients saw (phase, level@node):\n%s", l.Report())

	// What each level promises.
	survivors := func(w string) bool { return !strings.HasSuffix(w, "@"+victim.Role) }
	onVictim := func(w string) bool { return strings.HasSuffix(w, "@"+victim.Role) }
	type rule struct {
		what   string
		phases []string
		worker func(string) bool
		stale  bool // DC_ONE stale reads allowed
	}
	rules := []rule{
		{"through surviving nodes, all phases", nil, survivors, false},
		{"through the node whose Redis died", []string{"redis-killing", "redis-killed", "redis-restart", "redis-back"}, onVictim, true},
		{"through the restarted node once back", []string{"node-back"}, onVictim, false},
	}
	for _, r := range rules {
		got := l.Sum(func(p, w, op string) bool {
			return (r.phases == nil || slices.Contains(r.phases, p)) && r.worker(w)
		})
		bad := map[string]int{}
		for text, n := range got.Errs {
			if text == staleRead && r.stale {
				continue
			}
			bad[text] += n
		}
		// Stale reads at DC_QUORUM are never allowed.
		q := l.Sum(func(p, w, op string) bool {
			return (r.phases == nil || slices.Contains(r.phases, p)) && r.worker(w) && strings.HasPrefix(w, "DC_QUORUM")
		})
		if n := q.Errs[staleRead]; n > 0 && r.stale {
			bad[staleRead+" (DC_QUORUM)"] = n
		}
		if len(bad) > 0 {
			t.Errorf("%s: %d failed requests %s", r.what, sum(bad), fmtErrs(bad))
		}
	}

	// No acknowledged DC_QUORUM write is missing from the surviving racks.
	ctx := context.Background()
	var quorum []Write
	for _, w := range l.Acked() {
		if strings.HasPrefix(w.Worker, "DC_QUORUM") {
			quorum = append(quorum, w)
		}
	}
	in := map[string]int{} // key -> number of surviving Redis holding it
	for _, s := range c.Stores[:2] {
		sc := storeClient(s)
		missing, wrong, err := missingIn(ctx, sc, quorum)
		sc.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", s.Role, err)
		}
		if len(wrong) > 0 {
			t.Errorf("%s holds %d acknowledged DC_QUORUM writes with another value: %s", s.Role, len(wrong), keyRanges(wrong))
		}
		gone := map[string]bool{}
		for _, w := range append(missing, wrong...) {
			gone[w.Key] = true
		}
		for _, w := range quorum {
			if !gone[w.Key] {
				in[w.Key]++
			}
		}
	}
	var lost, single []Write
	both := 0
	for _, w := range quorum {
		downPhase := w.Phase == "node-killed" || w.Phase == "redis-killed"
		switch n := in[w.Key]; {
		case n == 0, n == 1 && downPhase:
			lost = append(lost, w)
		case n == 1:
			single = append(single, w)
		default:
			both++
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged DC_QUORUM writes are missing from the surviving racks' Redis: %s", len(lost), keyRanges(lost))
	}
	if len(single) > 0 {
		t.Logf("%d acknowledged DC_QUORUM writes (made with all racks up) are in only one surviving Redis: %s", len(single), keyRanges(single))
	}
	if t.Failed() {
		t.Logf("node logs:\n%s", logsOf(40, c.Nodes[0].Ctr, c.Nodes[1].Ctr, victim.Ctr))
	}

	all := l.Sum(func(string, string, string) bool { return true })
	surv := l.Sum(func(_, w, _ string) bool { return survivors(w) })
	redisDown := l.Sum(func(p, w, _ string) bool { return onVictim(w) && p == "redis-killed" })
	nodeDown := l.Sum(func(p, w, _ string) bool { return onVictim(w) && (p == "node-killed" || p == "node-restart") })
	summary(t, "node-loss", start,
		"%d requests (6 clients: DC_ONE and DC_QUORUM through each of 3 nodes); through the 2 surviving nodes %s; "+
			"through dyn-r3 while its Redis was dead %s; through dyn-r3 while it was dead or restarting (not judged) %s; "+
			"node rejoined in %s, Redis in %s; acknowledged DC_QUORUM writes %d, in both surviving Redis %d, in one %d, missing %d; "+
			"hinted handoff after rack 3's node restarted: %s; after its Redis restarted (writes since the kill): %s; keys its Redis lost with its dataset: %d: %s",
		all.Total(), surv, redisDown, nodeDown, nodeRejoin.Round(100*time.Millisecond), redisRejoin.Round(100*time.Millisecond),
		len(quorum), both, len(single), len(lost), nodeConv, conv, len(wiped), verdict(t))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
