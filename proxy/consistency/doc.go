// Package consistency is the policy of Dynomite's consistency levels,
// without sockets: which replicas a request asks, how many of their replies
// must agree, and when the outcomes seen so far decide the client's answer.
//
// # Overview
//
// A key has one replica per rack: the token owner of that rack. A request
// is sent to some of them as copies; a [Strategy] (a [Level] applied to a
// read or a write) says which ([Strategy.Targets],
// [Strategy.ForwardsRemote]), and [Strategy.Decide] reads the copies'
// outcomes, a [Set] of [Replica] values, and returns a [Decision]. The
// proxy's fan-out (package proxy, fanout.go) keeps one Set per request in
// pooled memory and calls Decide after each copy completes; Decide does not
// allocate (its comment names the one exception). [DoUntilQuorum] wraps the
// same policy for callers off the request path: it runs a function per
// replica and cancels the copies whose result is no longer needed, after
// grafana/dskit's ring.DoUntilQuorum.
//
// # Levels
//
// The semantics are upstream's (Netflix/dynomite): routing in dyn_client.c
// (req_forward_local_dc, req_forward_remote_dc, req_forward_to_peer),
// which peer errors reach the client in dyn_dnode_peer.c (never a remote
// datacenter's: those copies are swallowed), reply reconciliation in
// dyn_response_mgr.c (rspmgr_is_quorum_achieved, rspmgr_get_response).
//
//   - DC_ONE: a read asks the local rack's owner; on error this proxy, unlike
//     upstream, asks the next replica (the other local racks, then the remote
//     datacenters) instead of failing. A
//     write goes to every local rack and is acknowledged by the local
//     rack's owner; when that one failed, by the first other rack that
//     stored it.
//   - DC_QUORUM: every local rack is asked; racks/2+1 of them must reply.
//     As soon as that many replies are identical the answer is decided;
//     with every reply in and no majority agreeing, the first good reply
//     (in rack order) wins.
//   - DC_SAFE_QUORUM: the same, but without a majority of identical replies
//     the request fails with "Failed to achieve Quorum".
//   - DC_EACH_SAFE_QUORUM: every rack of every datacenter is asked and each
//     datacenter needs its own safe quorum; the client gets the local
//     datacenter's reply.
//
// At every quorum level fewer good replies than the quorum fail the request
// with the first error. Replies are compared byte for byte (upstream
// compares a CRC32 of the same bytes). Writes below DC_EACH_SAFE_QUORUM
// also send one copy to each remote datacenter, whose reply is swallowed:
// upstream forwards it (DMSG_REQ_FORWARD) to a node there that fans it out
// to its own racks.
//
// Multi-key reads (MGET, a memcache get of several keys) can be decided key
// by key at the quorum levels, as a read of each key alone would be: the
// caller splits the replies into elements ([Elements]), the strategy votes
// (see [Set.Choice]). Upstream does the same in
// redis_reconcile_multikey_responses (dyn_redis.c).
//
// # Cancellation
//
// Once the answer is decided, copies of a read not sent yet are not needed
// ([Strategy.Needed]); copies of a write always are, because they are the
// replication, and so are copies whose reply does not count.
package consistency
