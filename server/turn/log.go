package turn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/logging"
)

// pion logs every undecodable or unexpected datagram at error level; anyone on the Internet
// can make it do so. Its messages go to slog demoted one level (errors → warn, info → debug)
// and rate-limited per scope, with a count of what was suppressed.
const (
	logBurst  = 10
	logWindow = 10 * time.Second
)

type loggerFactory struct{ log *slog.Logger }

func newLoggerFactory(l *slog.Logger) logging.LoggerFactory { return loggerFactory{log: l} }

func (f loggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return &pionLogger{log: f.log.With("component", "pion-"+scope), now: time.Now}
}

type pionLogger struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	window     time.Time
	n          int
	suppressed int
}

func (l *pionLogger) emit(level slog.Level, msg string) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	now := l.now()
	l.mu.Lock()
	if now.Sub(l.window) >= logWindow {
		if l.suppressed > 0 {
			l.log.Warn("pion log messages suppressed", "count", l.suppressed, "window", logWindow.String())
		}
		l.window, l.n, l.suppressed = now, 0, 0
	}
	l.n++
	if l.n > logBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.log.Log(ctx, level, msg)
}

func (l *pionLogger) enabled(level slog.Level) bool {
	return l.log.Enabled(context.Background(), level)
}

func (l *pionLogger) logf(level slog.Level, format string, args ...any) {
	if l.enabled(level) { // skip formatting on the per-packet debug path
		l.emit(level, fmt.Sprintf(format, args...))
	}
}

func (l *pionLogger) Trace(msg string)                  { l.emit(slog.LevelDebug-4, msg) }
func (l *pionLogger) Tracef(format string, args ...any) { l.logf(slog.LevelDebug-4, format, args...) }
func (l *pionLogger) Debug(msg string)                  { l.emit(slog.LevelDebug-4, msg) }
func (l *pionLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug-4, format, args...) }
func (l *pionLogger) Info(msg string)                   { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Warn(msg string)                   { l.emit(slog.LevelInfo, msg) }
func (l *pionLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelInfo, format, args...) }
func (l *pionLogger) Error(msg string)                  { l.emit(slog.LevelWarn, msg) }
func (l *pionLogger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
