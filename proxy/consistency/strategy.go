package consistency

import "bytes"

// Strategy is a level applied to one request: which replicas it asks and
// when their outcomes decide the client's answer. It is a small value, made
// per request; its methods allocate nothing.
type Strategy struct {
	Level Level
	// Write: the request changes data. Writes go to every replica whatever
	// the level, and copies still pending when the answer is decided are
	// never cancelled: they are the replication.
	Write bool
	// LocalRackOnly: a read that upstream always sends to the local rack's
	// owner alone, even at a quorum level (HGETALL, HKEYS, HVALS and the
	// scans: their replies are not comparable byte for byte).
	LocalRackOnly bool
}

// Targets says whose replies count for a request.
type Targets uint8

const (
	// LocalRack: the token owner in the local rack, and on error the other
	// replicas one at a time (the local racks, then the remote
	// datacenters): DC_ONE reads and local-rack-only reads.
	LocalRack Targets = iota
	// LocalDC: the owner in every rack of the local datacenter.
	LocalDC
	// EveryDC: the owner in every rack of every datacenter.
	EveryDC
)

// Targets returns whose replies count; see ForwardsRemote for the copies
// whose replies do not.
func (s Strategy) Targets() Targets {
	switch {
	case !s.Write && (s.Level == DCOne || s.LocalRackOnly):
		return LocalRack
	case s.Level == DCEachSafeQuorum:
		return EveryDC
	}
	return LocalDC
}

// OneAtATime reports whether one replica is asked at a time, the next only
// after an error (upstream's DC_ONE read).
func (s Strategy) OneAtATime() bool { return s.Targets() == LocalRack }

// ForwardsRemote reports whether each remote datacenter also gets one copy,
// sent to one rack there which fans it out to its own racks (upstream's
// req_forward_remote_dc and DMSG_REQ_FORWARD), and whose reply is
// swallowed: writes below DC_EACH_SAFE_QUORUM.
func (s Strategy) ForwardsRemote() bool { return s.Write && s.Targets() == LocalDC }

// Needed reports whether a copy not sent yet must still be sent once the
// answer is decided or not (decided). Until the answer is decided every copy
// is needed; after, only the copies of a write and the copies whose reply
// does not count (replication of scripts, forwarded writes) are.
func (s Strategy) Needed(r Replica, decided bool) bool {
	return !decided || s.Write || !r.Counted
}

// Quorum is the number of agreeing replies a quorum level needs from a
// datacenter with n counted replicas (upstream: racks/2+1).
func Quorum(n int) int { return n/2 + 1 }

// Outcome is where one replica's copy stands.
type Outcome uint8

const (
	// Pending: no reply yet (or the copy is being retried elsewhere).
	Pending Outcome = iota
	// OK: the replica replied; Replica.Reply holds the reply.
	OK
	// Error: the copy failed (not connected, timed out, refused).
	Error
)

// Replica is what a strategy knows of one copy of a request.
type Replica struct {
	// Reply is the reply's bytes once Outcome is OK; replies are compared
	// byte for byte (upstream compares a CRC32 of the same bytes).
	Reply []byte
	// DC is the datacenter's index.
	DC int
	// Seq is the order in which the copies completed, from 1 (0 while
	// pending). A DC_ONE write whose local rack failed answers with the
	// first other rack that succeeded.
	Seq int
	// Counted: the reply counts for the level. Copies to remote
	// datacenters below DC_EACH_SAFE_QUORUM are not counted: their replies
	// are swallowed.
	Counted bool
	Outcome Outcome
}

// Set is a request's copies as the strategy sees them.
type Set struct {
	Replicas []Replica
	// DCs is the number of datacenters (DC_EACH_SAFE_QUORUM needs a quorum
	// in each).
	DCs int
	// LocalDC is the local datacenter's index.
	LocalDC int
	// Primary is the index of the copy to the local rack's owner, -1 when
	// there is none. With one replica at a time it is the one counted copy.
	Primary int
	// Choice, when not empty, asks for a multi-key read to be decided key by
	// key: len(Choice) keys, and Decide sets Choice[k] to the replica whose
	// element for key k the client gets (see Elements).
	Choice []int
	// Versions, when set, orders the replies of a read whose replies carry
	// their write's timestamp (read repair): a quorum of replicas that
	// disagree then answers with the newest reply, at every level, instead
	// of failing or taking the first.
	Versions Versions
}

// Versions orders replies that carry a version (proxy/repair's
// {status, score, value} replies).
type Versions interface {
	// Newer reports whether replica i's reply (OK) is newer than replica
	// j's (OK).
	Newer(i, j int) bool
}

