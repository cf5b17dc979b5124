package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// runScale is `dynomite scale join|leave|status|abort`.
func runScale(e *env, args []string) int {
	wait := e.fs.Duration("wait", 0, "join, leave: wait this long for the move to end, then print its status (default: return at once)")
	what := "join NAME... | leave NAME... | status | abort"
	pos, ok := e.parse(args, -1, what)
	if !ok {
		return 2
	}
	sub, names := pos[0], pos[1:]
	bad := func(msg string) int {
		fmt.Fprintf(e.stderr, "%s %s: %s\n", e.fs.Name(), sub, msg)
		e.help(what)
		return 2
	}
	switch sub {
	case "join", "leave":
		if len(names) == 0 {
			return bad("name the nodes (their names in `dynomite ring`, dyn_listen host:port)")
		}
		req := admin.ScaleRequest{Join: names}
		if sub == "leave" {
			req = admin.ScaleRequest{Leave: names}
		}
		return startScale(e, req, *wait)
	case "status", "abort":
		if len(names) > 0 {
			return bad("takes no node names")
		}
	default:
		return bad(fmt.Sprintf("unknown %q", sub))
	}
	if sub == "abort" {
		res, err := e.do(http.MethodPost, "/scale/abort")
		if err != nil {
			return e.fail(err)
		}
		var refusal struct {
			Error  string            `json:"error"`
			Status admin.ScaleStatus `json:"status"`
		}
		switch res.code {
		case http.StatusOK:
			var st admin.ScaleStatus
			if err := json.Unmarshal(res.body, &st); err != nil {
				return e.fail(fmt.Errorf("%s/scale/abort answered %s, not the expected JSON: %w", e.addr, abbrev(res.body), err))
			}
			if e.output == "json" {
				return e.printJSON(st)
			}
			fmt.Fprintf(e.stdout, "move %s aborting: phase aborted is being installed on every node (dynomite scale status shows when it is)\n", st.ID)
			return 0
		case http.StatusConflict:
			if json.Unmarshal(res.body, &refusal) == nil && refusal.Error != "" {
				return e.fail(fmt.Errorf("abort refused: %s", refusal.Error))
			}
		}
		return e.fail(e.refused("/scale/abort", res))
	}
	var st admin.ScaleStatus
	if err := e.getJSON("/scale", &st); err != nil {
		return e.fail(err)
	}
	return printScale(e, st)
}

// startScale posts the move and, with wait, follows it to its end.
func startScale(e *env, req admin.ScaleRequest, wait time.Duration) int {
	body, err := json.Marshal(req)
	if err != nil {
		return e.fail(err)
	}
	res, err := e.send(http.MethodPost, "/scale", body)
	if err != nil {
		return e.fail(err)
	}
	var st admin.ScaleStatus
	switch res.code {
	case http.StatusAccepted:
	case http.StatusConflict:
		var refusal struct {
			Error  string            `json:"error"`
			Status admin.ScaleStatus `json:"status"`
		}
		_ = json.Unmarshal(res.body, &refusal)
		return e.fail(fmt.Errorf("%s: move %s (started %s) is %s: see dynomite scale status", refusal.Error, refusal.Status.ID, when(refusal.Status.Started), refusal.Status.State))
	default:
		return e.fail(e.refused("/scale", res))
	}
	if err := json.Unmarshal(res.body, &st); err != nil {
		return e.fail(fmt.Errorf("%s/scale answered %s, not the expected JSON: %w", e.addr, abbrev(res.body), err))
	}
	if wait <= 0 {
		if e.output == "json" {
			return e.printJSON(st)
		}
		fmt.Fprintf(e.stdout, "move %s started: join [%s] leave [%s] (dynomite scale status shows its progress)\n",
			st.ID, strings.Join(st.Join, " "), strings.Join(st.Leave, " "))
		return 0
	}
	if err := await(e, "/scale", wait, &st, func(s *admin.ScaleStatus) bool { return s.State == admin.ScaleRunning },
		func(s *admin.ScaleStatus) string { return "move " + s.ID }, func(s *admin.ScaleStatus) any { return s.ID }); err != nil {
		return e.fail(err)
	}
	return printScale(e, st)
}

