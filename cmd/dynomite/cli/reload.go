package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ReloadJSON is the answer of POST /reload: 200 with OK on success, 409
// or 400 with Error when the node refused the new configuration.
type ReloadJSON struct {
	OK      bool     `json:"ok"`
	Hash    string   `json:"hash"`
	Changed []string `json:"changed"`
	Error   string   `json:"error"`
}

// runReload asks the node to reload its configuration file.
func runReload(e *env, args []string) int {
	if _, ok := e.parse(args, 0, ""); !ok {
		return 2
	}
	res, err := e.do(http.MethodPost, "/reload")
	if err != nil {
		return e.fail(err)
	}
	var r ReloadJSON
	if jerr := json.Unmarshal(res.body, &r); jerr != nil {
		if res.code == http.StatusOK {
			return e.fail(fmt.Errorf("%s/reload answered %s, not the expected JSON: %w", e.addr, abbrev(res.body), jerr))
		}
		return e.fail(e.refused("/reload", res))
	}
	if e.output == "json" {
		if code := e.printJSON(r); code != 0 {
			return code
		}
	}
	if res.code != http.StatusOK || !r.OK {
		why := r.Error
		if why == "" {
			why = "no reason given"
		}
		fmt.Fprintf(e.stderr, "dynomite: reload refused (%d): %s\n", res.code, why)
		return 1
	}
	if e.output != "json" {
		changed := "nothing changed"
		if len(r.Changed) > 0 {
			changed = "changed: " + strings.Join(r.Changed, ", ")
		}
		fmt.Fprintf(e.stdout, "reloaded: configuration %s; %s\n", r.Hash, changed)
	}
	return 0
}