// Elements is a caller's view of multi-key replies (MGET, a memcache get of
// several keys), to decide them key by key. The proxy splits replies with
// its protocols' parsers; the strategy only votes.
type Elements interface {
	// Split reports whether replica i's reply (OK) is one element per key.
	// A reply that is not (an error reply) cannot be voted on key by key:
	// the whole replies are compared instead. It may be called again for
	// the same replica.
	Split(i int) bool
	// Elem is replica i's element for key k, after Split(i) returned true.
	Elem(i, k int) []byte
}

// Verdict is what the client gets.
type Verdict uint8

const (
	// Undecided: wait for more replies.
	Undecided Verdict = iota
	// UseReply: Decision.Replica's reply.
	UseReply
	// UseKeys: for each key k, the element of replica Set.Choice[k].
	UseKeys
	// UseError: Decision.Replica's error (DC_ONE; not a quorum failure).
	UseError
	// NoQuorum: the level was not achieved. Decision.Replica is the copy
	// whose error the client gets, or -1 for "Failed to achieve Quorum".
	NoQuorum
)

// Decision is a strategy's verdict on a Set.
type Decision struct {
	Verdict Verdict
	Replica int
}

// Decided reports whether the client's answer is known.
func (d Decision) Decided() bool { return d.Verdict != Undecided }

var undecided = Decision{Verdict: Undecided, Replica: -1}

// Decide returns the client's answer given the outcomes so far, or
// Undecided. It follows upstream's response manager (dyn_response_mgr.c)
// and DC_ONE handling (dyn_client.c):
//
//   - one at a time: the counted copy's reply or error;
//   - DC_ONE write: the local rack's reply; when the local rack failed, the
//     first other local rack that succeeded, else the local rack's error;
//   - DC_QUORUM, DC_SAFE_QUORUM: as soon as a quorum of the local
//     datacenter agrees, that reply; with every reply in, see decideDC;
//   - DC_EACH_SAFE_QUORUM: with every reply in, each remote datacenter's
//     safe quorum, then the local one's, whose reply the client gets.
//
// keys may be nil when set.Choice is empty. Decide allocates nothing,
// except to vote key by key among more than 16 racks of one datacenter.
func (s Strategy) Decide(set *Set, keys Elements) Decision {
	switch {
	case s.OneAtATime():
		switch set.Replicas[set.Primary].Outcome {
		case OK:
			return Decision{UseReply, set.Primary}
		case Error:
			return Decision{UseError, set.Primary}
		}
		return undecided
	case s.Level == DCOne: // a write
		return decideOneWrite(set)
	case s.Level == DCEachSafeQuorum:
		if !allCountedDone(set) {
			return undecided
		}
		// The local datacenter is decided last, so that the key choices
		// left in set.Choice are its own.
		for dc := 0; dc < set.DCs; dc++ {
			if dc == set.LocalDC {
				continue
			}
			if d := decideDC(set, keys, dc, true); d.Verdict == NoQuorum {
				return d
			}
		}
		return decideDC(set, keys, set.LocalDC, true)
	}
	dc := set.LocalDC
	q := Quorum(counted(set, dc))
	if best, n := agreement(set, dc); n >= q {
		return Decision{UseReply, best}
	}
	if len(set.Choice) > 0 && answered(set, dc) >= q {
		// a multi-key read is done early once every key has its quorum
		if all, _ := voteKeys(set, keys, dc, q, true); all {
			return Decision{UseKeys, -1}
		}
	}
	if !allCountedDone(set) {
		return undecided
	}
	return decideDC(set, keys, dc, s.Level == DCSafeQuorum)
}

// decideOneWrite: the local rack's owner acknowledges a DC_ONE write; the
// other local racks stand in for it only when it failed.
func decideOneWrite(set *Set) Decision {
	p := set.Primary
	if set.Replicas[p].Outcome == OK {
		return Decision{UseReply, p}
	}
	other, seq := -1, 0
	for i, r := range set.Replicas {
		if i != p && r.Counted && r.Outcome == OK && (other < 0 || r.Seq < seq) {
			other, seq = i, r.Seq
		}
	}
	if set.Replicas[p].Outcome == Error && other >= 0 {
		return Decision{UseReply, other}
	}
	if allCountedDone(set) {
		if other >= 0 {
			return Decision{UseReply, other}
		}
		return Decision{UseError, p}
	}
	return undecided
}

