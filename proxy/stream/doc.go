// Package stream copies the keys of given token ranges from one datastore
// (Redis or Memcached) to another, so that a replaced node, which starts
// with an empty datastore, or a node that takes over part of a rack's ring,
// can be filled from a replica.
//
// Upstream Dynomite never moves data: Netflix's sidecar (dynomite-manager)
// warms a node up with SLAVEOF, which copies the whole dataset rather than a
// range and replaces what the target holds; Redis Cluster's MIGRATE blocks
// the source while it serializes a large key. This package does neither.
package stream
