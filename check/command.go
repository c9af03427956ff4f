//go:build !js

package check

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Command is `onertc check [--json] [--timeout 15s] URL`. It exits 0 when a call would
// work, 1 when it would not, 2 on bad usage.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("onertc check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 15*time.Second, "how long each transport may take to connect")
	verbose := fs.Bool("verbose", false, "log what the bots do to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: onertc check [flags] https://your.server\n\nRuns a relay-only call between two bots through the server's TURN, over UDP, TCP and TLS in turn\n(TLS on the HTTPS port when the server shares it: what works behind a firewall that lets only 443 out).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	rep := Run(ctx, Options{Server: fs.Arg(0), Timeout: *timeout, Logger: log})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.Print(stdout)
	}
	if rep.CallWorks() {
		return 0
	}
	return 1
}