// decideDC decides datacenter dc once all its counted replies are in.
// Without agreement DC_QUORUM returns the first good reply (in replica
// order, as upstream); the safe levels fail. Fewer good replies than the
// quorum fail at every level, with the first error. A multi-key read whose
// replies all split into one element per key is decided key by key the same
// way, the unsafe level taking a key without quorum from the first good
// reply. With set.Versions, replies without agreement give the newest one,
// at every level.
func decideDC(set *Set, keys Elements, dc int, safe bool) Decision {
	q := Quorum(counted(set, dc))
	good, firstGood, firstErr := 0, -1, -1
	for i, r := range set.Replicas {
		if !r.Counted || r.DC != dc {
			continue
		}
		switch r.Outcome {
		case Error:
			if firstErr < 0 {
				firstErr = i
			}
		case OK:
			good++
			if firstGood < 0 {
				firstGood = i
			}
		}
	}
	if best, n := agreement(set, dc); n >= q {
		return Decision{UseReply, best}
	}
	if good < q {
		return Decision{NoQuorum, firstErr}
	}
	if set.Versions != nil {
		// a quorum answered but disagrees: the newest reply wins (its
		// writer repairs the others)
		newest := firstGood
		for i := range set.Replicas {
			if set.Replicas[i].Counted && set.Replicas[i].DC == dc && set.Replicas[i].Outcome == OK && set.Versions.Newer(i, newest) {
				newest = i
			}
		}
		return Decision{UseReply, newest}
	}
	if len(set.Choice) > 0 {
		if all, splittable := voteKeys(set, keys, dc, q, false); splittable {
			switch {
			case all:
				return Decision{UseKeys, -1}
			case safe:
				return Decision{NoQuorum, -1}
			}
			for k, c := range set.Choice {
				if c < 0 {
					set.Choice[k] = firstGood
				}
			}
			return Decision{UseKeys, -1}
		}
	}
	if safe {
		return Decision{NoQuorum, -1}
	}
	return Decision{UseReply, firstGood}
}

// good reports whether replica i is a counted copy of dc that replied.
func good(set *Set, i, dc int) bool {
	r := &set.Replicas[i]
	return r.Counted && r.DC == dc && r.Outcome == OK
}

// counted is the number of counted copies of dc.
func counted(set *Set, dc int) int {
	n := 0
	for _, r := range set.Replicas {
		if r.Counted && r.DC == dc {
			n++
		}
	}
	return n
}

// answered is the number of counted copies of dc that replied.
func answered(set *Set, dc int) int {
	n := 0
	for i := range set.Replicas {
		if good(set, i, dc) {
			n++
		}
	}
	return n
}

func allCountedDone(set *Set) bool {
	for _, r := range set.Replicas {
		if r.Counted && r.Outcome == Pending {
			return false
		}
	}
	return true
}

// agreement returns the first replica (in replica order) holding the reply
// most of dc's replies agree on so far, and how many agree.
func agreement(set *Set, dc int) (best, bestN int) {
	best = -1
	for a := range set.Replicas {
		if !good(set, a, dc) {
			continue
		}
		n := 0
		for b := range set.Replicas {
			if good(set, b, dc) && bytes.Equal(set.Replicas[a].Reply, set.Replicas[b].Reply) {
				n++
			}
		}
		if n > bestN {
			best, bestN = a, n
		}
	}
	return best, bestN
}

// voteKeys sets set.Choice[k], for every key, to the first replica (in
// replica order) holding the element most of dc's replies agree on, and
// reports whether every key reached quorum q; a key below q gets -1. With
// stopEarly it returns at the first key below q (Choice is then
// incomplete). splittable is false when a reply is not one element per
// key: compare whole replies instead.
func voteKeys(set *Set, keys Elements, dc, q int, stopEarly bool) (all, splittable bool) {
	// dc's answered replicas, and one key's elements of each: on the stack
	// unless more than 16 racks of one datacenter answered
	var goodBuf [16]int
	var elemBuf [16][]byte
	goods := goodBuf[:0]
	for i := range set.Replicas {
		if good(set, i, dc) {
			if !keys.Split(i) {
				return false, false
			}
			goods = append(goods, i)
		}
	}
	all = true
	for k := range set.Choice {
		elems := elemBuf[:0]
		for _, i := range goods {
			elems = append(elems, keys.Elem(i, k))
		}
		best, bestN := -1, 0
		for a, ea := range elems {
			n := 0
			for _, eb := range elems {
				if bytes.Equal(ea, eb) {
					n++
				}
			}
			if n > bestN {
				best, bestN = goods[a], n
			}
		}
		set.Choice[k] = best
		if bestN < q {
			all = false
			if stopEarly {
				return false, true
			}
			set.Choice[k] = -1
		}
	}
	return all, true
}
