//go:build !js

package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// failoverRelayBase is where this package's fleet relays (63000-63899), apart from the
// in-process servers' ports (61000-62999) and the other packages' fleets.
const failoverRelayBase = 63000

// envFailoverKills sets how many kills TestBotCallFailoverGaps makes (scripts/bench-failover
// asks for more than make test's one per instance).
const envFailoverKills = "ONERTC_FAILOVER_KILLS"

// relayedGapBound is the longest media gap a relayed call may show after an instance dies.
// The target is under 1 s; 3 s leaves a loaded 2-core machine under -race room while
// catching a client that waits for ICE's own timeouts (9 s for a bot by default).
const relayedGapBound = 3 * time.Second

// directGapBound is the longest media gap a direct call may show after an instance dies: its
// media never touches an instance, so anything near the silence watchdog's timeout means a
// restart it did not need.
const directGapBound = 400 * time.Millisecond

// failoverKills is how many kills to make and whether they aim at the path: one per
// instance in turn unless envFailoverKills asks for a count of kills of the instance
// relaying a client's path (so that every sample measures what such a kill costs).
func failoverKills(t *testing.T) (kills int, aim bool) {
	t.Helper()
	v := os.Getenv(envFailoverKills)
	if v == "" {
		return fleettest.Backends, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a count of kills", envFailoverKills, v)
	}
	return n, true
}

// relayPort is the port of the bot's selected local candidate, once it has one.
func relayPort(t *testing.T, rb *runningBot) int {
	t.Helper()
	var port int
	testsync.Eventually(t, 10*time.Second, rb.name+"'s selected pair", func() bool {
		p := rb.b.Peer()
		var ok bool
		if p != nil {
			port, ok = p.SelectedLocalPort()
		}
		return ok
	})
	return port
}

// pathHolders are the instances relaying the bots' selected paths.
func pathHolders(t *testing.T, f *fleettest.MediaFleet, bots ...*runningBot) []int {
	t.Helper()
	var out []int
	for _, rb := range bots {
		i, err := f.RelayHolder(relayPort(t, rb))
		if err != nil {
			t.Fatalf("%s's selected local candidate: %v", rb.name, err)
		}
		out = append(out, i)
	}
	return out
}

// videoCounter counts the video packets the bot received.
func videoCounter(rb *runningBot) func() int64 {
	return func() int64 { v, _, _ := rb.b.Totals(); return v.PacketsReceived }
}

