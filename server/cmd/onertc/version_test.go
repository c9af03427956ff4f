package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The top level answers --help with the commands and --version with what was built
// (TestEveryCommandAnswersHelp covers each command's own help).
func TestHelpAndVersion(t *testing.T) {
	commit = "0123456789abcdef0123456789abcdef01234567"
	t.Cleanup(func() { commit = "" })
	version := regexp.MustCompile(`^onertc \S+\ncommit 0123456789abcdef0123456789abcdef01234567\n` +
		regexp.QuoteMeta(runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) + `\n$`)
	commands := regexp.MustCompile(`(?s)serve .*bot .*check .*version `)
	tests := []struct {
		args      []string
		code      int
		stdout    *regexp.Regexp
		stderrHas string
	}{
		{[]string{"--help"}, 0, commands, ""},
		{[]string{"-h"}, 0, commands, ""},
		{[]string{"help"}, 0, commands, ""},
		{[]string{"--version"}, 0, version, ""},
		{[]string{"version"}, 0, version, ""},
		{[]string{"version", "extra"}, 2, regexp.MustCompile(`^$`), `unexpected argument "extra"`},
		{[]string{"frobnicate"}, 2, regexp.MustCompile(`^$`), `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !tt.stdout.MatchString(stdout.String()) {
				t.Fatalf("stdout %q does not match %s", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderrHas) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tt.stderrHas)
			}
		})
	}
}

// A binary without the browser app says so at start, with the way out; one with it is quiet.
func TestMissingAppIsLogged(t *testing.T) {
	for _, tt := range []struct {
		wasmURL string
		want    string
	}{
		{"", "level=ERROR msg=\"the browser app is not built into this binary"},
		{"/static/app-0123456789ab.wasm", ""},
	} {
		var buf bytes.Buffer
		logMissingApp(slog.New(slog.NewTextHandler(&buf, nil)), tt.wasmURL)
		if tt.want == "" && buf.Len() != 0 || !strings.Contains(buf.String(), tt.want) || tt.want != "" && !strings.Contains(buf.String(), "make build") {
			t.Errorf("wasm %q logged %q, want %q and the way out", tt.wasmURL, buf.String(), tt.want)
		}
	}
}
