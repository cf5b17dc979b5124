package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Scaler moves token ranges between the nodes of racks (scaling them out
// or in) and cleans up afterwards; the node implements it in
// proxy/node/scale.go.
type Scaler interface {
	// StartScale starts a move orchestrated by this node and returns its
	// status at once. ErrScaleRunning: a move is already running; any
	// other error is the request's fault and names the bad value.
	StartScale(req ScaleRequest) (ScaleStatus, error)
	// ScaleStatus is the running move's progress, or the last one's.
	ScaleStatus() ScaleStatus
	// AbortScale stops the running move before it switched: every node
	// gets phase aborted. ErrScaleNotAbortable otherwise.
	AbortScale() (ScaleStatus, error)
	// SetScalePlan installs a plan on this node (nil removes it);
	// ScalePlan returns the installed one or nil.
	SetScalePlan(p *ScalePlanJSON) error
	ScalePlan() *ScalePlanJSON
	// StartCleanup starts the deletion of the keys this node no longer
	// owns. ErrCleanupRefused: one runs, or a move is under way.
	StartCleanup() (CleanupStatus, error)
	// CleanupStatus is the running or last cleanup.
	CleanupStatus() CleanupStatus
}

// The errors of a Scaler that answer 409.
var (
	ErrScaleRunning      = errors.New("a move is already running")
	ErrScaleNotAbortable = errors.New("the move cannot be aborted")
	ErrCleanupRefused    = errors.New("cleanup refused")
)

// ScaleRequest is POST /scale's body: the ring node names (as GET /ring
// shows them, dyn_listen host:port) of the nodes to add to their racks and
// of those to remove.
type ScaleRequest struct {
	Join  []string `json:"join,omitempty"`
	Leave []string `json:"leave,omitempty"`
}

// ScalePlanJSON is the plan of a move as nodes exchange it (POST and GET
// /scale/plan): proxy.ScalePlan. Phase is dual, switched, done or
// aborted.
type ScalePlanJSON struct {
	ID    string   `json:"id"`
	Join  []string `json:"join,omitempty"`
	Leave []string `json:"leave,omitempty"`
	Phase string   `json:"phase"`
}

// ScaleStatus is GET /scale (and the answer of POST /scale and POST
// /scale/abort): the running or last move this node orchestrated.
// `dynomite scale status` prints it.
type ScaleStatus struct {
	// ID is the plan's (empty before any move).
	ID    string   `json:"id"`
	Join  []string `json:"join"`
	Leave []string `json:"leave"`
	// Phase is the last phase installed on every node (empty before the
	// first is).
	Phase string `json:"phase"`
	// State is idle (no move yet), running, done, failed or aborted.
	State string `json:"state"`
	// Step says what the move does now, for the operator.
	Step      string              `json:"step"`
	Transfers []ScaleTransferJSON `json:"transfers"`
	// Nodes are the nodes the plan is pushed to, each with the last
	// phase it acknowledged and the last failure to reach it.
	Nodes []ScaleNodeJSON `json:"nodes"`
	// Cleanups are the old owners asked to delete what they lost.
	Cleanups []ScaleCleanupJSON `json:"cleanups"`
	Error    string             `json:"error,omitempty"`
	Started  *time.Time         `json:"started,omitempty"`
	Finished *time.Time         `json:"finished,omitempty"`
}

// The states of a move (and of a cleanup, but aborted).
const (
	ScaleIdle    = "idle"
	ScaleRunning = "running"
	ScaleDone    = "done"
	ScaleFailed  = "failed"
	ScaleAborted = "aborted"
)

// ScaleTransferJSON is one copy of a move: the ranges ("(start, end], ...")
// of a rack that pass from one node to another, and what was copied.
type ScaleTransferJSON struct {
	DC     string `json:"datacenter"`
	Rack   string `json:"rack"`
	From   string `json:"from"`
	To     string `json:"to"`
	Ranges string `json:"ranges"`
	// Keys were copied, Skipped found on the target already (a dual write
	// is newer), Bytes the payload copied.
	Keys    int64 `json:"keys"`
	Skipped int64 `json:"skipped"`
	Bytes   int64 `json:"bytes"`
	Done    bool  `json:"done"`
}

// ScaleNodeJSON is one node a move's plan is pushed to.
type ScaleNodeJSON struct {
	Name string `json:"name"`
	// Phase is the last phase the node acknowledged (empty: none yet).
	Phase string `json:"phase"`
	// Error is the last failure to install a phase there, empty once it
	// succeeded.
	Error string `json:"error,omitempty"`
}

// ScaleCleanupJSON is the cleanup of one old owner.
type ScaleCleanupJSON struct {
	Node    string `json:"node"`
	State   string `json:"state"`
	Deleted int64  `json:"deleted"`
	Error   string `json:"error,omitempty"`
}

// CleanupStatus is GET /cleanup (and POST /cleanup's answer): this node's
// running or last cleanup, the deletion of the keys outside the ranges it
// owns. `dynomite cleanup` prints it.
type CleanupStatus struct {
	// ID is the cleanup's job in GET /streams (0: none yet).
	ID int64 `json:"id"`
	// State is idle, running, done or failed.
	State     string `json:"state"`
	Datastore string `json:"datastore,omitempty"`
	// Keep are the ranges whose keys stay, "(start, end], ...".
	Keep string `json:"keep,omitempty"`
	// Total keys at the start; Scanned read; Deleted removed.
	Total      int64      `json:"total"`
	Scanned    int64      `json:"scanned"`
	Deleted    int64      `json:"deleted"`
	Errors     int64      `json:"errors"`
	KeysPerSec float64    `json:"keys_per_sec"`
	Error      string     `json:"error,omitempty"`
	Started    *time.Time `json:"started,omitempty"`
	Finished   *time.Time `json:"finished,omitempty"`
}

// maxScaleBody bounds the bodies of POST /scale and /scale/plan.
const maxScaleBody = 1 << 20

// RegisterScale adds the endpoints of moves and cleanups:
//
//	POST /scale        start a move (ScaleRequest); 202 with its status,
//	                   409 while one runs, 400 naming a bad node name
//	GET  /scale        the running or last move (ScaleStatus)
//	POST /scale/abort  abort the running move: 200, or 409 once it
//	                   switched (or when none runs)
//	POST /scale/plan   install a plan on this node (ScalePlanJSON, or
//	                   null to remove it); 200 with the plan, 400 when
//	                   refused or empty. The orchestrating node calls it.
//	GET  /scale/plan   the installed plan, or null
//	POST /cleanup      start this node's cleanup: 202, 409 when refused
//	GET  /cleanup      the running or last cleanup (CleanupStatus)
//
// The POSTs are guarded like the other endpoints that change the node
// (stats_admin_token, else loopback clients only).
func RegisterScale(mux Mux, c Cluster, s Scaler) {
	mux.Handle("POST /scale", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ScaleRequest
		if !decodeBody(w, r, &req, `{"join":["host:port"],"leave":["host:port"]}`, true) {
			return
		}
		st, err := s.StartScale(req)
		switch {
		case errors.Is(err, ErrScaleRunning):
			writeJSON(w, http.StatusConflict, errorJSON{err.Error(), st})
		case err != nil:
			bad(w, "scale: %v", err)
		default:
			writeJSON(w, http.StatusAccepted, st)
		}
	})))
	mux.Handle("GET /scale", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.ScaleStatus())
	}))
	mux.Handle("POST /scale/abort", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st, err := s.AbortScale()
		if err != nil {
			writeJSON(w, http.StatusConflict, errorJSON{err.Error(), st})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})))
	mux.Handle("POST /scale/plan", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *ScalePlanJSON
		// an empty body is refused, not taken for null: removing a plan
		// is said explicitly
		if !decodeBody(w, r, &p, `{"id":"...","join":["host:port"],"leave":["host:port"],"phase":"dual|switched|done|aborted"} or null`, false) {
			return
		}
		if err := s.SetScalePlan(p); err != nil {
			bad(w, "scale plan: %v", err)
			return
		}
		writeJSON(w, http.StatusOK, s.ScalePlan())
	})))
	mux.Handle("GET /scale/plan", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.ScalePlan())
	}))
	mux.Handle("POST /cleanup", guard(c.AdminToken, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		st, err := s.StartCleanup()
		if err != nil {
			writeJSON(w, http.StatusConflict, errorJSON{err.Error(), st})
			return
		}
		writeJSON(w, http.StatusAccepted, st)
	})))
	mux.Handle("GET /cleanup", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.CleanupStatus())
	}))
}

// errorJSON is a refusal: the reason and the status of what runs.
type errorJSON struct {
	Error  string `json:"error"`
	Status any    `json:"status"`
}

// decodeBody reads a JSON body into v, rejecting unknown fields; an empty
// body leaves v alone when emptyOK, else is refused. It answers 400
// itself, showing want, and returns false then.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, want string, emptyOK bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxScaleBody))
	if err != nil {
		bad(w, "%s: reading the request: %v", r.URL.Path, err)
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if !emptyOK {
			bad(w, "%s: the body is empty: want %s", r.URL.Path, want)
		}
		return emptyOK
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		bad(w, "%s: the body is not what it takes (%v): want %s", r.URL.Path, err, want)
		return false
	}
	return true
}
