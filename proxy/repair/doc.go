// Package repair is read repair for Redis: the metadata that lets replicas
// agree on the newest value of a key, the Lua scripts that keep it, the
// parser of what repairable reads return, and the pure decision of which
// replicas are stale and what to write to them. The proxy's fan-out does the
// sending (proxy/fanout.go, proxy/readrepair.go); nothing here does I/O.
//
// # Metadata (upstream's layout)
//
// Each datastore keeps, as upstream Dynomite does (src/proto/dyn_proto_repair.h):
//
//   - the sorted set `._add-set`: member = a key, score = the timestamp of
//     the last write to it;
//   - the sorted set `._rem-set`: member = a deleted key (a tombstone),
//     score = the timestamp of the delete;
//   - per hash, set or sorted set key K, the sorted sets `._add-set_K` and
//     `._rem-set_K`, the same for K's fields or members.
//
// A cluster that ran upstream with read repairs on keeps its meaning: the
// scores upstream wrote (milliseconds since the epoch) compare with ours.
//
// # Scores
//
// A write is stamped by its coordinator's hybrid logical clock
// (proxy/hlc): 48 bits of milliseconds and a 16-bit counter. A sorted set
// score is a float64, exact for integers up to 2^53, and the milliseconds of
// today already take 41 bits. [Score] is therefore the milliseconds plus the
// counter in 1/2048 steps, the counter saturating at 2047: that fraction
// stays exact until the milliseconds pass 2^42 (the year 2109), and a score
// is upstream's millisecond score plus less than one millisecond. Two writes
// that land on the same score (the same millisecond, 2048 or more writes of
// one coordinator, or two coordinators) are a tie: the scripts apply a write
// whose score equals the stored one, and [Newer] orders tied replies by
// status (a delete wins) then by value, so every coordinator picks the same
// winner.
//
// # Commands
//
// Writes SET, DEL, HSET, HMSET, HDEL, SADD, SREM, ZADD and ZREM are rewritten
// ([AppendWrite]) into EVAL of scripts that apply the write only when it is
// not older than what the key or field last saw, and record the metadata.
// Reads GET, HGET, SISMEMBER and ZSCORE are rewritten ([AppendRead]) into
// scripts that answer {status, score, value}: status E (the key or field
// exists), R (it was deleted) or X (no metadata). [ParseRead] reads that
// answer; [Plan] compares the replicas' answers and returns the writes that
// bring the stale ones up to the newest; without metadata anywhere it
// repairs to the value a quorum of replicas holds. [AppendCleanup] removes
// a tombstone once every replica has the delete.
package repair
