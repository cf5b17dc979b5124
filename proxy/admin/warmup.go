package admin

import (
	"net/http"
)

// WarmupJSON is the answer of POST /warmup: 202 with Started and the ID of
// the job (as GET /streams lists it), or 409 with Error when a warm-up
// already runs or the node cannot start one. `dynomite warmup` prints it.
type WarmupJSON struct {
	Started bool   `json:"started"`
	ID      int64  `json:"id,omitempty"`
	Error   string `json:"error,omitempty"`
}

// DatastoreJSON is GET /datastore: the node's datastore as other nodes
// reach it, which a warming peer copies its ranges from. Addr is
// host:port (a unix socket's path cannot be reached from another host,
// and Reachable is then false); Protocol is redis or memcached.
type DatastoreJSON struct {
	Addr      string `json:"addr"`
	Protocol  string `json:"protocol"`
	Reachable bool   `json:"reachable"`
}

// RegisterWarmup adds:
//
//	POST /warmup     start a warm-up (guarded like the other endpoints
//	                 that change the node: stats_admin_token, else
//	                 loopback clients only)
//	GET  /datastore  DatastoreJSON (read-only: not guarded, as /ring,
//	                 which shows the peers' addresses too)
func RegisterWarmup(mux Mux, c Cluster, start func() (id int64, err error), datastore func() DatastoreJSON) {
	mux.Handle("POST /warmup", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		id, err := start()
		if err != nil {
			writeJSON(w, http.StatusConflict, WarmupJSON{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, WarmupJSON{Started: true, ID: id})
	})))
	mux.Handle("GET /datastore", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, datastore())
	}))
}
