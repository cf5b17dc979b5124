package admin

import (
	"encoding/json"
	"net/http"
)

// ReloadResult is the answer of POST /reload (and what a SIGHUP logs):
//
//	{"ok":true|false,"hash":"<sha256 of the file, hex>","changed":["key",...],"error":"..."}
//
// `dynomite reload` posts to the endpoint and prints this document, so its
// shape is a contract: add fields, never rename or remove them.
type ReloadResult struct {
	// OK: the file was applied (or nothing had changed).
	OK bool `json:"ok"`
	// Hash is the SHA-256 of the file that was read, hex ("" when it could
	// not be read).
	Hash string `json:"hash"`
	// Changed are the keys whose values differ from the configuration in
	// force: applied when OK, the attempted changes otherwise. Never null.
	Changed []string `json:"changed"`
	// Error says why the reload was refused ("" when OK): every problem of
	// an invalid file with its line and key, or every restart-only key
	// that changed with its old and new value.
	Error string `json:"error"`
	// Status is the HTTP status: 200 applied, 400 the file is invalid (or
	// unreadable), 409 the file is valid but cannot be applied to the
	// running node (a restart-only key changed, the new datastore did not
	// answer).
	Status int `json:"-"`
}

// RegisterReload adds POST /reload, guarded like the other endpoints that
// change the node (stats_admin_token, else loopback clients only): it
// calls reload and answers its result as JSON with its Status.
func RegisterReload(mux Mux, c Cluster, reload func() ReloadResult) {
	mux.Handle("POST /reload", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		res := reload()
		if res.Changed == nil {
			res.Changed = []string{}
		}
		if res.Status == 0 {
			res.Status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(res.Status)
		_ = json.NewEncoder(w).Encode(res)
	})))
}
