//go:build !js

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
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
	const grace = 3 * time.Second
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
	// A ghost holds the room until the grace period has passed. The check is one HTTP request,
	// a few milliseconds against a grace period of seconds, so it does not depend on how fast
	// a bot starts.
	if res := joinResult(t, s, room); res != protocol.ResultFull {
		t.Fatalf("join %v after the kill: %s, want %s", time.Since(killed), res, protocol.ResultFull)
	}
	testsync.Eventually(t, grace+10*time.Second, "the room is free again", func() bool { return !roomPageFull(t, s, room) })
	if freed := time.Since(killed); freed < grace {
		t.Fatalf("room free %v after the kill, before the grace period (%v) ended", freed, grace)
	}
	c := startBot(t, ctx, s, room, "c")
	if c.ended() {
		t.Fatalf("room not free %v after the kill: %v", time.Since(killed), c.err)
	}
	// b notices the dead connection (ICE failed in ~6 s), waits RecoverAfter, re-offers.
	waitConnected(t, 1, 30*time.Second, c)
	waitMediaGrows(t, 10*time.Second, b, c)
}

// joinResult posts a join to room and returns its result; a SUCCESS is undone at once.
func joinResult(t *testing.T, s *testServer, room string) string {
	t.Helper()
	resp, err := http.Post(s.URL+"/join/"+room, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jr protocol.JoinResponse
	if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
		t.Fatalf("join %s: %v", room, err)
	}
	if jr.Result == protocol.ResultSuccess {
		if r, err := http.Post(s.URL+"/leave/"+room+"/"+jr.Params.ClientID, "", nil); err == nil {
			r.Body.Close()
		}
	}
	return jr.Result
}

// roomPageFull reports whether the room page says the room is full.
func roomPageFull(t *testing.T, s *testServer, room string) bool {
	t.Helper()
	resp, err := http.Get(s.URL + "/r/" + room)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(page), "room is full")
}
