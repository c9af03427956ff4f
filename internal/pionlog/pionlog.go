// Package pionlog routes pion's logs (pion/logging) to a log/slog logger, so that they reach
// the operator's log in its format instead of pion's own stderr writer (which would also
// corrupt a bot's JSON output on stdout). pion's info is chatter (candidates, state changes)
// and goes to debug; how loud its warnings and errors are is the caller's to say.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Levels are the slog levels pion's warnings and errors are logged at.
type Levels struct {
	Warn, Error slog.Level
}

// AsIs logs pion's warnings as warnings and its errors as errors.
var AsIs = Levels{Warn: slog.LevelWarn, Error: slog.LevelError}

// Factory makes pion's loggers on log (nil: discarded), each with its scope as "pion".
func Factory(log *slog.Logger, levels Levels) logging.LoggerFactory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return factory{log: log, levels: levels}
}

type factory struct {
	log    *slog.Logger
	levels Levels
}

func (f factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{log: f.log.With("pion", scope), levels: f.levels}
}

// traceLevel is below debug: pion's traces reach only a handler set that low.
const traceLevel = slog.LevelDebug - 4

type logger struct {
	log    *slog.Logger
	levels Levels
}

func (l logger) at(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l logger) atf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Trace(msg string)                  { l.at(traceLevel, msg) }
func (l logger) Tracef(format string, args ...any) { l.atf(traceLevel, format, args...) }
func (l logger) Debug(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l logger) Debugf(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l logger) Info(msg string)                   { l.at(slog.LevelDebug, msg) }
func (l logger) Infof(format string, args ...any)  { l.atf(slog.LevelDebug, format, args...) }
func (l logger) Warn(msg string)                   { l.at(l.levels.Warn, msg) }
func (l logger) Warnf(format string, args ...any)  { l.atf(l.levels.Warn, format, args...) }
func (l logger) Error(msg string)                  { l.at(l.levels.Error, msg) }
func (l logger) Errorf(format string, args ...any) { l.atf(l.levels.Error, format, args...) }
