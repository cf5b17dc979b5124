package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// WarmupJSON is the answer of POST /warmup: 202 with Started and the job's
// ID (as GET /streams lists it), or 409 with Error when a warm-up already
// runs or the node cannot warm up (no replica).
type WarmupJSON struct {
	Started bool   `json:"started"`
	ID      int64  `json:"id,omitempty"`
	Error   string `json:"error,omitempty"`
}

// runWarmup asks the node to warm up.
func runWarmup(e *env, args []string) int {
	if _, ok := e.parse(args, 0, ""); !ok {
		return 2
	}
	res, err := e.do(http.MethodPost, "/warmup")
	if err != nil {
		return e.fail(err)
	}
	var r WarmupJSON
	if jerr := json.Unmarshal(res.body, &r); jerr != nil {
		return e.fail(e.refused("/warmup", res))
	}
	if e.output == "json" {
		if code := e.printJSON(r); code != 0 {
			return code
		}
	}
	if !r.Started {
		fmt.Fprintf(e.stderr, "dynomite: warm-up refused (%d): %s\n", res.code, r.Error)
		return 1
	}
	if e.output != "json" {
		fmt.Fprintf(e.stdout, "warm-up started: stream %d (dynomite streams shows its progress)\n", r.ID)
	}
	return 0
}
