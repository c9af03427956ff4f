//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

// testLogger logs to stderr with ONERTC_E2E_LOG=debug|info|warn, else discards.
func testLogger() *slog.Logger {
	var level slog.Level
	switch os.Getenv("ONERTC_E2E_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	default:
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// testConfig is the server configuration of the tests: servertest's loopback defaults, with
// relay ports apart from the other packages' whose tests run at the same time.
func testConfig() server.Config {
	cfg := servertest.Config()
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 61000, 62999
	return cfg
}

// testServer is a running server.
type testServer = servertest.Running

// startServer runs a server in the test process until the test ends.
func startServer(t *testing.T, tweak func(*server.Config)) *testServer {
	t.Helper()
	cfg := testConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	return servertest.StartT(t, cfg, servertest.Options{Log: testLogger()})
}

// relayStatus says why relay-only calls cannot run against s, or "" when they can: the
// server must hand out TURN URIs with credentials on /v1alpha/iceconfig.
func relayStatus(s *testServer) string {
	resp, err := http.Post(s.URL+"/v1alpha/iceconfig?key=", "text/plain", nil)
	if err != nil {
		return "POST /v1alpha/iceconfig: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("POST /v1alpha/iceconfig answers %d", resp.StatusCode)
	}
	var cfg protocol.ICEConfig
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		return "POST /v1alpha/iceconfig: " + err.Error()
	}
	for _, s := range cfg.ICEServers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") && s.Username != "" {
				return ""
			}
		}
	}
	return "POST /v1alpha/iceconfig has no turn: URI with credentials "
}

// needRelay fails a relay test at once, saying why, when the server offers no TURN relay.
func needRelay(t *testing.T, s *testServer) {
	t.Helper()
	if why := relayStatus(s); why != "" {
		t.Fatal("the server offers no TURN relay: " + why)
	}
}

// runningBot is one bot running in the test process, with what it reported.
type runningBot struct {
	b    *bot.Bot
	name string
	done chan struct{}
	sum  bot.Summary
	err  error

	mu     sync.Mutex
	recs   []bot.Record
	events []client.Event
}

type botOpt func(*bot.Options)

func relayOnly(o *bot.Options) { o.RelayOnly = true }

// startBot starts a bot in room and waits until it has joined (or ended).
func startBot(t *testing.T, ctx context.Context, s *testServer, room, name string, opts ...botOpt) *runningBot {
	t.Helper()
	rb := &runningBot{name: name, done: make(chan struct{})}
	o := bot.Options{Server: s.URL, Room: room, IncludeLoopback: true, Timeout: 30 * time.Second,
		StatsEvery: -1, RecoverAfter: 2 * time.Second, Logger: testLogger().With("bot", name),
		OnRecord: func(r bot.Record) {
			rb.mu.Lock()
			rb.recs = append(rb.recs, r)
			rb.mu.Unlock()
		},
		OnCallEvent: func(ev client.Event) {
			rb.mu.Lock()
			rb.events = append(rb.events, ev)
			rb.mu.Unlock()
		}}
	for _, f := range opts {
		f(&o)
	}
	b, err := bot.New(o)
	if err != nil {
		t.Fatalf("bot %s: %v", name, err)
	}
	rb.b = b
	go func() {
		defer close(rb.done)
		rb.sum, rb.err = b.Run(ctx)
	}()
	t.Cleanup(func() {
		b.Call().Hangup()
		<-rb.done
	})
	testsync.Eventually(t, 10*time.Second, name+" joined", func() bool { return rb.count("joined") > 0 || rb.ended() })
	return rb
}

func (rb *runningBot) ended() bool {
	select {
	case <-rb.done:
		return true
	default:
		return false
	}
}

func (rb *runningBot) count(event string) int {
	return len(rb.records(event))
}

func (rb *runningBot) records(event string) []bot.Record {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	var out []bot.Record
	for _, r := range rb.recs {
		if r.Event == event {
			out = append(out, r)
		}
	}
	return out
}

// callEvents counts call events of kind (and payload type, when set).
func (rb *runningBot) callEvents(kind client.EventKind, signal string) []client.Event {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	var out []client.Event
	for _, ev := range rb.events {
		if ev.Kind == kind && (signal == "" || ev.Signal == signal) {
			out = append(out, ev)
		}
	}
	return out
}

// joinParams are the params of the bot's join.
func (rb *runningBot) joinParams() protocol.RoomParams {
	evs := rb.callEvents(client.EventJoined, "")
	if len(evs) == 0 {
		return protocol.RoomParams{}
	}
	return *evs[0].Params
}

// stop hangs up and returns Run's result.
func (rb *runningBot) stop(t *testing.T) error {
	t.Helper()
	rb.b.Call().Hangup()
	select {
	case <-rb.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("bot %s did not stop", rb.name)
	}
	return rb.err
}

func (rb *runningBot) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-rb.done:
	case <-time.After(timeout):
		t.Fatalf("bot %s did not end", rb.name)
	}
	return rb.err
}

// connectedCount is the number of "connected" records so far.
func (rb *runningBot) connectedCount() int { return rb.count("connected") }

// waitConnected waits for the n-th "connected" record of every bot.
func waitConnected(t *testing.T, n int, timeout time.Duration, bots ...*runningBot) {
	t.Helper()
	for _, rb := range bots {
		testsync.Eventually(t, timeout, fmt.Sprintf("%s connected (%d)", rb.name, n), func() bool {
			return rb.connectedCount() >= n
		})
	}
}

// waitMediaGrows waits until every bot received more video, audio and data than now.
func waitMediaGrows(t *testing.T, timeout time.Duration, bots ...*runningBot) {
	t.Helper()
	for _, rb := range bots {
		v0, a0, d0 := rb.b.Totals()
		testsync.Eventually(t, timeout, rb.name+" receives video, audio and data", func() bool {
			v, a, d := rb.b.Totals()
			return v.PacketsReceived > v0.PacketsReceived+10 && a.PacketsReceived > a0.PacketsReceived+10 &&
				d.MessagesReceived > d0.MessagesReceived && v.BytesReceived > v0.BytesReceived
		})
	}
}

// checkPair checks the candidate types of the bot's last connection. A direct call may
// select a peer-reflexive remote (the check arrived before the trickled candidate).
func checkPair(t *testing.T, rb *runningBot, want string) {
	t.Helper()
	recs := rb.records("connected")
	if len(recs) == 0 {
		t.Fatalf("%s never connected", rb.name)
	}
	r := recs[len(recs)-1]
	// "host" means a direct path: on loopback the server-reflexive address (through onertc's
	// own STUN) and a peer-reflexive one (a check that beat its candidate) are the same
	// host address, and which of them ICE selects is a race. A relay pair is never direct.
	direct := map[string]bool{"host": true, "prflx": true, "srflx": true}
	ok := func(typ string) bool { return typ == want || (want == "host" && direct[typ]) }
	if !ok(r.LocalCandidate) || !ok(r.RemoteCandidate) {
		t.Errorf("%s selected pair %s/%s, want %s/%s", rb.name, r.LocalCandidate, r.RemoteCandidate, want, want)
	}
}

var errTransportDown = errors.New("e2e: network down")
