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
// answer; [Decide] compares the replicas' answers (the newest wins; without
// metadata anywhere, the value a quorum of replicas holds) and
// [AppendRepair] builds the write that brings the stale ones up to it. [AppendCleanup] removes
// a tombstone once every replica has the delete.
//
// # Cost
//
// With read repair off, the request path does one atomic load more per
// fanned-out request and nothing else: the Go benchmarks of a three-rack
// DC_QUORUM fan-out (proxy/readrepair_bench_test.go, BenchmarkQuorumGET*
// and BenchmarkQuorumSET*) allocate nothing with it off, and nothing with it
// on while the replicas agree (the scripts are built in pooled buffers, the
// comparison stays on the stack). With it on, each listed request carries
// its script to every replica (SET and DEL 0.4 KB, reads 0.6 KB, the field
// commands 2 KB, plus the arguments) and Redis runs it: the command plus two
// to four sorted set operations per key or field, and the SHA1 of the
// script. BenchmarkReadRepairCluster (proxy/readrepair_test.go) alternates
// SET and GET round trips at DC_SAFE_QUORUM between two in-process
// three-rack clusters of real Redis, one with repairs off and one on; on a
// 2-core machine shared with other work (load average 11 to 16, so only a
// rough figure) the medians of five runs of 10000 were SET 186 µs off and
// 242 µs on, GET 209 µs off and 261 µs on: a quarter to a third more per
// round trip. The proxy's own share of it is a few µs (the fan-out
// benchmarks: about 0.1 µs more for a SET, 1 to 3 µs for a GET); the rest is
// the scripts' bytes and Redis running them, on the same 2 cores.
package repair
