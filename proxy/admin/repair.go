package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Repairer runs the node's anti-entropy repair (proxy/antientropy; the
// node implements it in proxy/node/repair.go).
type Repairer interface {
	// StartRepair starts a repair in the background and returns its status
	// at once. ErrRepairRunning: one is already running; any other error
	// is the request's fault.
	StartRepair(req RepairRequest) (RepairStatus, error)
	// RepairStatus is the running repair's progress, or the last one's
	// result.
	RepairStatus() RepairStatus
}

// ErrRepairRunning refuses a second repair while one runs.
var ErrRepairRunning = errors.New("a repair is already running")

// ErrRepairRefused wraps why a repair cannot start now (409, like a
// running one): nodes joining or leaving the ring.
var ErrRepairRefused = errors.New("repair refused")

// RepairRequest is POST /repair's optional JSON body; an empty body repairs
// the node's own ranges against every other rack.
type RepairRequest struct {
	// Ranges are token ranges (start, end] to repair; empty: the ranges
	// this node owns in its rack.
	Ranges []RepairRange `json:"ranges,omitempty"`
	// Datastores gives the datastore address of peers by node name (the
	// name /ring shows), for peers whose GET /datastore cannot be reached
	// on their host at this node's stats port.
	Datastores map[string]string `json:"datastores,omitempty"`
	// DryRun finds and resolves the divergent keys, writes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// RepairRange is a token range (start, end], wrapping when start >= end.
type RepairRange struct {
	Start uint32 `json:"start"`
	End   uint32 `json:"end"`
}

// RepairStatus is GET /repair (and POST /repair's answer): the running or
// last repair. `dynomite repair` prints it. Result is the repair's own
// report (antientropy.Result), null before any repair.
type RepairStatus struct {
	// ID numbers the repairs since the node started (0: none yet).
	ID int `json:"id"`
	// State is idle (none yet), running, done or failed.
	State string `json:"state"`
	// Trigger is admin (POST /repair) or schedule (repair_interval).
	Trigger  string     `json:"trigger,omitempty"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// Replicas names what was compared: "dc/rack: datastore address, ...".
	Replicas []string `json:"replicas"`
	Error    string   `json:"error,omitempty"`
	Result   any      `json:"result"`
}

// The states of a repair.
const (
	RepairIdle    = "idle"
	RepairRunning = "running"
	RepairDone    = "done"
	RepairFailed  = "failed"
)

// maxRepairBody bounds POST /repair's body.
const maxRepairBody = 1 << 20

// RegisterRepair adds the anti-entropy endpoints to mux:
//
//	POST /repair  start a repair (guarded like the other endpoints that
//	              change the node); 202 with its status, 409 while one
//	              runs, 400 for a malformed body
//	GET  /repair  the running or last repair's status
func RegisterRepair(mux Mux, c Cluster, rp Repairer) {
	mux.Handle("POST /repair", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req RepairRequest
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRepairBody))
		if err != nil {
			bad(w, "repair: reading the request: %v", err)
			return
		}
		if len(body) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				bad(w, "repair: the body is not a repair request (%v): want {\"ranges\":[{\"start\":N,\"end\":N}],\"datastores\":{\"node\":\"host:port\"},\"dry_run\":false}", err)
				return
			}
		}
		st, err := rp.StartRepair(req)
		switch {
		case errors.Is(err, ErrRepairRunning):
			writeJSON(w, http.StatusConflict, st)
		case errors.Is(err, ErrRepairRefused):
			st.Error = err.Error()
			writeJSON(w, http.StatusConflict, st)
		case err != nil:
			bad(w, "repair: %v", err)
		default:
			writeJSON(w, http.StatusAccepted, st)
		}
	})))
	mux.Handle("GET /repair", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, rp.RepairStatus())
	}))
}

// String is a one-line summary of a repair for logs.
func (s RepairStatus) String() string {
	return fmt.Sprintf("repair %d %s", s.ID, s.State)
}
