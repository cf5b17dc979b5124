// Command dynomite runs one Dynomite node: a drop-in replacement for Netflix
// Dynomite with the same flags, configuration file and ports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/pflag"
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
		"                [-x admin operation]\n       dynomite health [--addr host:port]\n\nOptions:\n", version)
	fmt.Fprint(w, fs.FlagUsages())
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "health" {
		return runHealth(args[1:], stdout, stderr)
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
	case f.describe:
		describeStats(stdout)
		return 0
	}
	if f.verbosity < 0 || f.verbosity > 11 {
		fmt.Fprintf(stderr, "dynomite: option -v requires a number between 0 and 11, got %d\n", f.verbosity)
		return 1
	}
	if f.mbufSize < 512 || f.mbufSize > 512000 || f.mbufSize%16 != 0 {
		fmt.Fprintf(stderr, "dynomite: option -m requires a multiple of 16 between 512 and 512000, got %d\n", f.mbufSize)
		return 1
	}
	if f.maxMsgs < 100000 || f.maxMsgs > 1000000 {
		fmt.Fprintf(stderr, "dynomite: option -M requires a number between 100000 and 1000000, got %d\n", f.maxMsgs)
		return 1
	}
	if f.admin < 0 {
		fmt.Fprintf(stderr, "dynomite: option -x requires a non-negative number, got %d\n", f.admin)
		return 1
	}

	cfg, err := loadConfig(f.conf)
	if err == nil {
		if perr := validateProvider(cfg); perr != nil {
			err = fmt.Errorf("dyn_seed_provider: %s: %w", cfg.DynSeedProvider, perr)
		}
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
	applyFlagDefaults(cfg, f)

	if f.daemon && os.Getenv(daemonEnv) == "" {
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
	go handleSignals(ctx, stop, out, level, log)

	log.Info("dynomite starting", "version", version, "conf", f.conf, "pool", cfg.Pool)
	if err := serve(ctx, cfg, f, log, level); err != nil {
		log.Error("dynomite stopped", "err", err)
		return 1
	}
	return 0
}

// handleSignals: SIGTERM/SIGINT stop gracefully, SIGHUP reopens the log
// file, SIGTTIN/SIGTTOU raise/lower the log level (as upstream).
func handleSignals(ctx context.Context, stop context.CancelFunc, out *logOutput, level *slog.LevelVar, log *slog.Logger) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPIPE)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-ch:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				log.Info("signal received, stopping", "signal", sig.String())
				stop()
			case syscall.SIGHUP:
				if err := out.Reopen(); err != nil {
					log.Error("reopening log file", "err", err)
				} else {
					log.Info("log file reopened")
				}
				reloadCerts(log)
			case syscall.SIGTTIN:
				level.Set(level.Level() - 1)
				log.Info("log level raised", "level", level.Level().String())
			case syscall.SIGTTOU:
				level.Set(level.Level() + 1)
				log.Info("log level lowered", "level", level.Level().String())
			}
		}
	}
}

const daemonEnv = "DYNOMITE_DAEMONIZED"

// daemonize re-executes the binary detached from the terminal in a new
// session (Go cannot fork), keeping the working directory as upstream does.
func daemonize() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	attr := &os.ProcAttr{
		Env:   append(os.Environ(), daemonEnv+"=1"),
		Files: []*os.File{null, null, null},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	p, err := os.StartProcess(exe, os.Args, attr)
	if err != nil {
		return err
	}
	return p.Release()
}

var errUnhealthy = errors.New("unhealthy")
