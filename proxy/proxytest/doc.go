// Package proxytest is the test support of the proxy: in-process nodes and
// clusters, a fake datastore, and the real datastores started as processes.
// Only tests import it; scripts/depcheck.sh keeps production code off it.
//
// # Test tiers
//
// The proxy is tested at three levels. Unit tests of each package need
// nothing but Go. Tests whose point is routing, failover, quorum or
// consistency run nodes of this package in front of a [Fake]: they need no
// external program, and the fake can misbehave in ways a real server will
// not on demand (answer slowly, hang, drop connections, fail every request).
// Tests whose point is fidelity to a datastore (the same replies as
// redis-server, a real client library, TLS) run nodes in front of a real
// [Process] from [StartRedis] or [StartMemcached]; those skip when the
// program is missing, and fail under CI=true. Containers (itest/) come last.
//
// # Clusters
//
// [StartCluster] starts one node per [Placement] on 127.0.0.1, each in front
// of a datastore of its own and knowing every other node as a peer, through
// the public API a command would use: [proxy.New], Listen, Serve and, for
// membership changes, UpdatePeers. [Grid] places datacenters × racks ×
// nodes with the ring split evenly; Config.Options adjusts any node's
// options. Nodes stop with the test (t.Cleanup) or sooner with
// [Cluster.Close], which waits for every goroutine of the nodes and fakes
// to end, so a test may check for leaks with goleak afterwards.
//
// # The fake datastore
//
// A [Fake] keeps its data in memory and answers the commands a proxy
// forwards: for Redis GET, SET (EX, PX, NX, XX), DEL, EXISTS, MGET, MSET,
// INCR, DECR, INCRBY, DECRBY, EXPIRE, TTL, HSET, HGET, PING, ECHO, AUTH,
// SELECT 0, FLUSHALL and QUIT, an unknown command getting Redis's error; for
// memcached get, gets, gat, gats, set, add, replace, append, prepend, cas, delete,
// incr, decr, touch, flush_all, version and quit. It frames requests with
// its own strict parser, never the proxy's, so that both cannot share a
// framing mistake: anything malformed gets an error and the connection
// closes. [Fake.SetFault] injects faults, [Fake.Requests] and [Fake.Count]
// tell what reached it, and Set, Get and Flush read and write its data
// behind the proxy's back.
package proxytest
