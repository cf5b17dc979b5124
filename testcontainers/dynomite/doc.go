// Package dynomite starts a dynomite-go cluster in containers for tests,
// with testcontainers-go: one dynomite node and one datastore (Redis or
// Memcached) per rack, racks in one or more datacenters, all on a network of
// their own, each node listing every other as a static dyn_seeds entry.
//
//	cluster, err := dynomite.Run(ctx, dynomite.WithRacks(3))
//	if err != nil { ... }
//	defer cluster.Terminate(context.Background())
//	addrs, err := cluster.Endpoints(ctx) // one host:port per node, rack order
//
// Every rack holds a full copy of the data (every node has the same token),
// so a write through any node reaches every rack's datastore. Run returns
// when every node answers on its stats listener (/ready, or /health on
// builds without /ready) and has a connection to every other node
// (dynomite_peer_up on /metrics), so a write made right after Run is
// replicated.
//
// It is a Go module of its own: importing it brings testcontainers-go, not
// the proxy's dependencies. The images default to the ones the repository's
// `make images` builds locally (dynomite-local/dynomite, dynomite-local/redis,
// dynomite-local/memcached); WithImage, WithRedisImage and
// WithMemcachedImage name others, e.g. public redis:7 and memcached:1.6.
//
// Nodes get a configuration in upstream Dynomite's YAML format (NodeConfig),
// written to /etc/dynomite/dynomite.yml. Published ports are bound to
// 127.0.0.1 when the Docker daemon is local (WithHostIP changes it). Suites
// that need more than a cluster (cutting a node off the network, killing a
// datastore) reach the containers and the network through Cluster.Nodes,
// Node.Container, Node.Datastore.Container and Cluster.Network, and can
// adjust every container request with WithCustomizer.
package dynomite
