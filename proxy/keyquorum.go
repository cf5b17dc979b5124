package proxy

import (
	"bytes"

	"github.com/dynomite-go/dynomite/proxy/msg"
)

// Per-key quorum of multi-key reads.
//
// A multi-key read (MGET; memcache get and gets with several keys: the reads
// whose replies are one element per key, msg.CoalesceArray),
// whole or as one fragment of a fragmented request, is one request per rack.
// Comparing the racks' whole replies finds no majority as soon as racks lack
// different keys, which is normal after a restart since nothing repairs, and
// the answer then depended on which rack came first. So at DC_QUORUM,
// DC_SAFE_QUORUM and DC_EACH_SAFE_QUORUM each key is decided as a GET of
// that key alone would be (fanout.decide, fanout.quorumOf):
//
//   - the value that a quorum (a majority of the datacenter's racks) returned
//     for the key wins; a miss is a value like any other, so a key that only
//     one rack of three holds reads as a miss;
//   - the client gets its reply as soon as every key has a quorum, as a GET
//     does as soon as its quorum agrees;
//   - fewer good replies than a quorum fail the whole request with the first
//     error, as they fail a GET;
//   - with every reply in and a key still without a quorum, DC_QUORUM takes
//     that key's value from the first rack (in rack order) that answered, and
//     the safe levels fail the whole request with "Failed to achieve Quorum":
//     a reply cannot carry values for some keys and an error for others, and
//     a miss instead would claim that the key does not exist.
//
// A reply that is not one element per key (an error reply, a memcache error
// line) cannot be voted on key by key: the whole replies are compared then,
// as for any other command. When the whole replies agree (the steady state)
// nothing is split at all.

// span is one element of a reply: reply[start:end]. An empty span is a
// memcache miss (no VALUE block for the key).
type span struct{ start, end int }

// maxKeepSpans bounds the span buffer a pooled fan-out keeps (MGETs of a
// few thousand keys across three racks); larger ones are dropped.
const maxKeepSpans = 8 << 10

// perKeyCount returns how many keys r reads when it is a multi-key read
// whose quorum is decided key by key (its reply is one element per key:
// msg.CoalesceArray), else 0. Args of a fragment hold its keys too
// (multiKey sets them).
func (s *Server) perKeyCount(r *msg.Request) int {
	if r.Flags.Coalesce() != msg.CoalesceArray {
		return 0
	}
	if n := s.codec.keyCount(r); n > 1 {
		return n
	}
	return 0
}

// good reports whether sub i is a counted copy of dc that answered.
func (f *fanout) good(i, dc int) bool {
	si := &f.subs[i]
	return si.role == roleCounted && si.dc == dc && si.done && si.req.Err == nil
}

// answered counts dc's counted copies that answered.
func (f *fanout) answered(dc int) int {
	n := 0
	for i := range f.subs {
		if f.good(i, dc) {
			n++
		}
	}
	return n
}

// elem is sub i's element for key k (its reply must be split).
func (f *fanout) elem(i, k int) []byte {
	sp := f.spans[i*f.nkeys+k]
	return f.subs[i].req.Reply[sp.start:sp.end]
}

// splitAnswered splits the replies of dc's answered copies that are not
// split yet; false when one of them is not one element per key.
func (f *fanout) splitAnswered(dc int) bool {
	nk := f.nkeys
	// sized once per fan-out: the number of copies does not change
	if need := len(f.subs) * nk; len(f.spans) < need {
		if cap(f.spans) < need {
			f.spans = make([]span, need)
		}
		f.spans = f.spans[:need]
	}
	for i := range f.subs {
		if !f.good(i, dc) || f.subs[i].split {
			continue
		}
		sp := f.spans[i*nk : (i+1)*nk]
		if !f.c.s.codec.splitReply(f.subs[i].req.Reply, f.parent, sp) {
			return false
		}
		f.subs[i].split = true
	}
	return true
}

// keyVotes sets f.choice[k], for every key, to the first copy (in rack
// order) holding the value most of dc's answers agree on, and reports
// whether every key reached quorum q. With stopEarly it returns at the
// first key below q (choice is then incomplete). splittable is false when a
// reply cannot be split: compare whole replies instead.
func (f *fanout) keyVotes(dc, q int, stopEarly bool) (all, splittable bool) {
	if !f.splitAnswered(dc) {
		return false, false
	}
	nk := f.nkeys
	if cap(f.choice) < nk {
		f.choice = make([]int, nk)
	}
	f.choice = f.choice[:nk]
	all = true
	for k := 0; k < nk; k++ {
		best, bestN := -1, 0
		for a := range f.subs {
			if !f.good(a, dc) {
				continue
			}
			ea, n := f.elem(a, k), 0
			for b := range f.subs {
				if f.good(b, dc) && bytes.Equal(ea, f.elem(b, k)) {
					n++
				}
			}
			if n > bestN {
				best, bestN = a, n
			}
		}
		f.choice[k] = best
		if bestN < q {
			all = false
			if stopEarly {
				return false, true
			}
			f.choice[k] = -1
		}
	}
	return all, true
}

// setKeysReply builds the parent's reply from f.choice.
func (f *fanout) setKeysReply() {
	p := f.parent
	codec := f.c.s.codec
	dst := codec.openElems(p.ReplyBuf(), f.nkeys)
	for k, i := range f.choice {
		dst = append(dst, f.elem(i, k)...)
	}
	p.KeepReply(codec.closeElems(dst))
}
