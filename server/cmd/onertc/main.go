// Command onertc is the one binary of onertc: `serve` (the default) runs the room server,
// relay and TURN server; `bot` takes part in a call as a headless peer.
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
	"github.com/onertc/onertc/server"
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr)
	case "bot":
		return botCommand(ctx, args, stdout, stderr)
	case "check":
		return check.Command(ctx, args, stdout, stderr)
	case "help":
		usage(stderr)
		return 0
	default:
		fmt.Fprintf(stderr, "onertc: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: onertc [serve] [flags]   run the server (see onertc serve --help)
       onertc bot [flags]       take part in a call as a headless peer
       onertc check URL         test a deployment: relay-only calls over TURN UDP, TCP, TLS
`)
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("onertc serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := bindServeFlags(fs)
	if err := parseWithEnv(fs, args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log, err := newLogger(stderr, opts.logLevel, opts.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return 2
	}
	cfg, err := opts.config()
	if err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return 2
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return 2
	}
	ls, err := server.Listen(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return 1
	}
	if err := srv.Serve(ctx, ls); err != nil {
		log.Error("server stopped with an error", "err", err)
		return 1
	}
	return 0
}

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
