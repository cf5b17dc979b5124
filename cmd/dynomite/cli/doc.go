// Package cli is the operator's side of the dynomite command: the
// subcommands that talk to a running node's stats listener over HTTP
// (health, ready, ring, owner, status, reload, streams, warmup, repair) and the offline token
// calculator (tokens). The dynomite command hands its arguments to [Run]
// first; when the first one is no subcommand, the node's own flags (-c,
// -t, ...) apply as upstream defines them.
//
// Each command prints a table, or with -o json the node's JSON as the
// endpoint returned it (proxy/admin's RingJSON, OwnerJSON, StatusJSON;
// proxy/jobs' Snapshot for streams; admin.RepairStatus with
// antientropy.Result for repair).
// Exit codes: 0 done, 1 the node answered no (not ready, a reload
// refused, a repair that left keys divergent), 2 a usage error or a node that cannot be reached. health and
// ready exit 1 for an unreachable node too: Docker reserves exit code 2 of
// a HEALTHCHECK.
package cli
