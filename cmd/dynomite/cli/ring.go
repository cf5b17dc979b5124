package cli

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/dynomite-go/dynomite/proxy/admin"
)

// runRing prints GET /ring: one row per node.
func runRing(e *env, args []string) int {
	var r admin.RingJSON
	if code, done := e.show(args, "/ring", &r); done {
		return code
	}
	tw := e.table()
	fmt.Fprintln(tw, "DATACENTER\tRACK\tNODE\tADDRESS\tTOKENS\tSTATE")
	for _, dc := range r.Datacenters {
		for _, rk := range dc.Racks {
			for _, n := range rk.Nodes {
				state := n.State
				if n.RingState != "" && n.RingState != "normal" {
					state += ", " + n.RingState // its part in a move (dynomite scale)
				}
				if n.Local {
					state += " (this node)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dc.Name, rk.Name, n.Name, n.Addr, joinTokens(n.Tokens), state)
			}
		}
	}
	_ = tw.Flush()
	return 0
}

func joinTokens(ts []uint32) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = fmt.Sprint(t)
	}
	return strings.Join(s, ",")
}

// runOwner prints GET /owner?key=KEY: the owner in every datacenter and
// rack, computed by the node with its own hash and hash tag.
func runOwner(e *env, args []string) int {
	pos, ok := e.parse(args, 1, "KEY")
	if !ok {
		return 2
	}
	var o admin.OwnerJSON
	if err := e.getJSON("/owner?key="+url.QueryEscape(pos[0]), &o); err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(o)
	}
	tag := ""
	if o.HashTag != "" {
		tag = ", hash_tag " + o.HashTag
	}
	if o.Keyless {
		fmt.Fprintf(e.stdout, "key %q has an empty hash tag: it is not hashed, every node serves it locally\n", o.Key)
	} else {
		fmt.Fprintf(e.stdout, "key %q: token %d (hash %s%s)\n", o.Key, o.Token, o.Hash, tag)
	}
	tw := e.table()
	fmt.Fprintln(tw, "DATACENTER\tRACK\tNODE\tADDRESS")
	for _, p := range o.Owners {
		name := p.Node
		if p.Local {
			name += " (this node)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.DC, p.Rack, name, p.Addr)
	}
	_ = tw.Flush()
	return 0
}
