package main

import (
	"slices"
	"testing"
)

func TestOnertcTargetArgs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"none", nil},
		{"pprof", []string{"-pprof", "127.0.0.1:6061"}},
		{"override", []string{"-log-level", "debug"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := onertcTarget("onertc", tc.extra).args(t.TempDir(), 8080, 9090)
			if args[0] != "serve" || !slices.Contains(args, "127.0.0.1:8080") || !slices.Contains(args, "127.0.0.1:9090") {
				t.Fatalf("args %q: not serve on the given ports", args)
			}
			// The extra flags come last: the flag package keeps a flag's last value.
			if got := args[len(args)-len(tc.extra):]; !slices.Equal(got, tc.extra) {
				t.Fatalf("args end %q, want %q", got, tc.extra)
			}
		})
	}
}
