package itest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestPartition: two datacenters of two racks. Each datacenter has its own
// network (its nodes and Redis); the nodes are also on a shared "wan"
// network, the only way between the datacenters (peers in the other
// datacenter are named by their wan aliases). Under a load at DC_ONE and
// DC_QUORUM through every node, the wan link is cut (every node
// disconnected from it) and restored. Checked:
//   - both sides keep serving at both levels while cut: no failed request,
//     no request slower than the client's timeout (no hang);
//   - every node is up and healthy afterwards, and writes cross again once
//     the link is back;
//   - the writes acknowledged before the cut and after the link is proven
//     back are in the other datacenter's Redis;
//   - zero divergence after the repair: the copies that could not cross
//     while cut are kept as hints (proxy/hints) and replayed once the link
//     is back, so every key written during the run is identical in every
//     Redis of both datacenters, keys written on both sides while cut
//     included (the later write wins on every replica, whichever side wrote
//     it). Reported: the time from reconnecting to zero divergent keys and
//     the replay rate.
func TestPartition(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "partition")
	wan := e.Network("wan", false)
	dcNet := map[string]*Net{"dc1": e.Network("dc1", false), "dc2": e.Network("dc2", false)}
	dcs := []string{"dc1", "dc2"}

	var storeSpecs []Spec
	for _, dc := range dcs {
		for r := 1; r <= 2; r++ {
			role := fmt.Sprintf("redis-%s-r%d", dc, r)
			storeSpecs = append(storeSpecs, redisSpec(role, Attach{Net: dcNet[dc], Aliases: []string{role}}))
		}
	}
	stores := e.startAll(storeSpecs...)
	storesOf := map[string][]*Ctr{"dc1": stores[:2], "dc2": stores[2:]}

	var specs []Spec
	var confs []NodeConf
	for _, dc := range dcs {
		for r := 1; r <= 2; r++ {
			conf := NodeConf{DC: dc, Rack: fmt.Sprintf("rack%d", r), Token: token, Server: fmt.Sprintf("redis-%s-r%d:6379:1", dc, r), Extra: hintsExtra}
			for _, odc := range dcs {
				for or := 1; or <= 2; or++ {
					switch {
					case odc == dc && or == r:
					case odc == dc:
						conf.Seeds = append(conf.Seeds, fmt.Sprintf("dyn-%s-r%d:8101:rack%d:%s:%s", odc, or, or, odc, token))
					default:
						conf.Seeds = append(conf.Seeds, fmt.Sprintf("wan-%s-r%d:8101:rack%d:%s:%s", odc, or, or, odc, token))
					}
				}
			}
			role := fmt.Sprintf("dyn-%s-r%d", dc, r)
			confs = append(confs, conf)
			// The datacenter's network first: the published ports use it.
			specs = append(specs, nodeSpec(role, conf, nil,
				Attach{Net: dcNet[dc], Aliases: []string{role}},
				Attach{Net: wan, Aliases: []string{"wan-" + dc + fmt.Sprintf("-r%d", r)}}))
		}
	}
	var nodes []*Node
	for i, c := range e.startAll(specs...) {
		nodes = append(nodes, asNode(c, confs[i]))
	}
	allCtrs := func() []*Ctr {
		var out []*Ctr
		for _, n := range nodes {
			out = append(out, n.Ctr)
		}
		return append(out, stores...)
	}
	waitReplicated(t, nodes, stores, 40*time.Second)

	l := newLoad(t, "linked")
	for _, n := range nodes {
		for _, level := range []string{"DC_ONE", "DC_QUORUM"} {
			l.Add(&Worker{Name: level + "@" + n.Role, Level: level, Node: n, Prefix: "part", Pause: 10 * time.Millisecond})
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			l.Stop()
		}
	}()
	time.Sleep(2 * time.Second)

	// A write acknowledged a moment before the cut may still have its
	// remote-datacenter copy in flight (the levels wait only for the local
	// racks): the last 500 ms before the cut are their own phase, reported
	// with the gap, not judged.
	l.SetPhase("cutting")
	time.Sleep(500 * time.Millisecond)
	l.SetPhase("cut")
	for _, n := range nodes {
		n.Disconnect(wan)
	}
	hintsBefore, err := hintTotals(nodes)
	if err != nil {
		t.Fatalf("hint counters: %v", err)
	}
	// Keys written on both sides while cut: the second write of each key
	// is the later one and must win everywhere once the link is back.
	time.Sleep(time.Second)
	bothSides := writeBothSides(t, nodes[0], nodes[2], "both", 100)
	// Longer than a cross-datacenter peer's timeout (2 s + 5 s): the
	// connections that were open when the link went are given up.
	time.Sleep(8 * time.Second)

	l.SetPhase("reconnecting")
	healAt := time.Now()
	for _, n := range nodes {
		n.Connect(wan, "wan-"+strings.TrimPrefix(n.Role, "dyn-"))
	}
	waitReplicated(t, nodes, stores, 40*time.Second)
	healed := time.Since(healAt)
	l.SetPhase("healed")
	time.Sleep(2 * time.Second)
	l.Stop()
	stopped = true
	t.Logf("what the clients saw (phase, level@node):\n%s", l.Report())

	// Zero divergence: every key written during the run, in every Redis of
	// both datacenters, with the value of its last writer.
	want := wantOf(l.Acked())
	for k, v := range bothSides {
		want[k] = v
	}
	conv := awaitConverged(t, nodes, stores, want, healAt, hintsBefore, 90*time.Second)
	if len(conv.Remaining) > 0 {
		t.Errorf("replicas still differ after the link came back: %s", conv)
	} else {
		t.Logf("converged: %s", conv)
	}

	// Both sides served at both levels, in every phase.
	all := l.Sum(func(string, string, string) bool { return true })
	if len(all.Errs) > 0 {
		t.Errorf("failed requests: %s", fmtErrs(all.Errs))
	}
	for _, c := range allCtrs() {
		if ok, st := c.Running(); !ok {
			t.Errorf("%s is not running: %s\n%s", c.Role, st, c.Logs(40))
		}
	}
	for _, n := range nodes {
		if code, err := n.Health(); err != nil || code != 200 {
			t.Errorf("%s /health: %d %v", n.Role, code, err)
		}
	}

	// Which acknowledged writes each datacenter's Redis hold, measured
	// again until the asynchronous replication of the last writes is done
	// (up to 10 s): nothing but the partition's gap may remain.
	ctx := context.Background()
	acked := l.Acked()
	dcOf := func(w Write) string {
		for _, dc := range dcs {
			if strings.Contains(w.Worker, "@dyn-"+dc) {
				return dc
			}
		}
		return ""
	}
	var lines, wrongs []string
	var missingByPhase map[string]int // "dc1->dc2 cut" -> n
	var localLost []Write
	measure := func() error {
		lines, wrongs, missingByPhase, localLost = nil, nil, map[string]int{}, nil
		for _, src := range dcs {
			var ws []Write
			for _, w := range acked {
				if dcOf(w) == src {
					ws = append(ws, w)
				}
			}
			for _, dst := range dcs {
				for _, s := range storesOf[dst] {
					sc := storeClient(s)
					missing, wrong, err := missingIn(ctx, sc, ws)
					sc.Close()
					if err != nil {
						return fmt.Errorf("reading %s: %v", s.Role, err)
					}
					if len(wrong) > 0 {
						wrongs = append(wrongs, fmt.Sprintf("%s holds %d writes of %s with another value: %s", s.Role, len(wrong), src, keyRanges(wrong)))
					}
					if dst == src {
						// The local racks: both were up throughout.
						localLost = append(localLost, missing...)
						if len(missing) > 0 {
							lines = append(lines, fmt.Sprintf("  local  %s lacks %d writes of its own datacenter: %s", s.Role, len(missing), keyRanges(missing)))
						}
						continue
					}
					byPhase := map[string][]Write{}
					for _, w := range missing {
						byPhase[w.Phase] = append(byPhase[w.Phase], w)
					}
					phases := make([]string, 0, len(byPhase))
					for p := range byPhase {
						phases = append(phases, p)
					}
					sort.Strings(phases)
					for _, p := range phases {
						missingByPhase[src+"->"+dst+" "+p] += len(byPhase[p])
						lines = append(lines, fmt.Sprintf("  %s->%s %s lacks %d writes acknowledged in phase %q: %s", src, dst, s.Role, len(byPhase[p]), p, keyRanges(byPhase[p])))
					}
				}
			}
		}
		for k, n := range missingByPhase {
			if strings.HasSuffix(k, " linked") || strings.HasSuffix(k, " healed") {
				return fmt.Errorf("%s: %d writes acknowledged while the link was up did not cross", k, n)
			}
		}
		if len(localLost) > 0 {
			return fmt.Errorf("%d acknowledged writes are missing from their own datacenter's Redis: %s", len(localLost), keyRanges(localLost))
		}
		return nil
	}
	if err := eventually(10*time.Second, 500*time.Millisecond, measure); err != nil {
		t.Errorf("%v", err)
	}
	for _, w := range wrongs {
		t.Errorf("%s", w)
	}
	if len(lines) > 0 {
		t.Logf("the gap after the partition and its repair, exactly:\n%s", strings.Join(lines, "\n"))
	} else {
		t.Logf("no write is missing on either side")
	}
	if t.Failed() {
		t.Logf("node logs:\n%s", logsOf(40, allCtrs()[:4]...))
	}

	cut := l.Sum(func(p, _, _ string) bool { return p == "cut" })
	var gapParts []string
	keys := make([]string, 0, len(missingByPhase))
	for k := range missingByPhase {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		gapParts = append(gapParts, fmt.Sprintf("%s %d", k, missingByPhase[k]))
	}
	gapText := "none"
	if len(gapParts) > 0 {
		gapText = strings.Join(gapParts, ", ") + " (per Redis of the other datacenter; key ranges in the log)"
	}
	summary(t, "partition", start,
		"2 DCs × 2 racks, 8 clients (DC_ONE and DC_QUORUM through each node); %d requests %s; while cut (9 s) %s; "+
			"link back and writes crossing again %s after reconnecting; all nodes up and healthy; hinted handoff: %s; "+
			"acknowledged writes missing on the other side by phase after the repair: %s: %s",
		all.Total(), all, cut, healed.Round(100*time.Millisecond), conv, gapText, verdict(t))
}
