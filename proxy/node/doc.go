// Package node is the composition root of one running Dynomite node: it
// turns a *config.Config into the proxy (proxy.Server, its client and peer
// listeners), the TLS certificate reloaders, the metrics registry, the
// stats listener (proxy/admin) and the membership (proxy/membership: seed
// provider and gossip), and runs them together.
//
// The mapping from the configuration to proxy.Options lives here, once
// (options.go). reload.go re-reads the configuration file for SIGHUP and
// POST /reload: it refuses an invalid file or a change to a restart-only
// key (config.ReloadClass) and applies the rest at once
// (proxy.Server.Reload, membership.Reload, the TLS certificates). cmd/dynomite parses flags, loads the configuration, sets
// up logging and signals and then calls [New] and [Node.Run]; tests and
// proxy/metrics/metricstest build nodes the same way.
//
// warmup.go fills the datastore of a replaced node from a replica in
// another rack before the node serves reads (warm_up, POST /warmup): the
// design, the source's discovery (GET /datastore) and the limits are
// documented there. Its jobs, like every data movement of the node, are in
// [Node.Jobs] (GET /streams) and share [Node.StreamThrottle].
//
// scale.go orchestrates a move of token ranges when racks scale out or in
// (POST /scale): the plan's phases pushed to every node, the copy of the
// moved ranges, and the cleanup of the old owners (scale_cleanup.go, POST
// /cleanup); the steps and their bounds are documented there.
//
// [Node.Run] runs every long-running component under one errgroup
// (golang.org/x/sync/errgroup): the first error is returned, and any
// component stopping stops the others, so no error is dropped and no
// goroutine outlives the node.
package node
