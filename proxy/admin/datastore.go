package admin

import "net/http"

// DatastoreJSON is GET /datastore: the address of this node's datastore,
// as its configuration gives it (`servers`). A node repairing its replicas
// (POST /repair) asks each peer for it; an address on a loopback or
// unspecified host means the peer's own host.
type DatastoreJSON struct {
	Addr string `json:"addr"`
}

// RegisterDatastore adds GET /datastore; addr is read per request (a
// reload may change `servers`). It only reads and is not guarded, like
// /ring.
func RegisterDatastore(mux Mux, addr func() string) {
	mux.Handle("GET /datastore", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, DatastoreJSON{Addr: addr()})
	}))
}
