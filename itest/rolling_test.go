package itest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRollingRestart: three racks; every node is restarted in turn (SIGTERM,
// start, wait until writes through every node reach every Redis again)
// under a load at DC_QUORUM from clients that retry a failed request once
// through another node. Checked: zero requests fail after the retry; every
// acknowledged write is in all three Redis once the last node has been back
// for the replay of the hints its peers kept for it (proxy/hints; the time
// to zero divergent keys and the replay rate are reported), and reads back
// at DC_QUORUM through every node, with GET and with MGET.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newEnv(t, "rolling")
	c := oneDC(e, 3, false, "", "")
	waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)

	l := newLoad(t, "before")
	for i, n := range c.Nodes {
		var others []*Node
		for j := 1; j < len(c.Nodes); j++ {
			others = append(others, c.Nodes[(i+j)%len(c.Nodes)])
		}
		l.Add(&Worker{Name: "DC_QUORUM@" + n.Role, Level: "DC_QUORUM", Node: n, Fallback: others, Prefix: "roll", Pause: 5 * time.Millisecond})
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
	var took []string
	var backAt time.Time
	for _, n := range c.Nodes {
		l.SetPhase("restart-" + n.Role)
		t0 := time.Now()
		n.Stop(5 * time.Second)
		n.Restart()
		waitReplicated(t, c.Nodes, c.Stores, 30*time.Second)
		backAt = time.Now()
		took = append(took, fmt.Sprintf("%s %s", n.Role, time.Since(t0).Round(100*time.Millisecond)))
		time.Sleep(time.Second)
	}
	l.SetPhase("after")
	time.Sleep(time.Second)
	l.Stop()
	stopped = true
	t.Logf("what the clients saw (phase, level@node, after at most one retry):\n%s", l.Report())

	all := l.Sum(func(string, string, string) bool { return true })
	if len(all.Errs) > 0 {
		t.Errorf("%d requests failed after one retry: %s", all.Failed(), fmtErrs(all.Errs))
	}

	// Zero divergence once the hints are replayed: every acknowledged write
	// in all three Redis.
	acked := l.Acked()
	conv := awaitConverged(t, c.Nodes, c.Stores, wantOf(acked), backAt, hintsBefore, 60*time.Second)
	if len(conv.Remaining) > 0 {
		t.Errorf("acknowledged writes not in all 3 Redis after the restarts and the replay: %s", conv)
	} else {
		t.Logf("converged: %s", conv)
	}

	// No acknowledged write lost: in two Redis of three at least, and read
	// back at DC_QUORUM through every node.
	ctx := context.Background()
	copies := map[string]int{}
	lacking := map[string][]string{} // key -> the Redis that lack it
	for _, s := range c.Stores {
		sc := storeClient(s)
		missing, wrong, err := missingIn(ctx, sc, acked)
		sc.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", s.Role, err)
		}
		bad := map[string]bool{}
		for _, w := range append(missing, wrong...) {
			bad[w.Key] = true
			lacking[w.Key] = append(lacking[w.Key], s.Role)
		}
		for _, w := range acked {
			if !bad[w.Key] {
				copies[w.Key]++
			}
		}
	}
	var under []Write
	full := 0
	for _, w := range acked {
		switch copies[w.Key] {
		case 3:
			full++
		case 2:
		default:
			under = append(under, w)
		}
	}
	if len(under) > 0 {
		t.Errorf("%d acknowledged writes are in fewer than two Redis: %s", len(under), keyRanges(under))
	}
	// Read back through every node at DC_QUORUM: GET key by key (each
	// reply is a quorum of its own), and MGET of 200 keys.
	var readBack, mgetBack Counts
	mgetNil := map[string]int{} // lacking Redis -> keys MGET returned nil for
	for _, n := range c.Nodes {
		nc := nodeClient(n, "DC_QUORUM")
		for i := 0; i < len(acked); i += 200 {
			batch := acked[i:min(i+200, len(acked))]
			pipe := nc.Pipeline()
			cmds := make([]*redis.StringCmd, len(batch))
			keys := make([]string, len(batch))
			for j, w := range batch {
				cmds[j] = pipe.Get(ctx, w.Key)
				keys[j] = w.Key
			}
			_, _ = pipe.Exec(ctx)
			for j, cmd := range cmds {
				v, err := cmd.Result()
				switch {
				case err != nil:
					readBack.fail(fmt.Sprintf("GET through %s: %s", n.Role, errText(err)))
				case v != batch[j].Val:
					readBack.fail(fmt.Sprintf("GET through %s: wrong value", n.Role))
				default:
					readBack.ok()
				}
			}
			vals, err := nc.MGet(ctx, keys...).Result()
			if err != nil {
				mgetBack.fail("MGET through " + n.Role + ": " + errText(err))
				continue
			}
			for j, v := range vals {
				if s, _ := v.(string); s != batch[j].Val {
					mgetBack.fail(fmt.Sprintf("MGET through %s: %q for a key held by %d Redis", n.Role, s, copies[batch[j].Key]))
					mgetNil[strings.Join(lacking[batch[j].Key], "+")]++
				} else {
					mgetBack.ok()
				}
			}
		}
		nc.Close()
	}
	if readBack.Failed() > 0 {
		t.Errorf("reading the acknowledged writes back with GET at DC_QUORUM: %s", readBack.String())
	}
	if mgetBack.Failed() > 0 {
		t.Errorf("reading the acknowledged writes back with MGET at DC_QUORUM: %d values wrong or nil although a majority of Redis hold them (racks lacking them: %s); %s",
			mgetBack.Failed(), fmtErrs(mgetNil), mgetBack.String())
	}
	if t.Failed() {
		t.Logf("node logs:\n%s", logsOf(40, c.Nodes[0].Ctr, c.Nodes[1].Ctr, c.Nodes[2].Ctr))
	}
	l.mu.Lock()
	retries := fmtErrs(l.retries)
	l.mu.Unlock()
	summary(t, "rolling-restart", start,
		"3 racks, 3 DC_QUORUM clients retrying once through another node; restarts (stop, start, replicating again): %v; "+
			"%d requests %s; %d retried %s; acknowledged writes %d: in all 3 Redis %d, in 2 %d, in fewer %d; hinted handoff after the last restart: %s; "+
			"read back at DC_QUORUM through each node with GET %s, with MGET %s: %s",
		took, all.Total(), all, l.retried.Load(), retries, len(acked), full, len(acked)-full-len(under), len(under), conv, readBack.String(), mgetBack.String(), verdict(t))
}
