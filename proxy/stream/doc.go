// Package stream copies the keys of given token ranges from one datastore
// (Redis or Memcached) to another, so that a replaced node, which starts
// with an empty datastore, or a node that takes over part of a rack's ring,
// can be filled from a replica in another rack. Warm-up, scaling and
// anti-entropy are meant to drive it; nothing in the node calls it yet.
//
// Upstream Dynomite never moves data. Netflix's sidecar (dynomite-manager)
// warms a node up with SLAVEOF, which copies the whole dataset rather than a
// range and replaces what the target holds; Redis Cluster's MIGRATE
// serializes a key in one command and blocks the source on a large one.
//
// # Ranges
//
// A [Range] is (Start, End] on a rack's 32-bit ring, wrapping past 2^32-1,
// exactly as proxy/ring assigns ownership: a node with token T owns the key
// tokens in (previous token in its rack, T]. [NodeRanges] lists them for a
// node with one or several tokens. [KeyFilter] hashes a key with the
// topology's own hash and hash tag (ring.Topology.KeyToken), so a key is in
// range exactly when the router would send it to that node.
//
// # Enumerating without blocking the source
//
// Redis: SCAN with COUNT, a cursor over the keyspace that does a bounded
// amount of work per call. SCAN returns every key present for the whole scan
// at least once (a key may come twice, and keys added or deleted meanwhile
// may or may not come), which is what makes resuming from a saved cursor
// safe. A key returned twice is counted twice in Scanned and Matched, and
// the second time as SkippedPresent. Memcached: `lru_crawler metadump`, answered by the LRU crawler
// thread in the background, one line per item ([ParseMetaItem]). The
// stream asks for "metadump hash", which walks the hash table and visits
// every item once (walking the LRUs, as "metadump all" does, can miss items
// that move meanwhile, says memcached's doc/protocol.txt), and falls back to
// "all" on a memcached without it; a crawler busy with another request is
// asked again for about ten seconds.
//
// # Copying
//
// Redis keys are copied with their remaining TTL: MEMORY USAGE and PTTL,
// then DUMP, on the source, pipelined for up to 64 keys, then RESTORE on the
// target with the TTL left (the time since PTTL answered is subtracted).
// RESTORE without REPLACE refuses a key the target holds (BUSYKEY): such a
// key was written to the target while the stream ran, is newer than the
// copy, and is counted as SkippedPresent. An optional [Versioner] can decide
// otherwise per key (the read-repair timestamps can implement it); it then
// replaces the key with RESTORE ... REPLACE, or counts SkippedNewer.
//
// A key above Options.LargeKeyBytes (or any key, when MEMORY USAGE is
// refused, by an ACL say) is copied by type in chunks, so that no
// single command holds either Redis for more than a few milliseconds (DUMP
// of a 1-million-field hash takes the source hundreds of milliseconds):
// strings with GETRANGE/APPEND in 512 KiB chunks, hashes HSCAN/HSET, sets
// SSCAN/SADD, sorted sets ZSCAN/ZADD, lists LRANGE/RPUSH, streams
// XRANGE/XADD (ids kept; consumer groups are not copied). The chunks build a
// temporary key (prefix "__dynomite_stream_tmp:"), which gets the source's
// absolute expiry with PEXPIREAT and is renamed into place with RENAMENX, so
// readers never see half a value and a write that reached the target
// meanwhile wins. A chunked copy is not a snapshot: a write to the source
// during it may be partly reflected, for anti-entropy to settle.
//
// Memcached items are read with get and written with add, which stores only
// when the target has no value (the same never-overwrite rule), with the TTL
// left: metadump's exp is absolute in the source's clock, which `stats time`
// gives; beyond memcached's 30-day limit on relative times the absolute time
// is sent.
//
// # Throttling, checkpoints, cancelling, progress
//
// A [Throttle] spaces keys and bytes evenly at a rate the caller can change
// while the stream runs (atomics). Its clock is injectable ([Clock]), which
// is how the tests check the rate without wall-clock timing.
//
// With Options.Checkpoint, the stream writes a JSON file every
// CheckpointEvery and when Run returns, atomically (temporary file, fsync,
// rename). It holds the SCAN cursor of the batch in progress, the keys of
// that batch already handled, and the counters. A new stream given the file
// resumes at the cursor, skips those keys, and copies the rest; a file from
// a finished stream makes Run return at once; a file for other endpoints or
// ranges is refused. A cancel that lands while a pipeline's RESTOREs are in
// flight may leave up to 64 keys copied but not yet recorded; the resumed
// stream finds them on the target and counts them as SkippedPresent.
// Memcached has no cursor: a resumed memcached stream
// reads the whole dump again, and the items the earlier run copied count as
// SkippedPresent.
//
// Run stops when its context is cancelled (the connections are closed,
// which unblocks any read) and returns the context's error after saving the
// checkpoint. [Stream.Progress] may be called from any goroutine: it reports
// the counters, this run's rates and an ETA from the source's key count
// (DBSIZE, or memcached's curr_items) and this run's scan rate.
//
// Errors: a per-key error reply (say, RESTORE refusing a payload from a
// newer Redis) is counted in Errors with LastError, and the stream goes on;
// a broken connection ends Run with an error naming the datastore and the
// command.
//
// # Figures
//
// On the shared 2-core development machine (load average about 15),
// BenchmarkRedisSmallKeys moved 1 million small strings between two local
// Redis at 84,000 to 93,000 keys/s, and BenchmarkRedisLargeKeysStall moved
// a 1-million-field hash and a 100 MB string with no source command longer
// than 1.3 ms in the source's SLOWLOG (an HSCAN), where one DUMP of that hash
// took 560 to 655 ms.
package stream
