//go:build !js

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testsync"
	"github.com/onertc/onertc/server"
)

// childBot is a bot in a subprocess of the test binary.
type childBot struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	rec []bot.Record
}

func startChildBot(t *testing.T, args ...string) *childBot {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childEnv(envBot, string(argv))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bot process: %v", err)
	}
	cb := &childBot{cmd: cmd}
	go cb.read(out)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cb
}

func (cb *childBot) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var rec bot.Record
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			cb.mu.Lock()
			cb.rec = append(cb.rec, rec)
			cb.mu.Unlock()
		}
	}
}

func (cb *childBot) count(event string) int {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	n := 0
	for _, r := range cb.rec {
		if r.Event == event {
			n++
		}
	}
	return n
}

// TestKilledBotFreesRoom: a bot process killed with SIGKILL sends no bye and no leave; the
// room is FULL until the relay's grace period ends, then free: a newcomer joins and the
// remaining bot, whose connection failed, re-offers to it and the call comes back.
func TestKilledBotFreesRoom(t *testing.T) {
	const grace = time.Second
	s := startServer(t, func(c *server.Config) { c.RelayGrace = grace })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const room = "killed"
	a := startChildBot(t, "--server", s.URL, "--room", room, "--duration", "0", "--loopback",
		"--stats", "-1s", "--timeout", "60s")
	testsync.Eventually(t, 10*time.Second, "bot process joined", func() bool { return a.count("joined") == 1 })
	b := startBot(t, ctx, s, room, "b")
	waitConnected(t, 1, 20*time.Second, b)
	testsync.Eventually(t, 10*time.Second, "bot process connected", func() bool { return a.count("connected") == 1 })

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()
	// A ghost holds the room until the grace period has passed.
	full := startBot(t, ctx, s, room, "too-early")
	joinedAfter := time.Since(killed)
	if err := full.wait(t, 10*time.Second); !errors.Is(err, client.ErrRoomFull) && joinedAfter < grace/2 {
		t.Fatalf("join %v after the kill: %v, want FULL", joinedAfter, err)
	}
	time.Sleep(time.Until(killed.Add(grace + 500*time.Millisecond)))
	c := startBot(t, ctx, s, room, "c")
	if c.ended() {
		t.Fatalf("room not free %v after the kill: %v", time.Since(killed), c.err)
	}
	// b notices the dead connection (ICE failed in ~6 s), waits RecoverAfter, re-offers.
	waitConnected(t, 1, 30*time.Second, c)
	waitMediaGrows(t, 10*time.Second, b, c)
}
