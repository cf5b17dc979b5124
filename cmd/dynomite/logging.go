package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// Upstream's verbosity levels (dyn_log.h): 0 EMERG … 5 NOTICE (default) …
// 11 PVERB. They map onto slog levels; the levels above DEBUG become
// increasingly verbose debug levels.
const (
	levelNotice = slog.LevelInfo
)

// levelFor maps `-v N` onto a slog level.
func levelFor(v int) slog.Level {
	switch {
	case v <= 3: // EMERG, ALERT, CRIT, ERR
		return slog.LevelError
	case v == 4: // WARN
		return slog.LevelWarn
	case v == 5, v == 6: // NOTICE, INFO
		return levelNotice
	default: // DEBUG (7) and the verbose levels 8..11
		return slog.LevelDebug - slog.Level(v-7)
	}
}

// logOutput is the log destination: stderr, or a file that SIGHUP reopens
// (for logrotate's create/move scheme).
type logOutput struct {
	mu   sync.Mutex
	path string
	f    *os.File
	w    io.Writer
}

func openLog(path string, stderr io.Writer) (*logOutput, error) {
	l := &logOutput{path: path, w: stderr}
	if path == "" {
		return l, nil
	}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Reopen closes and reopens the log file; a no-op for stderr.
func (l *logOutput) Reopen() error {
	if l.path == "" {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening log file %q (-o): %w", l.path, err)
	}
	l.mu.Lock()
	old := l.f
	l.f, l.w = f, f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *logOutput) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// logControl serves /setloglevel, /loglevelup and /logleveldown.
type logControl struct{ level *slog.LevelVar }

func (l logControl) SetVerbosity(v int) bool {
	if v < 0 || v > 11 {
		return false
	}
	l.level.Set(levelFor(v))
	return true
}

func (l logControl) Adjust(delta int) { l.level.Set(l.level.Level() - slog.Level(delta)) }
