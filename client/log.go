package client

import "slices"

// Logger receives a call's logs: a message and key-value attributes, as log/slog takes
// them. *slog.Logger satisfies it, so native callers pass their slog loggers; the js/wasm
// app passes a console logger and does not link log/slog (about 90 KB of brotli).
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// withAttrs returns a Logger that adds args to every record of l, as slog.Logger.With does
// (which is not part of Logger: its result type is *slog.Logger).
func withAttrs(l Logger, args ...any) Logger {
	if a, ok := l.(attrLogger); ok {
		return attrLogger{l: a.l, attrs: slices.Concat(a.attrs, args)}
	}
	return attrLogger{l: l, attrs: slices.Clone(args)}
}

type attrLogger struct {
	l     Logger
	attrs []any
}

func (a attrLogger) Debug(msg string, args ...any) { a.l.Debug(msg, slices.Concat(a.attrs, args)...) }
func (a attrLogger) Info(msg string, args ...any)  { a.l.Info(msg, slices.Concat(a.attrs, args)...) }
func (a attrLogger) Warn(msg string, args ...any)  { a.l.Warn(msg, slices.Concat(a.attrs, args)...) }
func (a attrLogger) Error(msg string, args ...any) { a.l.Error(msg, slices.Concat(a.attrs, args)...) }

// discard is the Logger of a Config without one.
type discard struct{}

func (discard) Debug(string, ...any) {}
func (discard) Info(string, ...any)  {}
func (discard) Warn(string, ...any)  {}
func (discard) Error(string, ...any) {}
