package repair

import (
	"bytes"

	"github.com/dynomite-go/dynomite/proxy/resp"
)

// Kind is how a repair chose its value.
type Kind uint8

const (
	// NoRepair: the replicas agree, or nothing can be decided.
	NoRepair Kind = iota
	// ByTimestamp: the newest metadata wins.
	ByTimestamp
	// ByMajority: no replica has metadata; the value a quorum holds wins.
	ByMajority
)

// String is the kind's label on the repair metrics.
func (k Kind) String() string {
	switch k {
	case ByTimestamp:
		return "timestamp"
	case ByMajority:
		return "majority"
	}
	return "none"
}

// Decision is which replica's reply wins and which replicas are stale.
type Decision struct {
	Kind Kind
	// Winner indexes the replies; -1 with NoRepair.
	Winner int
	// Stale[i] is true for the replicas that need the repair write.
	Stale []bool
}

// Decide compares the replicas' replies to one repairable read: ok[i] is
// false for a replica that did not answer, or whose answer did not parse
// (it is neither winner nor repaired). When any reply has metadata, the
// newest (Newer; of equal scores and statuses, the value more replicas
// hold) wins and every answered replica that differs from it is
// stale; one without metadata (Absent) is stale then too (upstream skips
// those and leaves them unrepaired). Without metadata anywhere, the value
// that at least quorum replies hold wins and the others are stale. stale
// is reused for Decision.Stale when it is long enough.
func Decide(replies []Reply, ok []bool, quorum int, stale []bool) Decision {
	d := Decision{Winner: -1}
	meta := false
	for i, r := range replies {
		if !ok[i] {
			continue
		}
		if r.Status != Absent {
			meta = true
		}
		if d.Winner < 0 || better(replies, ok, i, d.Winner) {
			d.Winner = i
		}
	}
	if d.Winner < 0 {
		return d
	}
	if !meta {
		d.Winner = majority(replies, ok, quorum)
		if d.Winner < 0 {
			return d
		}
	}
	if cap(stale) < len(replies) {
		stale = make([]bool, len(replies))
	}
	d.Stale = stale[:len(replies)]
	any := false
	w := replies[d.Winner]
	for i, r := range replies {
		d.Stale[i] = ok[i] && !same(r, w)
		any = any || d.Stale[i]
	}
	if !any {
		return Decision{Winner: -1}
	}
	d.Kind = ByTimestamp
	if !meta {
		d.Kind = ByMajority
	}
	return d
}

// better orders replies as Newer does, except that of two replies with the
// same score and status (a value changed behind the metadata's back) the
// one more replicas hold wins before the greater value.
func better(replies []Reply, ok []bool, i, j int) bool {
	a, b := replies[i], replies[j]
	if a.Score == b.Score && a.Status == b.Status {
		if ni, nj := holders(replies, ok, i), holders(replies, ok, j); ni != nj {
			return ni > nj
		}
	}
	return Newer(a, b)
}

// holders is the number of answered replies that say what reply i says.
func holders(replies []Reply, ok []bool, i int) int {
	n := 0
	for j := range replies {
		if ok[j] && same(replies[i], replies[j]) {
			n++
		}
	}
	return n
}

// majority returns the first reply whose value at least quorum answered
// replies share, or -1.
func majority(replies []Reply, ok []bool, quorum int) int {
	for i := range replies {
		if !ok[i] {
			continue
		}
		n := 0
		for j := range replies {
			if ok[j] && bytes.Equal(replies[i].Value, replies[j].Value) {
				n++
			}
		}
		if n >= quorum {
			return i
		}
	}
	return -1
}

// AppendRepair appends the write that brings a stale replica of the read
// args (op, args[0] its name) to win, the winning reply: with ByTimestamp
// the metadata script of the add or remove that matches win's status, at
// win's score (it applies only over older metadata, so a replica that
// moved on meanwhile keeps its newer value); with ByMajority the plain
// command, which leaves the metadata alone. ok is false when win cannot be
// written back (an existing key whose value is missing, a member whose
// SISMEMBER says 0).
func AppendRepair(dst []byte, op Op, args [][]byte, win Reply, kind Kind) (_ []byte, ok bool) {
	if !op.Read() || len(args) < 2 || (op != Get && len(args) < 3) {
		return dst, false
	}
	var buf [4][]byte
	w := buf[:0]
	val, isNil, valOK := content(win.Value)
	add := win.Status == Exists || (kind == ByMajority && !isNil && !(op == SIsMember && string(val) == "0"))
	wop := op.remOf()
	switch {
	case add && !valOK, add && isNil:
		return dst, false
	case add && op == SIsMember:
		if string(val) != "1" {
			return dst, false
		}
		w = append(w, []byte("SADD"), args[1], args[2])
	case add && op == ZScore:
		w = append(w, []byte("ZADD"), args[1], val, args[2])
	case add:
		w = append(w, []byte(op.addOf().String()), args[1])
		w = append(w, args[2:]...)
		w = append(w, val)
	default:
		w = append(w, []byte(wop.String()))
		w = append(w, args[1:]...)
	}
	if add {
		wop = op.addOf()
	}
	if kind == ByMajority {
		return resp.AppendCommand(dst, w), true
	}
	return AppendWrite(dst, wop, w, win.Score)
}

// content returns the payload of a bulk string or integer value, and
// whether it is a null.
func content(v []byte) (b []byte, isNil, ok bool) {
	if bytes.HasPrefix(v, []byte("$-1\r\n")) {
		return nil, true, true
	}
	b, ok = scalar(v)
	return b, false, ok
}

// AppendCleanupFor appends, for a read args whose winner was a delete at
// score, the cleanup of that delete's tombstone (AppendCleanup of the
// matching DEL, HDEL, SREM or ZREM).
func AppendCleanupFor(dst []byte, op Op, args [][]byte, score float64) ([]byte, bool) {
	var buf [3][]byte
	w := append(buf[:0], []byte(op.remOf().String()))
	w = append(w, args[1:]...)
	return AppendCleanup(dst, op.remOf(), w, score)
}
