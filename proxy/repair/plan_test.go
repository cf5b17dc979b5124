package repair_test

import (
	"testing"

	"github.com/dynomite-go/dynomite/proxy/repair"
)

func rep(status byte, score float64, value string) repair.Reply {
	return repair.Reply{Status: status, Score: score, Value: []byte(value)}
}

func TestDecide(t *testing.T) {
	v1, v2, null := "$2\r\nv1\r\n", "$2\r\nv2\r\n", "$-1\r\n"
	cases := map[string]struct {
		replies []repair.Reply
		ok      []bool
		kind    repair.Kind
		winner  int
		stale   []bool
	}{
		"all agree: nothing to do": {
			[]repair.Reply{rep('E', 5, v1), rep('E', 5, v1), rep('E', 5, v1)}, []bool{true, true, true},
			repair.NoRepair, -1, nil},
		"the newest write wins over a majority": {
			[]repair.Reply{rep('E', 5, v1), rep('E', 9, v2), rep('E', 5, v1)}, []bool{true, true, true},
			repair.ByTimestamp, 1, []bool{true, false, true}},
		"a newer delete wins": {
			[]repair.Reply{rep('R', 9, null), rep('E', 5, v1), rep('R', 9, null)}, []bool{true, true, true},
			repair.ByTimestamp, 0, []bool{false, true, false}},
		"a replica without metadata is stale once another has some": {
			[]repair.Reply{rep('X', 0, null), rep('E', 5, v1), rep('E', 5, v1)}, []bool{true, true, true},
			repair.ByTimestamp, 1, []bool{true, false, false}},
		"a replica that did not answer is neither winner nor stale": {
			[]repair.Reply{rep('E', 99, v2), rep('E', 5, v1), rep('E', 4, v1)}, []bool{false, true, true},
			repair.ByTimestamp, 1, []bool{false, false, true}},
		"a tie goes to the delete": {
			[]repair.Reply{rep('E', 5, v1), rep('R', 5, null)}, []bool{true, true},
			repair.ByTimestamp, 1, []bool{true, false}},
		"a tie between values goes to the one more replicas hold": {
			[]repair.Reply{rep('E', 5, v1), rep('E', 5, v2), rep('E', 5, v1)}, []bool{true, true, true},
			repair.ByTimestamp, 0, []bool{false, true, false}},
		"a tie between values goes to the greater": {
			[]repair.Reply{rep('E', 5, v2), rep('E', 5, v1)}, []bool{true, true},
			repair.ByTimestamp, 0, []bool{false, true}},
		"no metadata: the majority wins": {
			[]repair.Reply{rep('X', 0, v1), rep('X', 0, v2), rep('X', 0, v2)}, []bool{true, true, true},
			repair.ByMajority, 1, []bool{true, false, false}},
		"no metadata and no majority: nothing": {
			[]repair.Reply{rep('X', 0, v1), rep('X', 0, v2), rep('X', 0, null)}, []bool{true, true, true},
			repair.NoRepair, -1, nil},
		"nobody answered": {
			[]repair.Reply{{}, {}}, []bool{false, false}, repair.NoRepair, -1, nil},
	}
	for name, c := range cases {
		d := repair.Decide(c.replies, c.ok, 2, nil)
		if d.Kind != c.kind || d.Winner != c.winner {
			t.Errorf("%s: kind %v winner %d, want %v %d", name, d.Kind, d.Winner, c.kind, c.winner)
			continue
		}
		for i, s := range c.stale {
			if d.Stale[i] != s {
				t.Errorf("%s: stale %v, want %v", name, d.Stale, c.stale)
				break
			}
		}
	}
}

// TestRepairWritesBringAReplicaToTheWinner applies each repair to a Redis
// holding the stale state and reads it back with the read script.
func TestRepairWritesBringAReplicaToTheWinner(t *testing.T) {
	c := redisFor(t)
	write(t, c, 10, "SET", "k", "old")
	write(t, c, 10, "HSET", "h", "f", "old")
	write(t, c, 10, "SADD", "s", "m")
	write(t, c, 10, "ZREM", "z", "m")
	c.Do("SET", "plain", "minority")
	for _, tc := range []struct {
		read []string
		win  repair.Reply
		kind repair.Kind
		want string
	}{
		{[]string{"GET", "k"}, rep('E', 20, "$3\r\nnew\r\n"), repair.ByTimestamp, "*3\r\n$1\r\nE\r\n$2\r\n20\r\n$3\r\nnew\r\n"},
		{[]string{"HGET", "h", "f"}, rep('R', 20, "$-1\r\n"), repair.ByTimestamp, "*3\r\n$1\r\nR\r\n$2\r\n20\r\n$-1\r\n"},
		{[]string{"SISMEMBER", "s", "m"}, rep('R', 20, ":0\r\n"), repair.ByTimestamp, "*3\r\n$1\r\nR\r\n$2\r\n20\r\n:0\r\n"},
		{[]string{"ZSCORE", "z", "m"}, rep('E', 20, "$3\r\n2.5\r\n"), repair.ByTimestamp, "*3\r\n$1\r\nE\r\n$2\r\n20\r\n$3\r\n2.5\r\n"},
		{[]string{"GET", "plain"}, rep('X', 0, "$8\r\nmajority\r\n"), repair.ByMajority, "*3\r\n$1\r\nX\r\n$1\r\n0\r\n$8\r\nmajority\r\n"},
		{[]string{"GET", "k"}, rep('E', 5, "$5\r\nolder\r\n"), repair.ByTimestamp, "*3\r\n$1\r\nE\r\n$2\r\n20\r\n$3\r\nnew\r\n"},
	} {
		op := repair.OpOf(lower(tc.read[0]))
		w, ok := repair.AppendRepair(nil, op, args(tc.read...), tc.win, tc.kind)
		if !ok {
			t.Fatalf("AppendRepair(%q, %+v) refused", tc.read, tc.win)
		}
		c.DoRaw(w)
		expect(t, "after repairing "+tc.read[0], read(t, c, tc.read...), tc.want)
	}
	if _, ok := repair.AppendRepair(nil, repair.Get, args("GET", "k"), rep('E', 5, "$-1\r\n"), repair.ByTimestamp); ok {
		t.Error("AppendRepair wrote back an existing key without a value")
	}
	clean, ok := repair.AppendCleanupFor(nil, repair.HGet, args("HGET", "h", "f"), 20)
	if !ok {
		t.Fatal("AppendCleanupFor refused HGET")
	}
	expect(t, "cleanup of the repaired field delete", c.DoRaw(clean), ":1\r\n")
}
