// Package hints is a coordinator's hinted handoff log: the writes a replica
// missed, kept on local disk until the replica is back, then replayed to it
// in order (Dynamo's hinted handoff; upstream Dynomite has none, so every
// outage used to leave the replicas different for good).
//
// # Who calls it
//
// The proxy's fan-out (proxy/fanout.go) calls [Store.Add] when a write's
// copy could not be delivered to a replica: the peer was down or marked
// down, the link broke, the copy timed out or the node was shutting down.
// The hint holds the target's name, the request's raw bytes, how it was to
// be sent (served by the target, or forwarded by it to its datacenter's
// racks) and the write's version (proxy/hlc: stamp and node order). The
// proxy's replayer (proxy/handoff.go) watches each target with hints and,
// once its peer pool is connected and it is not marked down, calls
// [Store.Replay], which sends the hints oldest first through the peer pool
// at hint_replay_rate bytes a second and deletes each segment once every
// record in it is acknowledged. Replay sends one hint at a time and waits
// for its reply, so a nearby replica takes some hundreds to a thousand hints
// a second (measured in the itest suites) whatever hint_replay_rate allows;
// the rate bounds what a replay of large values may take from the link. A
// target that left the ring keeps its hints (counted as pending) until a
// node of that name is back.
//
// # On disk
//
// hints_dir holds one directory per target (its name, path-escaped), each
// with numbered segment files (0000000000000001.hint, ...; a new one every
// 64 MiB and at every start, so that a segment from before a restart is
// never appended to) and a checkpoint file ("<segment> <offset>": where
// replay resumes). A record is its payload's length and CRC32C
// (Castagnoli), little-endian uint32s, then the payload: a version byte,
// the peer type, the stamp, the node order, the creation time in Unix
// milliseconds (uint64s) and the request. The checkpoint is rewritten
// (write and rename) every 64 acknowledged records, when a segment is done
// and when replay stops, so a restart in the middle of a replay resends at
// most 64 records; a replayed record is harmless anyway (see below).
//
// # What survives what
//
// Every hint is written to the file (one write system call) before the
// copy completes, so killing the process, SIGKILL included, loses no hint
// whatever hints_fsync says. hints_fsync only decides what a crash of the
// machine (power loss, kernel panic) can lose: "always" syncs each hint
// before the write's reply is sent (nothing is lost; every failed copy then
// costs a disk sync on the request path), "interval" (the default) syncs
// every second (up to the last second of hints), "never" leaves it to the
// operating system (typically up to 30 s on Linux).
//
// When the store opens, every segment is read through. A record whose
// checksum, length or version is wrong, or which is cut off (a machine crash
// in the middle of a write), is reported in the log with its file and
// offset; the records before it are kept and replayed, the rest of that
// segment is counted as dropped (reason "corrupt"), and the node starts and
// serves as usual.
//
// # Bounds, and never a silent skip
//
// A hint is not kept when its target has been failing for longer than
// max_hint_window (default 3 h; counted from the first failed copy of the
// episode, which ends when the target is back), when the target's log
// holds max_hints_bytes already (default 1 GiB), or when the disk fails.
// Each is counted per target and reason (dynomite_hints_dropped_total) and
// logged once per episode and reason: from then on that target misses
// writes until something else repairs it (read repair, a full copy).
//
// # Replay never overwrites newer data
//
// A hint replayed late must not undo a newer write of the same key made
// elsewhere meanwhile (a partition in which both sides wrote it). A replayed
// copy is marked as such in its peer frame (proxy/dnode, "h" stamp), and the
// replica applies it only when its version is newer than the version of the
// last write it applied for that key (proxy/lww.go: every write the
// datastore applied through the proxy appends its key hash and version to
// an in-memory log of the last 2^18 writes, which the first guarded request
// of an episode folds into a table of 4-way buckets that keep the newest
// versions); otherwise it answers without touching its datastore. The
// same check makes a hint harmless when its copy had arrived after all (a
// timeout after the write was applied): equal versions are not newer. Live
// copies for another datacenter ("f" stamp) are checked the same way when
// they arrive stamped more than a second behind the receiver's clock, since
// a copy held in a connection while the link was cut can arrive after newer
// writes there; one timed out there is hinted after the cross-datacenter
// peer timeout (over 5 s), so its replay is always checked.
//
// The table is in memory and bounded: after the replica restarts, or when
// the key's entry was evicted by another key, the replica does not know
// what it holds, and the replayed hint is applied. A key written on both
// sides of a partition can then end with the older value on that replica.
// Read repair (proxy's read_repairs, with upstream's timestamp metadata)
// settles such keys when they are read.
package hints
