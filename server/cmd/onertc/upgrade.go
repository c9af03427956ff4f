package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/onertc/onertc/server"
	"github.com/onertc/onertc/server/handover"
	"github.com/onertc/onertc/server/sdnotify"
)

// upgradeTimeout bounds how long a new process started by SIGUSR2 may take to serve.
const upgradeTimeout = time.Minute

// envPredecessor names, in a process started by an upgrade in memory mode, the old
// process's drain socket (server.WithPredecessor). Not a setting: no ONERTC_ prefix.
const envPredecessor = "HANDOVER_PREDECESSOR"

// runServer builds, listens and serves cfg, and tells systemd about it (Type=notify: READY=1
// once serving; on SIGTERM, STOPPING=1 with the time the drain may take). SIGUSR2 (the unit's
// ExecReload) starts the binary again with this process's listeners; once the new process
// serves them, this one lets go of them and drains the calls it holds. A process started
// that way takes the sockets it inherited instead of binding its addresses.
func runServer(ctx context.Context, cfg server.Config, log *slog.Logger, stderr io.Writer) int {
	notify := sdnotify.FromEnv()
	// Resolved now: after a package upgrade the file at this path is the new binary, while
	// /proc/self/exe names the deleted old one.
	exe, exeErr := os.Executable()
	inherited, err := handover.FromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return exitFailure
	}
	ready := func() {
		if inherited != nil {
			if err := inherited.Ready(); err != nil {
				log.Error("hand-over: could not tell the old process", "err", err)
			}
			// The old process was the unit's main process: this one is now.
			if err := notify.MainPID(os.Getpid()); err != nil {
				log.Warn("sd_notify", "err", err)
			}
			return
		}
		if err := notify.Ready(); err != nil {
			log.Warn("sd_notify", "err", err)
		}
	}
	stopping := func(within time.Duration) {
		if err := notify.Stopping(within); err != nil {
			log.Warn("sd_notify", "err", err)
		}
	}
	opts := []server.Option{server.WithLifecycle(ready, stopping)}
	if p := os.Getenv(envPredecessor); p != "" {
		os.Unsetenv(envPredecessor)
		opts = append(opts, server.WithPredecessor(p))
	}
	srv, err := server.New(cfg, log, opts...)
	if err != nil {
		if inherited != nil {
			inherited.Close()
		}
		fmt.Fprintln(stderr, "onertc:", err)
		return exitFailure
	}
	ls, err := server.ListenInherited(cfg, inherited, log)
	if err != nil {
		fmt.Fprintln(stderr, "onertc:", err)
		return exitFailure
	}
	upgrades := make(chan os.Signal, 1)
	signal.Notify(upgrades, syscall.SIGUSR2)
	defer signal.Stop(upgrades)
	go watchUpgrades(ctx, upgrades, srv, ls, cfg.Redis == "", exe, exeErr, log)
	if err := srv.Serve(ctx, ls); err != nil {
		log.Error("server stopped with an error", "err", err)
		return exitFailure
	}
	return 0
}

// watchUpgrades starts the new process on each SIGUSR2 until one serves, then has srv let
// go. A new process that fails leaves this one serving, and says why.
func watchUpgrades(ctx context.Context, sigs <-chan os.Signal, srv *server.Server, ls server.Listeners, memory bool,
	exe string, exeErr error, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		}
		if exeErr != nil {
			log.Error("upgrade refused: the binary's path was not found at start; still serving", "err", exeErr)
			continue
		}
		log.Info("upgrade: starting the new process with the listeners", "path", exe)
		var drainLn net.Listener
		var env []string
		if memory {
			// The calls stay here: the new process passes their requests on through
			// this socket, abstract (no file to clean up) and named by nobody else.
			var err error
			drainLn, err = net.Listen("unix", fmt.Sprintf("@onertc-drain-%d-%d", os.Getpid(), time.Now().UnixNano()))
			if err != nil {
				log.Error("upgrade failed: drain socket; still serving", "err", err)
				continue
			}
			env = []string{envPredecessor + "=" + drainLn.Addr().String()}
		}
		pid, err := handover.Start(handover.Config{Path: exe, Args: os.Args[1:], Sockets: ls.Sockets(), Env: env,
			Timeout: upgradeTimeout, Stdout: os.Stdout, Stderr: os.Stderr})
		if err != nil {
			if drainLn != nil {
				drainLn.Close()
			}
			log.Error("upgrade failed; still serving", "err", err)
			continue
		}
		log.Info("upgrade: the new process serves", "pid", pid)
		srv.Release(drainLn)
		return
	}
}
