package cli

import (
	"fmt"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// runStatus prints GET /status.
func runStatus(e *env, args []string) int {
	var s admin.StatusJSON
	if code, done := e.show(args, "/status", &s); done {
		return code
	}
	n := s.Node
	name := n.Name
	if n.Addr != n.Name {
		name += " (" + n.Addr + ")"
	}
	fmt.Fprintf(e.stdout, "node %s in %s/%s, tokens %s, state %s, datastore %s\n",
		name, n.DC, n.Rack, joinTokens(n.Tokens), n.State, n.Datastore)
	if s.Ready {
		fmt.Fprintln(e.stdout, "ready")
	} else {
		fmt.Fprintf(e.stdout, "not ready: %s\n", strings.Join(s.Missing, "; "))
	}
	if len(s.Peers) == 0 {
		fmt.Fprintln(e.stdout, "no peers")
	} else {
		tw := e.table()
		fmt.Fprintln(tw, "PEER\tDATACENTER\tRACK\tSTATE\tLATENCY\tREQUESTS\tERRORS\tTIMEOUTS\tCONNECT ERRORS")
		for _, p := range s.Peers {
			lat := "-"
			if p.LatencyMS != nil {
				lat = fmt.Sprintf("%.2fms", *p.LatencyMS)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", p.Name, p.DC, p.Rack, p.State, lat,
				p.Requests, p.Errors, p.Timeouts, p.ConnectErrors)
		}
		_ = tw.Flush()
	}
	for _, x := range []struct {
		name string
		v    any
	}{{"hints", s.Hints}, {"repair", s.Repair}} {
		if x.v == nil {
			fmt.Fprintf(e.stdout, "%s: not reported by this node\n", x.name)
		} else {
			fmt.Fprintf(e.stdout, "%s: %v\n", x.name, x.v)
		}
	}
	return 0
}
