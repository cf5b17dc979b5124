package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynomite-go/dynomite/proxy/admin"
	"github.com/dynomite-go/dynomite/proxy/antientropy"
)

// RepairJSON is GET /repair with the repair's report decoded.
type RepairJSON struct {
	admin.RepairStatus
	Result *antientropy.Result `json:"result"`
}

// maxKeysShown bounds the divergent keys the table lists (-o json has
// the node's first antientropy.MaxKeyReports).
const maxKeysShown = 10

// runRepair starts an anti-entropy repair on the node (POST /repair),
// waits for its end (GET /repair) and prints the result. It exits 0 when
// every divergent key was fixed (or, with --dry-run, resolved).
func runRepair(e *env, args []string) int {
	ranges := e.fs.StringSlice("range", nil, "token range START:END to repair, (START, END]; repeatable (default: the node's own)")
	stores := e.fs.StringSlice("datastore", nil, "NODE=HOST:PORT: a peer's datastore, when its GET /datastore is not reachable at its host and this stats port; repeatable")
	dry := e.fs.Bool("dry-run", false, "find and resolve the divergent keys, write nothing")
	wait := e.fs.Duration("wait", time.Hour, "how long to wait for the repair to finish")
	if _, ok := e.parse(args, 0, "[--range START:END]... [--datastore NODE=HOST:PORT]... [--dry-run]"); !ok {
		return 2
	}
	req := admin.RepairRequest{DryRun: *dry}
	for _, r := range *ranges {
		a, b, ok := strings.Cut(r, ":")
		start, err1 := strconv.ParseUint(a, 10, 32)
		end, err2 := strconv.ParseUint(b, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			fmt.Fprintf(e.stderr, "%s: --range %q: want START:END, two tokens 0..4294967295\n", e.fs.Name(), r)
			return 2
		}
		req.Ranges = append(req.Ranges, admin.RepairRange{Start: uint32(start), End: uint32(end)})
	}
	for _, s := range *stores {
		name, addr, ok := strings.Cut(s, "=")
		if !ok || name == "" || addr == "" {
			fmt.Fprintf(e.stderr, "%s: --datastore %q: want NODE=HOST:PORT (the node's name as `dynomite ring` shows it)\n", e.fs.Name(), s)
			return 2
		}
		if req.Datastores == nil {
			req.Datastores = map[string]string{}
		}
		req.Datastores[name] = addr
	}
	body, err := json.Marshal(req)
	if err != nil {
		return e.fail(err)
	}
	res, err := e.send(http.MethodPost, "/repair", body)
	if err != nil {
		return e.fail(err)
	}
	var st RepairJSON
	switch res.code {
	case http.StatusAccepted:
	case http.StatusConflict:
		_ = json.Unmarshal(res.body, &st)
		return e.fail(fmt.Errorf("repair %d is already running on %s (started %s): wait for it with GET /repair", st.ID, e.addr, when(st.Started)))
	default:
		return e.fail(e.refused("/repair", res))
	}
	if err := json.Unmarshal(res.body, &st); err != nil {
		return e.fail(fmt.Errorf("%s/repair answered %s, not the expected JSON: %w", e.addr, abbrev(res.body), err))
	}
	if err := await(e, "/repair", *wait, &st, func(s *RepairJSON) bool { return s.State == admin.RepairRunning },
		func(s *RepairJSON) string { return fmt.Sprintf("repair %d", s.ID) }, func(s *RepairJSON) any { return s.ID }); err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		if code := e.printJSON(st); code != 0 {
			return code
		}
	} else {
		printRepair(e, st)
	}
	return repairExit(e, st)
}

func when(t *time.Time) string {
	if t == nil {
		return "at an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

func printRepair(e *env, st RepairJSON) {
	r := st.Result
	if r == nil {
		r = &antientropy.Result{}
	}
	dry := ""
	if r.DryRun {
		dry = ", dry run: nothing written"
	}
	fmt.Fprintf(e.stdout, "repair %d %s in %.1fs (%s%s)\n", st.ID, st.State, r.Elapsed, st.Trigger, dry)
	fmt.Fprintf(e.stdout, "replicas: %s\n", strings.Join(st.Replicas, "; "))
	tw := e.table()
	fmt.Fprintln(tw, "RANGE\tKEYS\tLEAVES\tDIFFERING\tFOUND\tFIXED\tUNRESOLVED\tCHANGED")
	for _, rr := range r.Ranges {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", rr.Range, rr.Keys, rr.Leaves, rr.LeavesDiffering,
			rr.Found, rr.Fixed, rr.Unresolved, rr.ChangedMeanwhile)
	}
	_ = tw.Flush()
	fmt.Fprintf(e.stdout, "%d keys read; %d divergent keys found, %d fixed (by timestamp %d, majority %d, preferred datacenter %d); %d unresolved, %d changed meanwhile, %d errors\n",
		r.Scanned, r.Found, r.Fixed, r.ByTimestamp, r.ByMajority, r.ByPreferredDC, r.Unresolved, r.ChangedMeanwhile, r.Errors)
	if len(r.Keys) > 0 {
		tw = e.table()
		fmt.Fprintln(tw, "KEY\tRULE\tWINNER\tREPAIRED")
		for _, k := range r.Keys[:min(len(r.Keys), maxKeysShown)] {
			fmt.Fprintf(tw, "%q\t%s\t%s\t%s\n", k.Key, k.Rule, k.Winner, strings.Join(k.Losers, ", "))
		}
		_ = tw.Flush()
		if more := r.Found - maxKeysShown; more > 0 {
			fmt.Fprintf(e.stdout, "... %d more (-o json lists up to %d)\n", more, antientropy.MaxKeyReports)
		}
	}
	if r.LastError != "" {
		fmt.Fprintf(e.stdout, "last error: %s\n", r.LastError)
	}
	if st.Error != "" {
		fmt.Fprintf(e.stdout, "error: %s\n", st.Error)
	}
}

// repairExit is 0 when the repair left no divergent key behind.
func repairExit(e *env, st RepairJSON) int {
	var err error
	r := st.Result
	switch {
	case st.State != admin.RepairDone:
		err = fmt.Errorf("repair %d %s: %s", st.ID, st.State, st.Error)
	case r == nil:
		err = errors.New("the node reported no result")
	case r.Errors > 0 || r.Unresolved > 0 || r.ChangedMeanwhile > 0:
		err = fmt.Errorf("repair %d left keys divergent: %d unresolved (set repair_preferred_dc), %d changed meanwhile, %d errors", st.ID, r.Unresolved, r.ChangedMeanwhile, r.Errors)
	default:
		return 0
	}
	fmt.Fprintf(e.stderr, "dynomite: %v\n", err)
	return 1
}
