package ring

import "bytes"

// HashTag returns the part of key that is hashed under the two-byte hash tag
// tag (upstream's `hash_tag`, e.g. "{}"), the way upstream's parsers extract
// it: find the first tag[0] in key, then the first tag[1] after it. If both
// are found, the result is the bytes strictly between them, which may be
// empty; otherwise it is the whole key.
//
// An empty result means the key is key-less for placement: upstream sends
// such a request to the local node rather than hashing it ("{}foo" is served
// locally), and [Topology.Lookup] does the same.
//
// The result aliases key; HashTag never allocates. Only the first opening
// byte counts: "a}b{c}" gives "c", "{a}{b}" gives "a", and "{a" gives "{a".
func HashTag(key []byte, tag [2]byte) []byte {
	open := bytes.IndexByte(key, tag[0])
	if open < 0 {
		return key
	}
	rest := key[open+1:]
	end := bytes.IndexByte(rest, tag[1])
	if end < 0 {
		return key
	}
	return rest[:end:end]
}
