//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/internal/testkit/servertest"
)

// The test binary doubles as a bot and as a server process, so tests can SIGKILL a bot and
// measure a server's CPU and memory without a separately built binary.
const (
	envBot    = "ONERTC_E2E_BOT"    // JSON array of `onertc bot` arguments
	envServer = "ONERTC_E2E_SERVER" // JSON server.Config tweaks (see serverChild)
)

func TestMain(m *testing.M) {
	if args := os.Getenv(envBot); args != "" {
		os.Exit(botChild(args))
	}
	if spec := os.Getenv(envServer); spec != "" {
		os.Exit(serverChild(spec))
	}
	os.Exit(m.Run())
}

func botChild(args string) int {
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		fmt.Fprintln(os.Stderr, "bad", envBot, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return bot.Command(ctx, argv, os.Stdout, os.Stderr)
}

// childSpec tweaks the test configuration of a server child.
type childSpec struct {
	RelayGrace time.Duration
	TURNTTL    time.Duration
}

// serverChild runs a server and prints its URL on the first line of stdout; it stops at
// SIGTERM or when stdin closes.
func serverChild(spec string) int {
	var cs childSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, "bad", envServer, err)
		return 2
	}
	cfg := testConfig()
	if cs.RelayGrace > 0 {
		cfg.RelayGrace = cs.RelayGrace
	}
	if cs.TURNTTL > 0 {
		cfg.TURN.TTL = cs.TURNTTL
	}
	ts, err := servertest.Start(cfg, servertest.Options{Log: testLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ts.URL)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				stop()
				return
			}
		}
	}()
	<-ctx.Done()
	_ = ts.Stop() // the process is ending either way
	return 0
}

// childEnv is the environment of a child of the test binary.
func childEnv(key, value string) []string {
	env := []string{key + "=" + value}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envBot+"=") && !strings.HasPrefix(kv, envServer+"=") {
			env = append(env, kv)
		}
	}
	return env
}
