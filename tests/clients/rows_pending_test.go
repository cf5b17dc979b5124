// Package clients is the client compatibility suite. Until the client
// table (h/clients: table_test.go, cluster_test.go, clients_test.go) is in
// this directory, the pub/sub and memcached rows (pubsub_test.go,
// memcache_test.go) build only with -tags clients_table; this file keeps
// the package buildable meanwhile. Delete it with their build lines.
package clients
