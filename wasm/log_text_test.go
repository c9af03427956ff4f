//go:build js && wasm

package main

import (
	"errors"
	"testing"
)

func TestLogLine(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		args []any
		want string
	}{
		{"app ready", nil, "app ready"},
		{"join", []any{"room", "abc", "n", 2}, "join room=abc n=2"},
		{"no local media", []any{"err", errors.New("NotAllowedError: denied")}, "no local media err=NotAllowedError: denied"},
		{"odd", []any{"room", "abc", "dangling"}, "odd room=abc !BADKEY=dangling"},
		{"only a value", []any{42}, "only a value !BADKEY=42"},
	} {
		if got := logLine(tc.msg, tc.args); got != tc.want {
			t.Errorf("logLine(%q, %v) = %q, want %q", tc.msg, tc.args, got, tc.want)
		}
	}
}
