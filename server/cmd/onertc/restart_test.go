//go:build !js

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// restartRelayBase is where the rolling-restart fleet relays (62000-62899), apart from the
// other fleets' ranges.
const restartRelayBase = 62000

// restartDrain is the instances' --drain-timeout: how long a draining instance's TURN server
// goes on for the calls it carries.
const restartDrain = 6 * time.Second

// maxRestartGap bounds the media gap of a restart: the bots' ICE restart after 3 s of
// silence brought media back 3.2-3.3 s after an instance's death (README); four times that
// is a break, not a slow machine.
const maxRestartGap = 13 * time.Second

// A rolling restart of every instance, one after the other, as an operator does it (SIGTERM,
// wait for the exit, start the same command again, wait until the balancer uses it) keeps a
// call of two relay-only bots going through the README's HAProxy: after each SIGTERM both
// relay sockets move to the other instances within the drain notice and a second, every
// instance exits 0 within its drain timeout, signaling works after each restart (an ICE
// restart's offer and answer go through), and media flows again; the media gaps are logged.
func TestRollingRestartKeepsCall(t *testing.T) {
	fleet := fleettest.StartMedia(t, restartRelayBase, "--drain-timeout", restartDrain.String())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var answers atomic.Int64 // answers received by either bot: each ends an offer/answer exchange
	var bots []*bot.Bot
	var runs []chan error
	for i := range 2 {
		b, err := bot.New(bot.Options{Server: "http://" + fleet.LB.Addr, Room: "rolling", RelayOnly: true, Index: i,
			StatsEvery: -1, Timeout: 30 * time.Second, ICEFailAfter: 3 * time.Second, RecoverAfter: 3 * time.Second,
			Logger: log.With("bot", i),
			OnCallEvent: func(ev client.Event) {
				if ev.Kind == client.EventReceived && ev.Signal == protocol.TypeAnswer {
					answers.Add(1)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := b.Run(ctx); done <- err }()
		t.Cleanup(func() { b.Call().Hangup(); <-done })
		bots, runs = append(bots, b), append(runs, done)
	}
	watch := watchMedia(ctx, bots...)
	testsync.Eventually(t, 30*time.Second, "media both ways", func() bool { ok, _ := watch.flowingSince(time.Now().Add(-100 * time.Millisecond)); return ok })

	for i, in := range fleet.Instances {
		holders := [2]int{relayHolder(t, fleet, bots[0]), relayHolder(t, fleet, bots[1])}
		watch.reset()
		start := time.Now()
		exited := in.Terminate(t)
		// The draining instance closes its sockets after the notice (3 s); the clients
		// re-register through the balancer on the others.
		testsync.Eventually(t, 3*time.Second+5*time.Second, "both relay sockets on the other instances", func() bool {
			open := 0
			for j, other := range fleet.Instances {
				if j != i {
					open += other.OpenSockets(t)
				}
			}
			return open == 2
		})
		moved := time.Since(start)
		var drained time.Duration
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("instance %d exited with %v after SIGTERM, want 0", i, err)
			}
			drained = time.Since(start)
		case <-time.After(restartDrain + 10*time.Second):
			t.Fatalf("instance %d still running %v after SIGTERM (drain timeout %v)", i, time.Since(start), restartDrain)
		}
		in.Restart(t)
		in.WaitBalanced(t, fleet.LB)

		// Media first, as the bots recover it by themselves: their longest stop since the
		// SIGTERM is the gap a user sees.
		var gap time.Duration
		testsync.Eventually(t, 30*time.Second, fmt.Sprintf("media both ways after restarting instance %d", i), func() bool {
			var ok bool
			ok, gap = watch.flowingSince(time.Now().Add(-100 * time.Millisecond))
			return ok
		})
		t.Logf("restart of instance %d (the bots' TURN allocations on instances %v): sockets moved %v after SIGTERM, exit after %v, longest media stop %v",
			i, holders, moved.Round(time.Millisecond), drained.Round(time.Millisecond), gap.Round(time.Millisecond))
		// The same figures for scripts/bench-restart; "carried" says whether the instance held
		// a bot's relayed path, the only case where its exit can stop media for seconds.
		carried := holders[0] == i || holders[1] == i
		t.Logf("restart-sample rolling instance=%d carried=%t moved_ms=%d exit_ms=%d media_gap_ms=%d",
			i, carried, moved.Milliseconds(), drained.Milliseconds(), gap.Milliseconds())
		if gap > maxRestartGap {
			t.Errorf("restart of instance %d stopped media for %v, more than %v", i, gap, maxRestartGap)
		}
		// Then signaling: an ICE restart's offer and answer go through the relay.
		before := answers.Load()
		for _, b := range bots {
			b.Call().RestartICE() // only the side that made the offer acts
		}
		testsync.Eventually(t, 15*time.Second, fmt.Sprintf("an ICE restart's answer after restarting instance %d", i), func() bool {
			return answers.Load() > before
		})
		afterICE := time.Now()
		testsync.Eventually(t, 30*time.Second, fmt.Sprintf("media both ways after the ICE restart (instance %d)", i), func() bool {
			ok, _ := watch.flowingSince(afterICE)
			return ok
		})
	}
	if jr := fleet.LB.Join(t, "rolling"); jr.Result != protocol.ResultFull {
		t.Fatalf("third joiner after the rolling restart = %s, want FULL", jr.Result)
	}
	for i, b := range bots {
		b.Call().Hangup()
		select {
		case err := <-runs[i]:
			runs[i] <- err // for the cleanup
		case <-time.After(10 * time.Second):
			t.Fatalf("bot %d did not hang up", i)
		}
	}
}