// printScale prints a move's status; the exit code is 1 for a move that
// failed or was aborted.
func printScale(e *env, st admin.ScaleStatus) int {
	code := 0
	if st.State == admin.ScaleFailed || st.State == admin.ScaleAborted {
		code = 1
	}
	if e.output == "json" {
		if c := e.printJSON(st); c != 0 {
			return c
		}
		return code
	}
	if st.State == admin.ScaleIdle {
		fmt.Fprintln(e.stdout, "no move since the node started")
		return 0
	}
	fmt.Fprintf(e.stdout, "move %s %s, phase %s: %s\n", st.ID, st.State, orDash(st.Phase), st.Step)
	fmt.Fprintf(e.stdout, "join [%s] leave [%s], started %s", strings.Join(st.Join, " "), strings.Join(st.Leave, " "), when(st.Started))
	if st.Finished != nil {
		fmt.Fprintf(e.stdout, ", finished %s", when(st.Finished))
	}
	fmt.Fprintln(e.stdout)
	if len(st.Transfers) > 0 {
		tw := e.table()
		fmt.Fprintln(tw, "RACK\tFROM\tTO\tRANGES\tKEYS\tSKIPPED\tBYTES\tDONE")
		for _, t := range st.Transfers {
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%d\t%d\t%s\t%t\n", t.DC, t.Rack, t.From, t.To, t.Ranges, t.Keys, t.Skipped, bytesText(t.Bytes), t.Done)
		}
		_ = tw.Flush()
	}
	if len(st.Nodes) > 0 {
		tw := e.table()
		fmt.Fprintln(tw, "NODE\tPHASE\tERROR")
		for _, n := range st.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, orDash(n.Phase), orDash(n.Error))
		}
		_ = tw.Flush()
	}
	if len(st.Cleanups) > 0 {
		tw := e.table()
		fmt.Fprintln(tw, "CLEANUP\tSTATE\tDELETED\tERROR")
		for _, c := range st.Cleanups {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Node, c.State, c.Deleted, orDash(c.Error))
		}
		_ = tw.Flush()
	}
	if st.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", st.Error)
	}
	return code
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runCleanup starts the node's cleanup (POST /cleanup), waits for its end
// (GET /cleanup) and prints the result; exit 1 when refused or failed.
func runCleanup(e *env, args []string) int {
	wait := e.fs.Duration("wait", time.Hour, "how long to wait for the cleanup to finish")
	if _, ok := e.parse(args, 0, "[--wait D]"); !ok {
		return 2
	}
	res, err := e.do(http.MethodPost, "/cleanup")
	if err != nil {
		return e.fail(err)
	}
	var st admin.CleanupStatus
	switch res.code {
	case http.StatusAccepted:
	case http.StatusConflict:
		var refusal struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(res.body, &refusal) == nil && refusal.Error != "" {
			return e.fail(errors.New(refusal.Error)) // "cleanup refused: why"
		}
		return e.fail(e.refused("/cleanup", res))
	default:
		return e.fail(e.refused("/cleanup", res))
	}
	if err := json.Unmarshal(res.body, &st); err != nil {
		return e.fail(fmt.Errorf("%s/cleanup answered %s, not the expected JSON: %w", e.addr, abbrev(res.body), err))
	}
	if err := await(e, "/cleanup", *wait, &st, func(s *admin.CleanupStatus) bool { return s.State == admin.ScaleRunning },
		func(s *admin.CleanupStatus) string { return fmt.Sprintf("cleanup %d", s.ID) }, func(s *admin.CleanupStatus) any { return s.ID }); err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		if c := e.printJSON(st); c != 0 {
			return c
		}
	} else {
		took := time.Duration(0)
		if st.Started != nil && st.Finished != nil {
			took = st.Finished.Sub(*st.Started).Round(time.Millisecond)
		}
		fmt.Fprintf(e.stdout, "cleanup %d %s in %s: %d keys deleted of %d scanned, %d errors; kept %s\n",
			st.ID, st.State, took, st.Deleted, st.Scanned, st.Errors, st.Keep)
		if st.Error != "" {
			fmt.Fprintf(e.stdout, "error: %s\n", st.Error)
		}
	}
	if st.State != admin.ScaleDone {
		fmt.Fprintf(e.stderr, "dynomite: cleanup %d %s: %s\n", st.ID, st.State, st.Error)
		return 1
	}
	return 0
}
