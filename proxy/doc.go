// Package proxy is one Dynomite node's request path: the client listener,
// the sessions, the router that sends each request to its replicas, and the
// peer side that serves copies sent by other nodes. A [Server] is built from
// [Options] by [New], opens its listeners with [Server.Listen] and runs
// until its context ends with [Server.Serve]. Package proxy/node builds a
// Server from a configuration file and runs it beside the stats listener,
// the seed provider and gossip; this package knows nothing of those.
//
// # A client request, file by file
//
//  1. server.go: the accept loop hands each client connection to a
//     session, counted against max_client_connections; every open
//     connection, client or peer, is tracked by one drain.Group so that a
//     stopping node finishes what it has read (see Shutdown below).
//  2. session.go: each client has a reader and a writer goroutine, as in
//     twemproxy's and codis' sessions. The reader takes a pooled
//     msg.Request, fills it from a msg.FrameReader and asks the protocol's
//     codec (codec_redis.go or codec_memcache.go, chosen once in New) to
//     parse it. The codec looks the command up in its table (resp/table.go,
//     memcache/cmd.go) and sets the request's Class and Flags (read, write,
//     multi-key and how its replies combine, script, key-less, local rack
//     only, delete); commands the node answers itself (PING, QUIT,
//     COMMAND, DYNO_CONFIG:CONN_CONSISTENCY...) are answered there.
//     auth.go checks AUTH and HELLO when requirepass or client_users is
//     set. session_redis.go keeps a Redis client's connection state: it
//     answers HELLO (RESP3 replies are converted as the writer sends them),
//     CLIENT, SELECT, RESET and COMMAND, queues MULTI ... EXEC and sends it
//     as one unit (txn.go), and prepares the commands that see the whole
//     rack's keyspace (keyspace.go: SCAN, KEYS, DBSIZE, RANDOMKEY). The
//     request is then queued, in order, for the writer, and dispatched.
//  3. server.go dispatch: on a ring of one node the request goes straight to
//     the local datastore (proxy/backend). Otherwise to the router.
//  4. fanout.go route: node state (upstream's /state/...), admin mode,
//     key-less and all-node commands; multikey.go splits a multi-key
//     command whose keys have different owners into one fragment per
//     owner (the codec builds the fragments) and joins their replies
//     (coalescer). A single-key request is hashed to its token (proxy/ring)
//     and fanned out.
//  5. fanout.go fanOut: proxy/consistency's Strategy says which replicas the
//     level asks (the local rack's owner, every rack of the local
//     datacenter, or every datacenter) and whether writes are also
//     forwarded to the other datacenters. Each copy is a sub-request sent
//     to the local datastore or to a peer pool (cluster.go: one
//     backend.Pool per peer, framed with proxy/dnode headers). As copies
//     complete, SubDone records each outcome and asks the strategy whether
//     the answer is decided (first reply, quorum of equal replies,
//     key-by-key votes for MGET in keyquorum.go, DC_ONE failover to the
//     next replica); a read's copies not yet sent once it is decided are
//     not sent. The decided reply becomes the client request's reply.
//     With read repair active (readrepair.go, proxy/repair), the copies of
//     the repairable writes and quorum reads carry timestamped scripts, the
//     newest of disagreeing read replies wins, and once every copy is in
//     the stale replicas are sent the newest value, off the client's path.
//  6. session.go writeLoop: replies are written in the order requests
//     arrived, whatever order the replicas answered in, and the observer
//     (observer.go; proxy/metrics in a running node) counts the request.
//
// # A copy from another node
//
// peerserver.go plugs the router into a dnode.Server (the peer listener,
// framing, TLS per secure_server_option, replies in order): a copy of type
// msg.PeerServe is served from the local datastore; a msg.PeerForward copy,
// sent by a coordinator in another datacenter, is fanned out to this
// datacenter's racks as upstream's dyn_dnode_peer.c does.
//
// # Pub/sub
//
// Redis pub/sub never reaches a datastore. pubsub.go answers SUBSCRIBE and
// its kin on the client's session, keeps the session's subscriptions in
// the node's proxy/pubsub registry (changed by the session's writer, in
// reply order) and bounds what a subscriber leaves unread;
// pubsub_cluster.go sends PUBLISH, SPUBLISH and PUBSUB queries once to
// every other node as msg.PeerPubSub copies, which those nodes answer from
// their own registry without sending them on.
//
// # Cluster state
//
// cluster.go holds the ring and the peer pools as one immutable snapshot
// behind an atomic pointer: [Server.UpdatePeers] (called by
// proxy/membership) builds a new ring and pool set and swaps it in;
// requests in flight keep the snapshot they started with, and pools of
// removed peers close after a grace period. scale.go's
// [Server.SetScalePlan] installs the plan of a move of token ranges (nodes
// joining or leaving a rack); the ring is rebuilt from the membership and
// the plan whenever either changes (cluster.go rebuild), with the moving
// nodes' ring.NodeState set, so that fanOut, the remote coordinator
// (peerserver.go), multi-key splits, watched transactions and read
// repairs send each write also to the owner on the other side of the move
// (ring.Topology.ExtraOwner), a copy whose reply does not count for the
// level and which is hinted when it fails. admincontrol.go adapts the
// server for proxy/admin's upstream endpoints (consistency levels, timeout
// factor, node state, peer up/down).
//
// # Live settings
//
// live.go holds what a configuration reload may change (consistency
// levels, timeouts, the datastore, requirepass and client_users, client
// limits) as one immutable snapshot behind an atomic pointer, read on the
// request path without a lock; [Server.Reload] swaps it whole. A session
// notices a reload that changed the levels at its next request and takes
// them, unless DYNO_CONFIG:CONN_CONSISTENCY set its own.
//
// # Shutdown
//
// When Serve's context ends, the listeners close, sessions stop reading at
// the next request boundary (finishing a request half read), every request
// read is answered, fan-outs with copies outstanding are waited for, and
// connections close write side first so clients see their replies and
// EOF. What is left at the grace deadline fails with "node is shutting
// down".
//
// # Rules the request path keeps
//
// No allocation per forwarded request (bench_test.go pins it): requests,
// fan-outs and reply buffers are pooled, lookups write into caller buffers,
// and per-request work never takes a lock shared by all sessions.
package proxy
