// Package antientropy compares the replicas of token ranges, one per rack
// of every datacenter, and repairs the keys they disagree on: what hinted
// handoff (proxy/hints) and read repair (proxy/repair) did not catch, say a
// partition longer than max_hint_window, or a write whose hint was lost
// with its node's disk. Upstream Dynomite has no such repair: replicas
// that diverged stay so until a key is written again.
//
// # Digest trees
//
// For each range (stream.Range, keys placed on the ring by the router's own
// hash: stream.KeyFilter's rule) every replica's datastore is read once with
// SCAN, which never blocks Redis for long, unlike KEYS. Each key is read by a
// small script that answers its type, its PTTL and the SHA-1 of its value
// in a form that does not depend on Redis's encoding ([digestScript]). The
// key goes into a [Tree]: a Merkle tree whose leaves bucket keys by the top
// bits of a hash of the key ([KeyHash]), so that the same key lands in the
// same leaf on every replica. A key's entry digests the key, its value and
// its expiry bucket: the absolute expiry (the time of the reply plus PTTL)
// divided by Options.ExpiryBucket (10 s by default), so that a TTL ticking
// down between two reads does not read as a difference.
//
// Trees of the same range are compared top down ([DiffLeaves]): only where
// two children differ does the walk go on, and only the differing leaves'
// entries are compared key hash by key hash ([DiffKeys]). The trees keep
// hashes, not keys, so the key names of the differing hashes are found with
// a second SCAN of each datastore, which costs nothing but reading when the
// replicas agree (then there is no second pass at all).
//
// # Resolving and repairing a key
//
// Each candidate is read again on every replica (its digest, the read-repair
// metadata `._add-set` and `._rem-set` scores of proxy/repair, its DUMP).
// Expiries within one bucket width of each other count as equal here, so a
// key that straddled a bucket edge in the trees is not counted. A key that
// still differs is counted as found and resolved by [Resolve]: the newest
// timestamp where a replica knows one (a `._rem-set` tombstone newer than
// every write makes the delete win), else the version more than half the
// replicas hold, else the first replica in the preferred datacenter
// (repair_preferred_dc). A key absent from a replica is a difference like
// any other.
//
// The winner's copy is written over each other replica's by a script
// ([applyScript]) that first checks the replica still holds what was read
// (its DUMP, or nothing): a client write landing meanwhile is never
// overwritten by the older version, and the key is counted as
// ChangedMeanwhile for the next repair. The value goes with RESTORE ...
// REPLACE and the TTL left, or the key is deleted; the winner's metadata for
// the key (its scores and its `._add-set_K`/`._rem-set_K` field sets) goes
// with it. The throttle (stream.Throttle) paces the keys read for the trees
// and the keys and bytes written.
//
// # Memcached
//
// Memcached replicas are compared the same way (Options.Protocol): keys
// from `lru_crawler metadump hash` on a connection of its own, values,
// client flags, TTLs and CAS from the meta command `mg`; the winner is
// written with `ms` in add mode or with the loser's CAS, a delete with
// `md` and the CAS, so a write that lands meanwhile is never overwritten.
// Memcached keeps no timestamp of a write: its keys are resolved by
// majority, else by the preferred datacenter.
//
// # Figures
//
// On the shared 2-core development machine (load average 12 to 16),
// BenchmarkTreeBuild (entry digests, sort and Merkle digests of 100,000
// keys, no I/O) ran at 160,000 to 480,000 keys/s, and
// BenchmarkDigestPassRedis (SCAN and the digest script against a real
// Redis of 100,000 small strings, pipelined 64 keys deep) at 52,000 to
// 69,000 keys/s: the datastore round trips, not the trees, bound a repair.
// The replicas are read in parallel, so a repair of three replicas reads
// about three times that.
//
// # Limits
//
// A Redis key's digest reads its whole value in one script, like DUMP: a
// key of millions of elements holds Redis for as long as HGETALL of it
// would, and its repair is one RESTORE. Two keys whose 64-bit KeyHash
// collide in one range count as one in the trees (about one chance in 10^7
// for a million keys).
package antientropy
