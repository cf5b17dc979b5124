package proxy

import (
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
// that key alone would be (consistency.Strategy.Decide votes; this file
// splits the replies into elements, fanout's Split and Elem, and builds the
// client's reply):
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
func (c *cluster) perKeyCount(r *msg.Request) int {
	if r.Flags.Coalesce() != msg.CoalesceArray {
		return 0
	}
	if n := c.codec.keyCount(r); n > 1 {
		return n
	}
	return 0
}

// Elem is copy i's element for key k (its reply must be split); with Split
// it makes the fan-out the consistency.Elements of its multi-key read.
func (f *fanout) Elem(i, k int) []byte {
	sp := f.spans[i*f.nkeys+k]
	return f.subs[i].req.Reply[sp.start:sp.end]
}

// Split splits the reply of copy i (an answered one) into one element per
// key, once; false when it is not one element per key.
func (f *fanout) Split(i int) bool {
	if f.subs[i].split {
		return true
	}
	nk := f.nkeys
	// sized once per fan-out: the number of copies does not change
	if need := len(f.subs) * nk; len(f.spans) < need {
		if cap(f.spans) < need {
			f.spans = make([]span, need)
		}
		f.spans = f.spans[:need]
	}
	ok := f.c.codec.splitReply(f.subs[i].req.Reply, f.parent, f.spans[i*nk:(i+1)*nk])
	f.subs[i].split = ok
	return ok
}

// setKeysReply builds the parent's reply from the strategy's choices.
func (f *fanout) setKeysReply() {
	p := f.parent
	codec := f.c.codec
	dst := codec.openElems(p.ReplyBuf(), f.nkeys)
	for k, i := range f.set.Choice {
		dst = append(dst, f.Elem(i, k)...)
	}
	p.KeepReply(codec.closeElems(dst))
}
