package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// command is one subcommand: what it does in a line, what follows its name,
// and its body. run returns the exit code.
type command struct {
	name, args, summary string
	offline             bool // needs no node: no --addr, --token
	run                 func(e *env, args []string) int
}

func commands() []command {
	return []command{
		{name: "health", summary: "liveness: exit 0 when the node's datastore is connected (container healthcheck)", run: runHealth},
		{name: "ready", summary: "readiness: exit 0 when the datastore is connected and every peer the seed provider lists is known", run: runReady},
		{name: "ring", summary: "datacenters, racks, nodes, tokens and state, as the node sees the ring", run: runRing},
		{name: "owner", args: "KEY", summary: "the node of every datacenter and rack that holds KEY, with KEY's token", run: runOwner},
		{name: "status", summary: "this node, its readiness, and its peers' state and latency", run: runStatus},
		{name: "streams", summary: "data-movement jobs (warm-up, repair, scale, cleanup): state, keys copied, rate, ETA, errors", run: runStreams},
		{name: "warmup", summary: "start a warm-up of the node (POST /warmup): fill its datastore from a replica, reads elsewhere meanwhile", run: runWarmup},
		{name: "tokens", args: "N [--racks R]", summary: "balanced tokens for N nodes per rack (offline)", offline: true, run: runTokens},
		{name: "reload", summary: "reload the node's configuration (POST /reload); exit 1 when refused", run: runReload},
		{name: "repair", args: "[--range S:E]... [--dry-run]", summary: "compare the node's ranges on every rack and repair divergent keys (POST /repair); waits, prints the result", run: runRepair},
		{name: "scale", args: "join NAME... | leave NAME... | status | abort", summary: "move token ranges: add nodes to their racks or remove them (POST /scale), show or abort the move", run: runScale},
		{name: "cleanup", summary: "delete the keys outside the node's ranges after a move (POST /cleanup); waits, prints the result", run: runCleanup},
		{name: "help", summary: "this list", offline: true, run: func(e *env, _ []string) int { usage(e.stdout); return 0 }},
	}
}

// Run runs the subcommand args[0] names. handled is false when args do not
// start with a subcommand: the caller then runs the node.
func Run(args []string, stdout, stderr io.Writer) (code int, handled bool) {
	if len(args) == 0 {
		return 0, false
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.exec(args[1:], stdout, stderr), true
		}
	}
	return 0, false
}

// Usage lists the subcommands (for the node's own usage text).
func Usage(w io.Writer) { usage(w) }

func usage(w io.Writer) {
	fmt.Fprint(w, "Subcommands (talk to a node's stats listener; flags after the subcommand):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  dynomite %s %s\t%s\n", c.name, c.args, c.summary)
	}
	_ = tw.Flush()
	fmt.Fprint(w, "Flags: --addr host:port (stats listener, default 127.0.0.1:22222), --token T (stats_admin_token;\n"+
		"       default $"+TokenEnv+"), -o table|json, --timeout D (default 5s)\n")
}

// TokenEnv is the variable the admin token is read from when --token is
// not given: the same one a node configured from the environment reads
// stats_admin_token from, so `docker exec NODE dynomite reload` finds it.
const TokenEnv = "DYNOMITE_STATS_ADMIN_TOKEN"

// env is what a command runs with: its output, the parsed global flags and
// its own flag set.
type env struct {
	stdout, stderr io.Writer
	fs             *pflag.FlagSet
	addr, token    string
	output         string
	timeout        time.Duration
}

func (c command) exec(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, fs: pflag.NewFlagSet("dynomite "+c.name, pflag.ContinueOnError)}
	e.fs.SetOutput(io.Discard)
	e.fs.SortFlags = false
	if !c.offline {
		e.fs.StringVar(&e.addr, "addr", "127.0.0.1:22222", "the node's stats listener (stats_listen)")
		// the default is read after parsing: pflag would print a default
		// value in the usage text, and this one is a secret
		e.fs.StringVar(&e.token, "token", "", "stats_admin_token, for guarded endpoints (default $"+TokenEnv+")")
		e.fs.DurationVar(&e.timeout, "timeout", 5*time.Second, "request timeout")
	}
	e.fs.StringVarP(&e.output, "output", "o", "table", "table or json")
	return c.run(e, args)
}

// parse parses the command's flags and checks -o and the number of
// positional arguments (-n: at least n); it returns them, or ok false
// after printing the problem.
func (e *env) parse(args []string, positional int, what string) ([]string, bool) {
	err := e.fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		e.help(what)
		return nil, false
	case err != nil:
	case e.output != "table" && e.output != "json":
		err = fmt.Errorf("-o %q: want table or json", e.output)
	case positional < 0 && e.fs.NArg() < -positional:
		err = fmt.Errorf("want %s", what)
	case positional < 0:
	case e.fs.NArg() != positional && positional == 0:
		err = fmt.Errorf("takes no arguments, got %s", strings.Join(e.fs.Args(), " "))
	case e.fs.NArg() != positional:
		err = fmt.Errorf("want %s, got %d arguments %q", what, e.fs.NArg(), e.fs.Args())
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", e.fs.Name(), err)
		e.help(what)
		return nil, false
	}
	if e.token == "" {
		e.token = os.Getenv(TokenEnv)
	}
	return e.fs.Args(), true
}

func (e *env) help(what string) {
	fmt.Fprintf(e.stderr, "Usage: %s %s\n%s", e.fs.Name(), what, e.fs.FlagUsages())
}

func (e *env) table() *tabwriter.Writer { return tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0) }
