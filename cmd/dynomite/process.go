package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dynomite-go/dynomite/proxy/config"
)

// handleSignals: SIGTERM/SIGINT stop gracefully, SIGHUP reopens the log
// file and then reloads the configuration file and the TLS certificates
// (node.Node.Reload: what can change live is applied, a file that is
// invalid or changes a restart-only key is refused and logged, and the
// configuration in force stays), SIGTTIN/SIGTTOU raise/lower the log level
// (as upstream).
func handleSignals(ctx context.Context, stop context.CancelFunc, out *logOutput, level *slog.LevelVar, log *slog.Logger, reloadc <-chan func()) {
	reload := func() {} // nothing to reload before the node exists
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPIPE)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case reload = <-reloadc:
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
				reload()
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
		Env:   append(os.Environ(), config.EnvDaemonized+"=1"),
		Files: []*os.File{null, null, null},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	}
	p, err := os.StartProcess(exe, os.Args, attr)
	if err != nil {
		return err
	}
	return p.Release()
}
