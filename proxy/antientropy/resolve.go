package antientropy

import (
	"bytes"
)

// Version is what one replica holds for a key, as the key-by-key pass reads
// it.
type Version struct {
	// Present: the replica holds the key (otherwise it never had it, it
	// expired, or it was deleted).
	Present bool
	// Value is the digest of the value (type included); zero when absent.
	Value Digest
	// Expiry is the absolute expiry in Unix milliseconds, as the repairing
	// node's clock placed it (the time of the reply plus PTTL), or NoExpiry.
	Expiry int64
	// Added and Removed are the read-repair metadata of the key on this
	// replica: its score in `._add-set` and in `._rem-set` (proxy/repair), 0
	// when the replica has none.
	Added, Removed float64
}

// stamp is the timestamp the replica knows for the state it is in: the
// last write of a present key, the delete of an absent one; 0 when none is
// known.
func (v Version) stamp() float64 {
	if v.Present {
		return v.Added
	}
	return v.Removed
}

// Same reports whether two versions hold the same thing: both absent, or
// both present with the same value and expiries at most tolerance
// milliseconds apart (the replicas applied the write, and read its TTL, at
// slightly different times). Metadata is not compared: two replicas that
// hold the same value agree whatever their stamps say.
func Same(a, b Version, tolerance int64) bool {
	if a.Present != b.Present {
		return false
	}
	if !a.Present {
		return true
	}
	if a.Value != b.Value {
		return false
	}
	if (a.Expiry == NoExpiry) != (b.Expiry == NoExpiry) {
		return false
	}
	d := a.Expiry - b.Expiry
	return d <= tolerance && -d <= tolerance
}

// Rule says how a divergent key was resolved.
type Rule int

// The rules, in the order they are tried.
const (
	// Unresolved: no timestamp, no majority, and no replica in the
	// preferred datacenter (or none configured). The key is left as it is.
	Unresolved Rule = iota
	// ByTimestamp: the replica with the newest read-repair stamp wins.
	ByTimestamp
	// ByMajority: more than half the replicas hold the same version.
	ByMajority
	// ByPreferredDC: the first replica in repair_preferred_dc wins.
	ByPreferredDC
)

func (r Rule) String() string {
	switch r {
	case ByTimestamp:
		return "timestamp"
	case ByMajority:
		return "majority"
	case ByPreferredDC:
		return "preferred_dc"
	}
	return "unresolved"
}

// Diverges reports whether the replicas do not all hold the same version.
func Diverges(vs []Version, tolerance int64) bool {
	for _, v := range vs[1:] {
		if !Same(vs[0], v, tolerance) {
			return true
		}
	}
	return false
}

// Resolve picks the version every replica should hold: the index of a
// replica that holds it and the rule that chose it. dcs[i] is replica i's
// datacenter.
//
//  1. The newest stamp, where a replica knows one. A present key's stamp is
//     its `._add-set` score, an absent key's its `._rem-set` score (a
//     tombstone): a delete newer than every write wins, and a replica
//     without metadata is older than one with. Equal stamps are ordered as
//     read repair orders them (proxy/repair's Newer): a delete first, then
//     the greater value digest, so that every node picks the same winner.
//  2. Else the version more than half the replicas hold (a key absent from
//     the majority is deleted from the rest).
//  3. Else the first replica in the preferred datacenter.
func Resolve(vs []Version, dcs []string, preferredDC string, tolerance int64) (int, Rule) {
	best := -1
	for i, v := range vs {
		if v.stamp() == 0 {
			continue
		}
		if best < 0 || newer(v, vs[best]) {
			best = i
		}
	}
	if best >= 0 {
		return best, ByTimestamp
	}
	for i, v := range vs {
		n := 0
		for _, o := range vs {
			if Same(v, o, tolerance) {
				n++
			}
		}
		if 2*n > len(vs) {
			return i, ByMajority
		}
	}
	if preferredDC != "" {
		for i, dc := range dcs {
			if dc == preferredDC {
				return i, ByPreferredDC
			}
		}
	}
	return -1, Unresolved
}

func newer(a, b Version) bool {
	if a.stamp() != b.stamp() {
		return a.stamp() > b.stamp()
	}
	if a.Present != b.Present {
		return !a.Present
	}
	return bytes.Compare(a.Value[:], b.Value[:]) > 0
}
