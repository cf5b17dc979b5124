// Package hlc is the hybrid logical clock that stamps every write at its
// coordinator, so that replicas which received the same key from different
// coordinators (a partition healed, a hint replayed late, a read repair) can
// agree on one winner: the write with the highest stamp.
//
// # The stamp
//
// A [Timestamp] is a 64-bit number: the physical time in milliseconds since
// the Unix epoch in the high 48 bits and a logical counter in the low 16.
// Comparing two stamps as integers compares them in time first, then by the
// counter. Milliseconds keep the stamp comparable with the millisecond
// timestamps upstream Dynomite keeps in its read-repair metadata (its
// `current_timestamp_in_millis` in src/dyn_util.c): [Timestamp.Millis] is the
// same unit.
//
// # The clock
//
// [Clock.Now] returns a stamp that is never lower than, or equal to, any stamp
// the clock returned or merged before: the physical part follows the wall
// clock when it moves forward, and the counter advances while the wall clock
// stands still or goes backwards. [Clock.Observe] merges a stamp received from
// a peer, so that a node whose wall clock is behind still stamps its next
// write after every write it has seen (Kulkarni et al., "Logical Physical
// Clocks and Consistent Snapshots in Globally Distributed Databases", 2014).
//
// # What a clock jump does
//
// A wall clock stepped backwards does not make stamps go backwards: the clock
// keeps the highest physical time it has seen and counts up the logical part
// until the wall clock passes it again (when the counter would overflow, the
// physical part moves on by one millisecond). Writes in that period are
// therefore still ordered after earlier ones on the same node; against other
// nodes they are as early or late as the highest time this node has seen.
//
// A wall clock stepped forwards (or a peer whose clock runs ahead) pulls
// stamps forwards: writes stamped afterwards win over writes of other nodes
// made up to the size of the jump later in real time. To bound the damage a
// badly wrong peer can do, [Clock.Observe] refuses a stamp more than
// [Clock.MaxAhead] ahead of the local wall clock (it is still usable for last
// writer wins comparisons; it only does not move this node's clock).
//
// [New] reads the wall clock through a [Wall], which sees a step at most a
// second late. To save a clock read per copy, Observe checks MaxAhead
// against the highest wall time it has read rather than reading again: after
// the wall clock was stepped back, a stamp may lead it by MaxAhead plus the
// step until this node next stamps a write.
//
// # Ties
//
// Two coordinators can produce the same stamp. [Version] pairs a stamp with
// the coordinator's fixed node order, and [Version.Less] breaks ties by it,
// so every replica picks the same winner.
package hlc
