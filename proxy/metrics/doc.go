// Package metrics turns one node's measurements into Prometheus metrics and
// into upstream's /info document, from the same counters.
//
// # Where a number comes from
//
// Two paths feed it, and the split is what keeps the request path cheap:
//
//   - Per request, pushed. [Metrics] implements proxy.Observer, which the
//     proxy calls once a request is answered (ClientRequest, from the
//     session's writer), once a datastore request completes (Datastore, from
//     the backend's reader) and once a peer request completes (Peer). These
//     calls only touch instruments resolved in advance (metrics.go: protoSet
//     indexes counters and histograms by msg.Class and outcome, so there is
//     no label lookup per request) and the estimated histograms behind /info
//     (esthist.go).
//   - Per scrape, pulled. Everything that is already counted somewhere
//     else (client connections, limit rejections, datastore pool counters,
//     peer pool counters, the ring, consistency levels, node state) is read
//     from the attached proxy.Server when Prometheus scrapes, by
//     nodeCollector (collector.go). Nothing on the request path pays for it.
//
// # Files
//
//   - catalog.go: the name, type, help text and labels of every metric, in
//     one table; [Describe] prints it for `dynomite -D`, and the README's
//     list is checked against it by the tests.
//   - metrics.go: [New] registers the instruments on a caller's registry
//     (never the global one), every series labelled with the node's
//     datacenter and rack; the Observer methods; [Metrics.Registerer] for
//     collectors of other packages (gossip, seed providers).
//   - collector.go: the scrape-time collector described above.
//   - info.go: upstream's /info JSON (dyn_stats.c), written by hand into
//     one buffer, and the HTTP handlers: [Metrics.Routes] mounts /metrics,
//     /info and /historeset on the stats listener.
//   - esthist.go: fixed-bucket histograms for /info's latency and payload
//     percentiles, reset every [HistoResetInterval] as upstream's are.
//
// # Use
//
// A node creates its registry, calls New, sets the result as
// proxy.Options.Observer before proxy.New, then Attach with the server and
// Routes with the stats listener. Package metricstest starts in-process
// clusters wired the same way for the tests of this package and of the
// dashboards.
package metrics
