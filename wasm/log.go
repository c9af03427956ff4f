//go:build js && wasm

package main

import "syscall/js"

// consoleLogger is the app's client.Logger: one line per record on the browser console, the
// message then key=value attributes, at the console level of the record. It stands in for
// log/slog, which would cost the wasm about 90 KB of brotli.
type consoleLogger struct {
	debug bool // log Debug records (?debug=true)
}

func (l consoleLogger) Debug(msg string, args ...any) {
	if l.debug {
		l.log("debug", msg, args)
	}
}
func (l consoleLogger) Info(msg string, args ...any)  { l.log("info", msg, args) }
func (l consoleLogger) Warn(msg string, args ...any)  { l.log("warn", msg, args) }
func (l consoleLogger) Error(msg string, args ...any) { l.log("error", msg, args) }

func (consoleLogger) log(method, msg string, args []any) {
	js.Global().Get("console").Call(method, logLine(msg, args))
}
