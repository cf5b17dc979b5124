// Command dynomite runs one Dynomite node: a drop-in replacement for Netflix
// Dynomite with the same flags, configuration file and ports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/dynomite-go/dynomite/cmd/dynomite/cli"
	"github.com/dynomite-go/dynomite/proxy/config"
	"github.com/dynomite-go/dynomite/proxy/metrics"
	"github.com/dynomite-go/dynomite/proxy/node"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type flags struct {
	help, version, test, daemon, describe bool
	verbosity                             int
	output, conf, pidFile                 string
	mbufSize, maxMsgs, admin              int
}

func parseFlags(args []string, stderr io.Writer) (*flags, *pflag.FlagSet, error) {
	f := &flags{}
	fs := pflag.NewFlagSet("dynomite", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.BoolVarP(&f.help, "help", "h", false, "this help")
	fs.BoolVarP(&f.version, "version", "V", false, "show version and exit")
	fs.BoolVarP(&f.test, "test-conf", "t", false, "test configuration for syntax errors and exit")
	fs.BoolVarP(&f.daemon, "daemonize", "d", false, "run as a daemon")
	fs.BoolVarP(&f.describe, "describe-stats", "D", false, "print stats description and exit")
	fs.IntVarP(&f.verbosity, "verbosity", "v", 5, "set logging level (0..11: 0 emerg, 5 notice, 7 debug, 11 most verbose)")
	fs.StringVarP(&f.output, "output", "o", "", "set logging file (default: stderr); SIGHUP reopens it")
	fs.StringVarP(&f.conf, "conf-file", "c", "conf/dynomite.yml", "set configuration file")
	fs.StringVarP(&f.pidFile, "pid-file", "p", "", "set pid file")
	fs.IntVarP(&f.mbufSize, "mbuf-size", "m", 16384, "set size of mbuf chunk in bytes (512..512000; the YAML mbuf_size wins)")
	fs.IntVarP(&f.maxMsgs, "max-msgs", "M", 200000, "set max number of messages to allocate (the YAML max_msgs wins)")
	fs.IntVarP(&f.admin, "admin-operation", "x", 0, "set admin operation mode (1: deletes only on the local node)")
	fs.Usage = func() {}
	err := fs.Parse(args)
	return f, fs, err
}

func usage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "This is dynomite-%s\n\nUsage: dynomite [-?hVdDt] [-v verbosity level] [-o output file]\n"+
		"                [-c conf file] [-p pid file] [-m mbuf size] [-M max alloc messages]\n"+
		"                [-x admin operation]\n       dynomite SUBCOMMAND [flags] (dynomite help)\n\nOptions:\n", version)
	fmt.Fprint(w, fs.FlagUsages())
	fmt.Fprintln(w)
	cli.Usage(w)
}

func run(args []string, stdout, stderr io.Writer) int {
	if code, ok := cli.Run(args, stdout, stderr); ok {
		return code
	}
	f, fs, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dynomite: %v\n", err)
		usage(stderr, fs)
		return 1
	}
	switch {
	case f.help:
		usage(stdout, fs)
		return 0
	case f.version:
		fmt.Fprintf(stdout, "This is dynomite-%s\n", version)
		return 0
	case f.describe: // upstream prints pool and server stats; here the metrics and /info fields
		metrics.Describe(stdout, version)
		return 0
	}
	for _, c := range []struct {
		bad  bool
		want string
		got  int
	}{
		{f.verbosity < 0 || f.verbosity > 11, "-v requires a number between 0 and 11", f.verbosity},
		{f.mbufSize < 512 || f.mbufSize > 512000 || f.mbufSize%16 != 0, "-m requires a multiple of 16 between 512 and 512000", f.mbufSize},
		{f.maxMsgs < 100000 || f.maxMsgs > 1000000, "-M requires a number between 100000 and 1000000", f.maxMsgs},
		{f.admin < 0, "-x requires a non-negative number", f.admin},
	} {
		if c.bad {
			fmt.Fprintf(stderr, "dynomite: option %s, got %d\n", c.want, c.got)
			return 1
		}
	}

	cfg, err := config.LoadOrEnv(f.conf)
	if pe := (*iofs.PathError)(nil); errors.As(err, &pe) {
		// a file that cannot be read has no syntax to judge: say why only
		fmt.Fprintf(stderr, "dynomite: cannot read configuration file %s: %v\n", f.conf, pe.Err)
		return 1
	}
	if err == nil {
		err = node.Validate(cfg)
	}
	if f.test {
		if err != nil {
			fmt.Fprintf(stderr, "dynomite: configuration file '%s' syntax is invalid\n%v\n", f.conf, err)
			return 1
		}
		fmt.Fprintf(stdout, "dynomite: configuration file '%s' syntax is valid\n", f.conf)
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
		cfg.Describe(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "dynomite: configuration file '%s' syntax is invalid\n%v\n", f.conf, err)
		return 1
	}
	// -m and -M apply only when the file leaves mbuf_size and max_msgs unset, as upstream
	if !cfg.IsSet("mbuf_size") {
		cfg.MbufSize = f.mbufSize
	}
	if !cfg.IsSet("max_msgs") {
		cfg.MaxMsgs = f.maxMsgs
	}
	if f.daemon && os.Getenv(config.EnvDaemonized) == "" {
		if err := daemonize(); err != nil {
			fmt.Fprintf(stderr, "dynomite: daemonize: %v\n", err)
			return 1
		}
		return 0
	}

	out, err := openLog(f.output, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dynomite: %v\n", err)
		return 1
	}
	defer out.Close()
	level := new(slog.LevelVar)
	if !fs.Changed("verbosity") && cfg.IsSet("verbosity") {
		f.verbosity = cfg.Verbosity // the file's level, unless -v says otherwise
	}
	level.Set(levelFor(f.verbosity))
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w)
	}

	if f.pidFile != "" {
		if err := os.WriteFile(f.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Error("writing pid file (-p)", "path", f.pidFile, "err", err)
			return 1
		}
		defer os.Remove(f.pidFile)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	reload := make(chan func(), 1) // the node's Reload once it exists
	go handleSignals(ctx, stop, out, level, log, reload)

	log.Info("dynomite starting", "version", version, "conf", f.conf, "pool", cfg.Pool)
	opts := []node.Option{node.WithLogger(log), node.WithVersion(version),
		node.WithLogControl(logControl{level}), node.WithAdminMode(f.admin)}
	if _, err := os.Stat(f.conf); err == nil { // the file, not the environment: SIGHUP and POST /reload re-read it
		opts = append(opts, node.WithConfigFile(f.conf))
	}
	n, err := node.New(ctx, cfg, opts...)
	if err == nil {
		reload <- n.Reload
		err = n.Run(ctx)
	}
	if err != nil {
		log.Error("dynomite stopped", "err", err)
		return 1
	}
	return 0
}
