package cli

import (
	"fmt"
	"net/http"
	"strings"
)

// runHealth is the liveness check: /health answers 200 once the datastore
// is connected.
func runHealth(e *env, args []string) int { return probe(e, args, "/health", "healthy", "unhealthy") }

// runReady is the readiness check: /ready answers 200 once the node also
// knows every peer its seed provider lists; its 503 says what is missing.
func runReady(e *env, args []string) int { return probe(e, args, "/ready", "ready", "not ready") }

// probe asks path and exits 0 on 200, else 1 (an unreachable node too:
// Docker reserves a healthcheck's exit code 2).
func probe(e *env, args []string, path, good, badWord string) int {
	if _, ok := e.parse(args, 0, ""); !ok {
		return 2
	}
	res, err := e.do(http.MethodGet, path)
	if err != nil {
		fmt.Fprintf(e.stderr, "dynomite: %s: %v\n", badWord, err)
		return 1
	}
	// /ready answers a line "not ready: X" per missing thing: one line here
	body := strings.TrimSpace(string(res.body))
	body = strings.ReplaceAll(strings.TrimPrefix(body, badWord+": "), "\n"+badWord+": ", "; ")
	if res.code != http.StatusOK {
		if res.code == http.StatusNotFound {
			body = e.refused(path, res).Error()
		}
		fmt.Fprintf(e.stderr, "dynomite: %s (%d): %s\n", badWord, res.code, body)
		return 1
	}
	if e.output == "json" {
		return e.printJSON(map[string]any{good: true})
	}
	fmt.Fprintln(e.stdout, good)
	return 0
}
