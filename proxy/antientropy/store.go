package antientropy

import (
	"context"
	"errors"

	"github.com/dynomite-go/dynomite/proxy/stream"
)

// store is one connection to one datastore, with what a repair does on
// it: Redis (redis.go) or Memcached (memcache.go). It is not safe for
// concurrent use.
type store interface {
	// size is the datastore's key count (DBSIZE, curr_items).
	size() (int64, error)
	// scan enumerates every key, count at a time, without blocking the
	// datastore (SCAN; lru_crawler metadump), and calls fn with each page.
	scan(ctx context.Context, count int, fn func(page [][]byte) error) error
	// digests reads keys' value digests and expiries for the trees.
	digests(ctx context.Context, keys [][]byte) ([]keyDigest, error)
	// read reads keys for the key-by-key pass; a per-key failure is in
	// the key's copyState.err.
	read(ctx context.Context, keys []string) ([]copyState, error)
	// apply writes win's copy of key over lose's unless lose's changed
	// since it was read; it reports whether it wrote. A per-key failure is
	// a keyError (or a stream.RedisError).
	apply(ctx context.Context, key string, win, lose *copyState, now int64) (bool, error)
	close()
}

// keyDigest is one key as the trees see it.
type keyDigest struct {
	present bool
	value   Digest
	expiry  int64
}

// copyState is one replica's copy of a key as the key-by-key pass read it:
// its Version, and what the repair needs to write it elsewhere or to check
// it did not change meanwhile.
type copyState struct {
	v   Version
	err error
	st  store
	// Redis: the key's DUMP (nil when absent), the DUMPs of its
	// `._add-set_K` and `._rem-set_K`, and its scores as Redis printed
	// them. Memcached: the value in dump, its flags and CAS.
	dump          []byte
	fields        [2][]byte
	added, remove []byte
	flags         uint32
	cas           uint64
}

// keyError is a failure that concerns one key only: the repair counts it
// and goes on.
type keyError struct{ error }

func (e keyError) Unwrap() error { return e.error }

// isKeyError reports a per-key failure (an error reply), as opposed to a
// broken connection.
func isKeyError(err error) bool {
	var re stream.RedisError
	var ke keyError
	return errors.As(err, &re) || errors.As(err, &ke)
}
