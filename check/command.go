//go:build !js

package check

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/onertc/onertc/internal/secretfile"
)

// Command is `onertc check [--json] [--timeout 15s] URL`. It exits 0 when a call would
// work, 1 when it would not, 2 on bad usage.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("onertc check", flag.ContinueOnError)
	// Help goes to stdout, errors to stderr: both are printed here, not by the flag package.
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 15*time.Second, "how long each transport may take to connect")
	verbose := fs.Bool("verbose", false, "log what the bots do to stderr")
	keyFile := fs.String("turn-api-key-file", "", "file holding the server's --turn-api-key, when it has one (a file, so the key stays out of ps)")
	passwordFile := fs.String("password-file", "", "file holding the server's password, when it runs with --access password")
	refuse := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "onertc check: "+format+"\n", a...)
		fmt.Fprintln(stderr, "usage: onertc check [flags] https://your.server (onertc check --help for the flags)")
		return 2
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, "usage: onertc check [flags] https://your.server\n\nRuns a relay-only call between two bots through the server's TURN, over UDP, TCP and TLS in turn\n(TLS on the HTTPS port when the server shares it: what works behind a firewall that lets only 443 out).\nExit status: 0 when a call works, 1 when none does, 2 for bad usage.\n\nflags:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	case err != nil:
		return refuse("%v", err)
	case fs.NArg() == 0:
		return refuse("the server URL is missing")
	case fs.NArg() > 1:
		return refuse("unexpected argument %q after the server URL", fs.Arg(1))
	}
	if u, err := url.Parse(fs.Arg(0)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return refuse("server URL %q: want http(s)://host[:port]", fs.Arg(0))
	}
	var key string
	if *keyFile != "" {
		var err error
		if key, err = secretfile.Read("--turn-api-key-file", "key", *keyFile); err != nil {
			fmt.Fprintln(stderr, "onertc check:", err)
			return 1
		}
	}
	var password string
	if *passwordFile != "" {
		var err error
		if password, err = secretfile.Read("--password-file", "password", *passwordFile); err != nil {
			fmt.Fprintln(stderr, "onertc check:", err)
			return 1
		}
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	rep := Run(ctx, Options{Server: fs.Arg(0), APIKey: key, Password: password, Timeout: *timeout, Logger: log})
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