// Two relay-only bots with the shipped defaults call through the README's HAProxy over three
// instances, each with its own TURN server (credential responses list the others' too). The
// instances are SIGKILLed in turn, each started again before the next kill; after each kill
// both relay sockets come back on live instances, both bots' paths go through live TURN
// servers, and the longest stop of video each bot saw stays under relayedGapBound. With
// envFailoverKills (scripts/bench-failover) every kill aims at the instance relaying a bot's
// path instead. Each kill is logged as a "failover-sample bots" line.
func TestBotCallFailoverGaps(t *testing.T) {
	fleet := fleettest.StartMedia(t, failoverRelayBase)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lb := &testServer{URL: "http://" + fleet.LB.Addr}
	defaults := func(o *bot.Options) { o.RecoverAfter, o.IncludeLoopback = 0, false }
	a := startBot(t, ctx, lb, "failover", "a", relayOnly, defaults)
	b := startBot(t, ctx, lb, "failover", "b", relayOnly, defaults)
	bots := []*runningBot{a, b}
	waitConnected(t, 1, 30*time.Second, a, b)
	watch := fleettest.WatchGaps(ctx, videoCounter(a), videoCounter(b))

	t.Logf("candidates sent before the kills: a %d, b %d (two relay candidates, over UDP and TCP, per TURN server listed)",
		len(a.callEvents(client.EventSent, "candidate")), len(b.callEvents(client.EventSent, "candidate")))
	kills, aim := failoverKills(t)
	for k := range kills {
		// A second of video on the path first, as between two failures of a real fleet: the
		// silence watch starts to watch a path once packets have flowed on it for a while.
		flowing := time.Now().Add(time.Second)
		testsync.Eventually(t, 30*time.Second, "video both ways for a second", func() bool { return watch.FlowingSince(flowing) })
		holders := pathHolders(t, fleet, a, b)
		target := k % fleettest.Backends
		if aim {
			target = holders[k%2]
		}
		_, sockHolder := fleet.OpenSockets(t)
		role := "bystander"
		switch {
		case slices.Contains(holders, target):
			role = "path"
		case target == sockHolder:
			role = "signaling"
		}
		fleet.Kill(t, target)
		killed := time.Now()
		watch.Reset()
		testsync.Eventually(t, 30*time.Second, "both relay sockets on live instances", func() bool {
			n, _ := fleet.OpenSockets(t)
			return n == 2
		})
		signaling := time.Since(killed)
		testsync.Eventually(t, 30*time.Second, "both paths through live TURN servers", func() bool {
			for _, i := range pathHolders(t, fleet, a, b) {
				if !fleet.Alive(i) {
					return false
				}
			}
			return true
		})
		onLive := time.Now()
		testsync.Eventually(t, 30*time.Second, "video both ways on live paths", func() bool { return watch.FlowingSince(onLive) })
		gap := slices.Max(watch.Longest())
		what := fmt.Sprintf("kill %d of instance %d (%s)", k+1, target, role)
		t.Logf("%s: relay sockets back within %v; longest video stop %v", what, signaling.Round(time.Millisecond), gap.Round(time.Millisecond))
		t.Logf("failover-sample bots %s signaling_ms=%d media_gap_ms=%d", role, signaling.Milliseconds(), gap.Milliseconds())
		if gap > relayedGapBound {
			t.Errorf("%s: video stopped for %v, bound %v", what, gap, relayedGapBound)
		}
		fleet.Restart(t, target)
	}
	for _, rb := range bots {
		if err := rb.stop(t); err != nil {
			t.Errorf("%s: %v", rb.name, err)
		}
	}
}

// Two bots in a direct (host to host) call through the same fleet: their media never touches
// an instance, so when each instance is SIGKILLed in turn (relay sockets move, nothing else)
// video does not stop beyond directGapBound and neither bot makes a new peer or restarts ICE.
func TestDirectCallHasNoFailoverGap(t *testing.T) {
	fleet := fleettest.StartMedia(t, failoverRelayBase+1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lb := &testServer{URL: "http://" + fleet.LB.Addr}
	a := startBot(t, ctx, lb, "direct", "a")
	b := startBot(t, ctx, lb, "direct", "b")
	bots := []*runningBot{a, b}
	waitConnected(t, 1, 30*time.Second, a, b)
	checkPair(t, a, "host")
	checkPair(t, b, "host")
	watch := fleettest.WatchGaps(ctx, videoCounter(a), videoCounter(b))
	testsync.Eventually(t, 30*time.Second, "video both ways", func() bool { return watch.FlowingSince(time.Now().Add(-100 * time.Millisecond)) })
	peers := func() (n int) {
		for _, rb := range bots {
			n += len(rb.callEvents(client.EventPeer, "")) + len(rb.callEvents(client.EventSent, "offer"))
		}
		return n
	}
	before := peers()
	for i := range fleettest.Backends {
		fleet.Kill(t, i)
		watch.Reset()
		testsync.Eventually(t, 30*time.Second, "both relay sockets on live instances", func() bool {
			n, _ := fleet.OpenSockets(t)
			return n == 2
		})
		// Past the silence watchdog's timeout, so a restart it made would show.
		time.Sleep(time.Second)
		gap := slices.Max(watch.Longest())
		t.Logf("kill of instance %d: longest video stop %v", i, gap.Round(time.Millisecond))
		t.Logf("failover-sample direct kill_%d media_gap_ms=%d", i, gap.Milliseconds())
		if gap > directGapBound {
			t.Errorf("kill of instance %d: video stopped for %v in a direct call, bound %v", i, gap, directGapBound)
		}
		if n := peers(); n != before {
			t.Errorf("kill of instance %d: the bots made %d new peers or offers in a direct call", i, n-before)
		}
		fleet.Restart(t, i)
	}
	for _, rb := range bots {
		if err := rb.stop(t); err != nil {
			t.Errorf("%s: %v", rb.name, err)
		}
	}
}
