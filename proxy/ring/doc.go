// Package ring decides which nodes hold a key, placing keys exactly where
// Netflix Dynomite does, and holds the cluster topology that the router reads
// for every request.
//
// # Overview
//
// A cluster is made of datacenters, a datacenter of racks, and a rack of
// nodes. Each rack holds one full copy of the data, so within a datacenter
// the replication factor is the number of racks. Each rack is a separate ring
// (a continuum) of 32-bit [Token] values. Every node owns one or more tokens
// in its own rack (the `tokens` config key, read by [ParseTokens]). Equal
// tokens in different racks are normal; within one rack they are an error.
//
// A [Topology] is the rings of every rack, built once by [NewTopology] and
// never changed afterwards. Datacenters are indexed in name order, and racks
// within a datacenter in name order too.
//
// # Which node owns a key
//
// These steps turn a key into its owner in a given rack:
//
//  1. Hash tag. If a hash tag is configured (`hash_tag`, e.g. "{}"), only the
//     bytes between the first tag[0] and the next tag[1] after it are hashed.
//     Without such a pair, the whole key is hashed. See [HashTag]:
//     "user:{1000}:profile" hashes "1000".
//  2. Key-less requests. If nothing is left to hash (no key, an empty key, or
//     an empty tag as in "{}foo"), the request belongs to the local node, in
//     every rack and every datacenter ([Topology.KeyToken] reports ok=false
//     and [Topology.Lookup] returns [Topology.Local]).
//  3. Hash. Otherwise the bytes are hashed to a token with the configured
//     function (`hash`, default "murmur"; see [ParseHash] and [HashNames]).
//  4. Owner. Within a rack, the owner is the node holding the first token
//     that is greater than or equal to the key's token. A key above the
//     largest token wraps around to the node holding the smallest token. So a
//     node with token T owns the keys in (previous token, T]. A key equal to
//     T belongs to T's node, and key 0 (or any key at or below the smallest
//     token) belongs to the smallest token's node. This is ">=", not the
//     strict ">" that dskit's ring uses. See [Topology.Owner].
//
// # Which racks get a copy
//
// Within the local datacenter, a request goes to the key's owner in the
// local rack, or to the owner in every local rack when the router fans out
// (writes, and reads at quorum levels). [Topology.LocalReplicas] lists those
// owners in rack order, so element [Topology.LocalRack] is the local rack's
// owner.
//
// A remote datacenter gets one copy, sent to the key's owner in a single
// preselected rack, which then fans the request out within its own
// datacenter. The preselected rack is chosen the way upstream's
// preselect_remote_rack_for_replication does it. Take the local rack's index
// i among the local datacenter's racks, sorted by name. In a remote
// datacenter with n racks, also sorted by name, the chosen rack is i % n. If
// that rack cannot take the request, the other racks of that datacenter are
// tried in name order. [Topology.PreselectedRack], [Topology.RemoteRackOrder]
// and [Topology.RemoteOwners] give the choice and the failover order.
// [Topology.ReplicasForToken] returns the local owners followed by one
// preselected owner per remote datacenter. [Topology.RackOwners] returns the
// owner in every rack of any one datacenter (for a remote coordinator's
// fan-out, and for DC_EACH_SAFE_QUORUM).
//
// # Moving token ranges: nodes joining and leaving
//
// A rack scales out when nodes with new tokens join it, and in when nodes
// leave it. Either way some token ranges change owner, and the data must
// follow before reads go to the new owner. A node's [Node.State] says its
// part in such a move: [StateNormal], [StateJoining] (it will own its
// tokens once the move is over) or [StateLeaving] (it owns them until
// then).
//
// While any node of a rack is joining or leaving, [NewTopology] builds two
// continuums for that rack: the one before the move, of its normal and
// leaving nodes, and the one after, of its normal and joining nodes. Owner
// searches, equality cases and wrap-around included, are the same in both.
// [Options.Switched] chooses which continuum answers [Topology.Owner] and
// every helper built on it ([Topology.Lookup], [Topology.RackOwners],
// [Topology.LocalReplicas], [Topology.RemoteOwners],
// [Topology.ReplicasForToken]): the one before the move while the ranges are
// copied, the one after once the copy is done. [Topology.ExtraOwner] gives
// the other continuum's owner of a token when it is a different node.
//
// The router sends reads to Owner only, and writes to Owner and to
// ExtraOwner. The continuum that serves reads therefore holds every write
// made since the move began, whichever side it is, and switching reads
// from one side to the other loses nothing once the older data has been
// copied. Racks where nothing moves have one continuum, and ExtraOwner is
// nil there.
//
// A joining node may reuse a leaving node's token (a node replaced by
// another): equal tokens are refused within one continuum only. A rack whose
// nodes are all joining has no owner before the move, and one whose nodes
// are all leaving has none after it; NewTopology refuses both with
// [ErrNoOwner]. [Topology.RackNodes] lists every node of a rack, in any
// state. [Topology.Moving] reports whether any node is joining or leaving.
//
// This package only places keys. The scale plan that sets the states, the
// copy of the moving ranges and the switch from one side to the other are
// the proxy's (proxy/scale.go) and the node's (proxy/node).
//
// # Concurrency and the hot path
//
// A Topology is immutable: every method is safe for concurrent use and takes
// no lock. The router holds the current topology in an
// atomic.Pointer[Topology]. When membership, tokens or node states change,
// it builds a new topology off the hot path and swaps it in. The lookup
// methods ([Topology.KeyToken], [Topology.Owner], [Topology.ExtraOwner],
// [Topology.Lookup], and the replica helpers given a large enough buffer)
// allocate nothing, moving or not. While nothing moves, ExtraOwner costs one
// flag test and the other lookups cost what they would without moves. The replica helpers
// write into the caller's buffer (dst[:0]), in the style of dskit's ring.Get.
// Every hash function allocates nothing either.
//
// # How this matches upstream
//
// The twelve hashes that upstream implements give the same results bit for
// bit, quirks included: MurmurHash2 seeded with 0xdeadbeef*len; crc32 as
// libmemcached's 15 bits; crc16 over an accumulator that is never cut to 16
// bits; fnv1a_64 computed in 32 bits; one_at_a_time sign-extending bytes >=
// 0x80. testdata/hash-vectors.tsv holds 124 keys per hash, generated from
// upstream's C code, and the tests check every row. Two of those rows are the
// empty key under hsieh and jenkins, for which upstream writes no token; for
// them the tests check that the file holds the previous row's leftover value.
//
// The owner search reproduces vnode_dispatch exactly, including its equality
// cases; the tests check it against a step-by-step transcription of
// upstream's search and against a linear scan. Key-less requests go to the
// local node, as in dnode_peer_for_key_on_rack.
//
// This package differs from upstream where upstream is undefined or silently
// wrong:
//
//   - murmur3 is a stub upstream: it only zeroes the token, so upstream puts
//     every key on the node with the smallest token of each rack. Here it is
//     MurmurHash3 x86_32 with upstream's MURMUR3_SEED (0xc0a1e5ce), checked
//     against MurmurHash3's published values. There are no upstream vectors
//     for it, and placement with it cannot match an upstream node.
//   - hsieh and jenkins return without writing a token for an empty key, so
//     upstream's value there is whatever the token held before. Here they
//     return 0. Routing never hashes an empty key (step 2), so this only
//     shows in tools.
//   - [ParseToken] rejects values that upstream mangles silently: a value
//     above 4294967295 (upstream wraps it modulo 2^32), a non-digit (upstream
//     reads the whole token as 0), a sign or spaces.
//   - A node may own several tokens. Upstream's documentation says virtual
//     nodes are not supported; here every token gets its own continuum entry.
//     Two equal tokens within one rack are an error, where upstream would
//     pick either owner.
//   - Racks are sorted in plain byte order. Upstream's comparator
//     (string_compare) treats any two names of different lengths as "greater"
//     both ways, so its order for, say, "rack2" and "rack10" depends on
//     qsort. The two orders agree whenever the rack names within a
//     datacenter all have the same length, as they do in the usual layouts
//     ("rack1".."rack3", "us-east-1a".."us-east-1e").
//   - By our reading of dyn_client.c, upstream sends a key-less write to the
//     local node once per local rack and once per remote datacenter. [Topology.Lookup] returns the local node
//     in each of those cases too. The router may collapse the repeats.
package ring
