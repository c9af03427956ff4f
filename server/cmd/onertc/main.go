// Command onertc is the one binary of onertc: `serve` (the default) runs the room server,
// relay and TURN server; `bot` takes part in a call as a headless peer; `check` tests a
// deployment; `version` says what was built.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/onertc/onertc/check"
	"github.com/onertc/onertc/web"
)

func main() {
	// The first SIGINT/SIGTERM drains (calls in progress go on for --drain-timeout); a
	// second one stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "onertc: second signal, stopping now")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses: a usage error (a bad flag, argument or variable) is told apart from a
// server that failed once its settings were accepted, so a supervisor can tell "fix the
// configuration" from "look at the logs".
const (
	exitFailure = 1
	exitUsage   = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		// The top-level help and version; `onertc serve --help` lists serve's flags.
		case isHelp(a):
			cmd, args = "help", args[1:]
		case a == "-version" || a == "--version":
			cmd, args = "version", args[1:]
		case a != "" && a[0] != '-':
			cmd, args = a, args[1:]
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "bot":
		return botCommand(ctx, args, stdout, stderr)
	case "check":
		return check.Command(ctx, args, stdout, stderr)
	case "version":
		return versionCommand(args, stdout, stderr)
	case "help":
		return helpCommand(ctx, args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "onertc: unknown command %q\n", cmd)
		usage(stderr)
		return exitUsage
	}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "--h"
}

// helpCommand is `onertc help [COMMAND]`: the commands, or one command's help.
func helpCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0 || len(args) == 1 && (args[0] == "help" || isHelp(args[0])):
		usage(stdout)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "onertc help: unexpected argument %q\n", args[1])
		return exitUsage
	case args[0] == "serve" || args[0] == "bot" || args[0] == "check" || args[0] == "version":
		return run(ctx, []string{args[0], "--help"}, stdout, stderr)
	}
	fmt.Fprintf(stderr, "onertc help: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: onertc [command] [flags]

commands:
  serve     run the server: pages, room server, relay, TURN (the default command)
  bot       take part in a call as a headless peer
  check     test a deployment: relay-only calls over TURN UDP, TCP and TLS
  version   print the version, the commit and the Go version
  help      print this, or a command's flags: onertc help serve

onertc COMMAND --help lists a command's flags; every serve flag also has an ONERTC_*
environment variable (--relay-grace is ONERTC_RELAY_GRACE). Exit status: 0 success, 1 failure,
2 bad usage.
`)
}

// serve is `onertc serve`. Everything up to a validated server.Config is usage (exit 2);
// what fails after it (Redis, certificate files, secret files, listening, serving) exits 1.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, opts := newServeFlags()
	refuse := func(err error) int {
		fmt.Fprintln(stderr, "onertc:", err)
		fmt.Fprintln(stderr, "onertc serve --help lists the flags and their variables")
		return exitUsage
	}
	err := parseWithEnv(fs, args, os.LookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printServeHelp(stdout)
		return 0
	case err != nil:
		return refuse(err)
	case fs.NArg() > 0:
		return refuse(fmt.Errorf("serve takes no arguments, got %q", fs.Arg(0)))
	}
	log, err := newLogger(stderr, opts.logLevel, opts.logFormat)
	if err != nil {
		return refuse(err)
	}
	for _, w := range unknownVariables(fs, os.Environ()) {
		log.Warn(w)
	}
	cfg, err := opts.config()
	if err != nil {
		return refuse(err)
	}
	if err := opts.readSecretFiles(&cfg); err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return exitFailure
	}
	if err := cfg.Validate(); err != nil {
		return refuse(fmt.Errorf("invalid configuration: %w", err))
	}
	logMissingApp(log, web.DefaultAssets().WasmURL())
	return runServer(ctx, cfg, log, stderr) // upgrade.go
}

// logMissingApp says at start when the binary carries no browser app (built with go build or
// go install instead of make): the server runs, but its pages can only say that the app is
// missing.
func logMissingApp(log *slog.Logger, wasmURL string) {
	if wasmURL == "" {
		log.Error("the browser app is not built into this binary: the pages say so and calls need a bot or an AppRTC client; " + appMissingHint)
	}
}

// appMissingHint is the way out, shared by the log line and README.
const appMissingHint = "build with `make build` or install a release archive, the .deb or the image (README: Install)"

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
