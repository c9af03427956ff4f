//go:build !js

package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/sdnotify"
)

// upgradeRelayPorts are the upgrade test's TURN relay ports, apart from the fleets'.
const upgradeRelayPorts = "63000-63299"

// notifySocket is a stand-in for systemd's notification socket: each datagram the server
// sends arrives on the channel.
func notifySocket(t *testing.T) (path string, msgs <-chan string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}

func expectNotify(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	select {
	case m := <-msgs:
		if !strings.HasPrefix(m, want) {
			t.Fatalf("sd_notify %q, want it to start with %q", m, want)
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("no sd_notify %q within 30 s", want)
	}
	return ""
}

// replaceBinary puts content at path the way a package upgrade does: a new file renamed
// over the old, so the running process keeps its own.
func replaceBinary(t *testing.T, path string, content []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func startBots(t *testing.T, ctx context.Context, server, roomID string) []*bot.Bot {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var bots []*bot.Bot
	for i := range 2 {
		b, err := bot.New(bot.Options{Server: server, Room: roomID, RelayOnly: true, Index: i,
			StatsEvery: -1, Timeout: 30 * time.Second, ICEFailAfter: 3 * time.Second, RecoverAfter: 3 * time.Second,
			Logger: log.With("bot", roomID+strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := b.Run(ctx)
			if err != nil && ctx.Err() == nil {
				t.Logf("bot %s%d ended: %v", roomID, i, err) // says why its call's media never came
			}
			done <- err
		}()
		t.Cleanup(func() { b.Call().Hangup(); <-done })
		bots = append(bots, b)
	}
	return bots
}

// alive reports whether pid runs: a process that exited but was not reaped (its parent,
// the old process, is gone) is a zombie, which kill(pid, 0) still finds.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// An upgrade on one box in memory mode, as systemd's reload runs it (SIGUSR2) with the unit's
// Type=notify: the binary at the path the server started from is replaced; a broken new
// binary fails the upgrade and the old process goes on serving; the real one takes over the
// HTTP and TURN sockets and tells systemd MAINPID and READY; a new call joins and gets media
// from the new process while the old process still drains the call it holds, and the old
// process exits once that call ends. The old call's fate (its TURN allocations die with the
// old process's TURN socket) is logged. SIGTERM of the new process says STOPPING and how
// long the drain may take.
func TestUpgradeHandsOverListeners(t *testing.T) {
	built := fleettest.Build(t)
	binary, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "onertc")
	replaceBinary(t, bin, binary)
	notifyPath, notes := notifySocket(t)
	t.Setenv(sdnotify.EnvSocket, notifyPath)

	addr := fleettest.FreePort(t)
	cmd := exec.Command(bin, "serve", "--http", addr, "--turn", fleettest.FreePort(t), "--public-ip", "127.0.0.1",
		"--turn-allow-loopback", "--turn-secret", "upgrade-secret", "--relay-ports", upgradeRelayPorts, "--sfu-addr", "127.0.0.1:0",
		"--turn-self-test", "0", "--limit-join", "0", "--limit-turn", "0", "--limit-ws", "0",
		"--drain-timeout", "25s", "--log-format", "json")
	// A pipe of the test's own, not StderrPipe: Wait closes that one when the old process
	// exits, and the new process, which writes to the same stderr, would die of SIGPIPE.
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	oldExited := make(chan error, 1)
	go func() { oldExited <- cmd.Wait() }()
	var newPID int
	t.Cleanup(func() {
		cmd.Process.Kill()
		if newPID != 0 {
			syscall.Kill(newPID, syscall.SIGKILL)
		}
		if t.Failed() { // the servers' log lines nobody waited for
			for {
				select {
				case l := <-lines:
					t.Log(l)
					continue
				default:
				}
				break
			}
		}
	})
	expectNotify(t, notes, "READY=1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	server := "http://" + addr
	oldCall := startBots(t, ctx, server, "before")
	watchOld := watchMedia(ctx, oldCall...)
	testsync.Eventually(t, 30*time.Second, "media in the call before the upgrade", func() bool {
		ok, _ := watchOld.flowingSince(time.Now().Add(-100 * time.Millisecond))
		return ok
	})

	// A broken new binary: the old process says why and serves on.
	replaceBinary(t, bin, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"))
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	fleettest.WaitLine(t, lines, "upgrade failed; still serving")
	if code, _ := httpGet(t, server+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after a failed upgrade = %d, want 200", code)
	}

	replaceBinary(t, bin, binary)
	watchOld.reset()
	upgraded := time.Now()
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	note := expectNotify(t, notes, "MAINPID=")
	newPID, err = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(note, "MAINPID="), "\nREADY=1"))
	if err != nil || newPID == cmd.Process.Pid || !strings.HasSuffix(note, "\nREADY=1") {
		t.Fatalf("sd_notify after the upgrade %q: want MAINPID=<the new pid>\\nREADY=1", note)
	}
	fleettest.WaitLine(t, lines, "hand-over: the new process serves the listeners")
	serving := time.Since(upgraded)
	t.Logf("new process %d serving %v after SIGUSR2", newPID, serving.Round(time.Millisecond))

	// A new call during the old process's drain: joins and gets media, from the new process.
	newCall := startBots(t, ctx, server, "after")
	watchNew := watchMedia(ctx, newCall...)
	testsync.Eventually(t, 30*time.Second, "media in a call started during the drain", func() bool {
		ok, _ := watchNew.flowingSince(time.Now().Add(-100 * time.Millisecond))
		return ok
	})
	select {
	case err := <-oldExited:
		t.Fatalf("the old process exited (%v) while it held a call", err)
	default:
	}

	// The old call goes on: its TURN allocations died with the old process's TURN socket, so
	// its media stops until the bots restart ICE on the new process's TURN server; the
	// restart's signaling reaches the old process's room through the new one.
	var gap time.Duration
	testsync.Eventually(t, 30*time.Second, "media in the old call after the hand-over", func() bool {
		var ok bool
		ok, gap = watchOld.flowingSince(time.Now().Add(-100 * time.Millisecond))
		return ok && time.Since(upgraded) > 2*time.Second
	})
	t.Logf("old call: longest media stop %v after the hand-over", gap.Round(time.Millisecond))
	t.Logf("restart-sample upgrade serving_ms=%d media_gap_ms=%d", serving.Milliseconds(), gap.Milliseconds()) // for scripts/bench-restart
	if gap > maxRestartGap {
		t.Errorf("the old call's media stopped %v, more than %v", gap, maxRestartGap)
	}

	// The old call ends: the old process has nothing left and exits 0.
	for _, b := range oldCall {
		b.Call().Hangup()
	}
	select {
	case err := <-oldExited:
		if err != nil {
			t.Fatalf("the old process exited with %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the old process still runs 30 s after its call ended")
	}
	if code, _ := httpGet(t, server+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz of the new process = %d", code)
	}

	// systemd's stop: STOPPING=1 and room for the drain (25 s) + flush (2 s) + shutdown
	// (10 s) + margin (5 s), more than the unit's TimeoutStopSec floor.
	for _, b := range newCall {
		b.Call().Hangup()
	}
	if err := syscall.Kill(newPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expectNotify(t, notes, "STOPPING=1\nEXTEND_TIMEOUT_USEC=42000000")
	testsync.Eventually(t, 30*time.Second, "the new process to exit after SIGTERM", func() bool { return !alive(newPID) })
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
