package gossip

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// logWriter turns memberlist's standard-library log lines, such as
// "[ERR] memberlist: Failed to send ping: ...", into levelled slog records
// (as dskit's kv/memberlist logger does).
type logWriter struct{ log *slog.Logger }

func newStdLogger(l *slog.Logger) *log.Logger { return log.New(logWriter{l}, "", 0) }

var levels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[TRACE]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

func (w logWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		lvl := slog.LevelInfo
		for _, l := range levels {
			if rest, ok := strings.CutPrefix(line, l.prefix); ok {
				lvl, line = l.level, strings.TrimSpace(rest)
				break
			}
		}
		line = strings.TrimPrefix(line, "memberlist: ")
		if line == "" {
			continue
		}
		w.log.Log(context.Background(), lvl, line)
	}
	return len(p), nil
}
