//go:build !js

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
)

// TestFiftyConcurrentCalls: 100 bots in 50 rooms all connect and exchange video, audio and
// data (each bot fails its Run when it never connected or received none of them).
func TestFiftyConcurrentCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("load test; skipped with -short")
	}
	if raceEnabled {
		t.Skip("load test: run without -race (make test does, in its load step)")
	}
	const calls = 50
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startServer(t, nil)
			if m.relay {
				needRelay(t, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			base := bot.Options{Server: s.URL, Room: "load-" + m.name, RelayOnly: m.relay, IncludeLoopback: true,
				Duration: 8 * time.Second, Timeout: 90 * time.Second, StatsEvery: -1}
			start := time.Now()
			errs := bot.RunMany(ctx, base, 2*calls, nil, testLogger())
			failed := 0
			for i, err := range errs {
				if err != nil {
					failed++
					t.Errorf("bot %d (room %d): %v", i, i/2, err)
				}
			}
			t.Logf("%d calls (%s): %d of %d bots failed, %v", calls, m.name, failed, len(errs), time.Since(start).Round(time.Millisecond))
		})
	}
}
