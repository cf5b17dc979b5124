package ring

import (
	"errors"
	"fmt"
	"strings"
)

// HashFunc maps a key (already reduced by the hash tag, if any) to its
// 32-bit ring position. Every HashFunc in this package is pure, safe for
// concurrent use and allocation-free.
type HashFunc func(key []byte) uint32

// DefaultHash is the hash upstream uses when the `hash` key is absent
// (dyn_conf.c): its MurmurHash2 variant.
const DefaultHash = "murmur"

// ErrUnknownHash is returned by [ParseHash] for a name upstream does not know.
var ErrUnknownHash = errors.New("unknown hash")

// hashes lists upstream's hash names (dyn_hashkit.h HASH_CODEC) in upstream's
// order. The names are exact and case-sensitive, as in upstream's config.
var hashes = [...]struct {
	name string
	fn   HashFunc
}{
	{"one_at_a_time", oneAtATime},
	{"md5", md5Hash},
	{"crc16", crc16},
	{"crc32", crc32Memcached},
	{"crc32a", crc32a},
	{"fnv1_64", fnv1In64},
	{"fnv1a_64", fnv1aIn64},
	{"fnv1_32", fnv1In32},
	{"fnv1a_32", fnv1aIn32},
	{"hsieh", hsieh},
	{"murmur", murmur},
	{"jenkins", jenkins},
	{"murmur3", murmur3},
}

// HashNames returns the names [ParseHash] accepts, in upstream's order
// (one_at_a_time, md5, crc16, crc32, crc32a, fnv1_64, fnv1a_64, fnv1_32,
// fnv1a_32, hsieh, murmur, jenkins, murmur3).
func HashNames() []string {
	names := make([]string, len(hashes))
	for i, h := range hashes {
		names[i] = h.name
	}
	return names
}

// HashByName returns the hash function called name, matched exactly and
// case-sensitively against upstream's names (see [HashNames]).
func HashByName(name string) (HashFunc, bool) {
	for _, h := range hashes {
		if h.name == name {
			return h.fn, true
		}
	}
	return nil, false
}

// ParseHash is [HashByName] with an error that names the value and lists the
// valid names. The error wraps [ErrUnknownHash]. An empty name is an error;
// callers that treat "unset" as the default should map it to [DefaultHash].
func ParseHash(name string) (HashFunc, error) {
	if fn, ok := HashByName(name); ok {
		return fn, nil
	}
	return nil, fmt.Errorf("ring: %w %q (valid: %s)", ErrUnknownHash, name, strings.Join(HashNames(), ", "))
}
