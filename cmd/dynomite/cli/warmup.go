package cli

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// runWarmup asks the node to warm up.
func runWarmup(e *env, args []string) int {
	if _, ok := e.parse(args, 0, ""); !ok {
		return 2
	}
	res, err := e.do(http.MethodPost, "/warmup")
	if err != nil {
		return e.fail(err)
	}
	var r admin.WarmupJSON
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
