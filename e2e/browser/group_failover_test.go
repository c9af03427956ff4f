//go:build !js

package browser

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// tabGroupFailoverBound is how long after its SFU's instance stops a tab may go without a
// tile's frames, and the bots without the tab's video: finding a killed instance takes the
// instance timeout (5 s of missing heartbeats), then the clients' resume backoff and new
// connections on a loaded machine (the bots' test, e2e, allows as much).
const tabGroupFailoverBound = 15 * time.Second

// TestGroupTabSurvivesItsSFUInstanceKilled: three `onertc serve --redis` processes on a
// real redis-server behind the README's HAProxy; three pion bots make a group room there,
// then a Chromium tab (fake camera and microphone) joins it through the balancer. The
// instance whose SFU carries the group is stopped (SIGKILL: found dead by its missing
// heartbeat; SIGTERM: drained). Without a reload (the same page, no navigation) the tab
// shows the three bots' tiles playing again and every bot receives the tab's audio and
// video again, each within tabGroupFailoverBound. The tab's longest stop of a tile's
// frames is logged per stop as a "group-failover-sample browser" line, which
// scripts/bench-group-failover collects (envFailoverKills stops that many times).
func TestGroupTabSurvivesItsSFUInstanceKilled(t *testing.T) {
	kills, aim := failoverKills(t)
	if !aim {
		kills = 1 // make test's one stop per case
	}
	for _, tt := range fleettest.Stops {
		t.Run(tt.Name, func(t *testing.T) { tabSurvivesItsSFU(t, kills, tt.How, tt.Stop) })
	}
}

func tabSurvivesItsSFU(t *testing.T, kills int, how string, stop func(t *testing.T, in *fleettest.Instance) func()) {
	requireApp(t) // the instances embed the app `make wasm` built
	fleettest.HAProxy.Require(t)
	rs := redistest.Start(t)
	bin := fleettest.Build(t)
	inst, lb := fleettest.HAProxy.StartFleet(t, bin, rs.URL())
	front := "http://" + lb.Addr
	const roomID = "browser-group-failover"
	browser := newBrowser(t, chromedp.WindowSize(720, 480))
	tb := newTab(t, browser, "Tab")
	tb.logConsoleOnFailure()
	tb.openGroupRoom(front+"/r/"+roomID, "Tab")

	// The bots first, one at a time (the first two in a 1:1 call, the third makes it a
	// group), so that the tab's socket is the only one passed on when it joins.
	botNames := []string{"Dee", "Eve", "Flo"}
	all := append([]string{"Tab"}, botNames...)
	var bots []*roomBot
	for _, n := range botNames {
		b := startRoomBot(t, front, roomID, n, nil)
		testsync.Eventually(t, 20*time.Second, n+" joined", func() bool { return b.gb.GroupCall().Call().ClientID() != "" })
		bots = append(bots, b)
	}
	bots[0].waitIDs(t, botNames, 60*time.Second)
	waitCarrier := func(n float64, dead []int, timeout time.Duration) int {
		t.Helper()
		var got []int
		testsync.Eventually(t, timeout, fmt.Sprintf("one live instance's SFU carrying %v participants", n), func() bool {
			got = sfuCarrying(t, inst, dead, n)
			return len(got) == 1
		})
		return got[0]
	}
	waitCarrier(3, nil, 30*time.Second)
	passedOn := make([]float64, len(inst))
	for i, in := range inst {
		passedOn[i] = in.Metric(t, "onertc_group_sockets_passed_on_total")
	}
	tb.join()
	carrier := waitCarrier(4, nil, 60*time.Second)
	// The tab's socket reached the SFU's instance through the one HAProxy sent it to.
	signaling := carrier
	for i, in := range inst {
		if in.Metric(t, "onertc_group_sockets_passed_on_total") > passedOn[i] {
			signaling = i
		}
	}
	tb.waitTilesOf(botNames, 90*time.Second)
	ids := bots[0].waitIDs(t, all, 20*time.Second)
	for _, b := range bots {
		b.waitReceives(t, ids, []string{"Tab"}, 30*time.Second)
	}
	tb.eval(tileWatchJS, nil)
	tb.eval(`window.onertcSamePage = true`, nil) // a reload or navigation would lose it

	dead := []int{}
	for k := range kills {
		target := waitCarrier(4, dead, 10*time.Second)
		role := fmt.Sprintf("the tab's socket is on instance %d", signaling)
		switch {
		case signaling < 0:
			role = "the tab's socket moved when its instance stopped before: where to is not known"
		case target == signaling:
			role = "the tab's socket is on it too"
			signaling = -1
		}
		what := fmt.Sprintf("%s %d of the SFU's instance %d (%s)", how, k+1, target, role)
		tb.eval(`(() => { for (const s of Object.values(window.onertcTileWatch.names)) { s.longest = 0; s.grows = 0; } return true })()`, nil)
		for _, b := range bots {
			b.gb.ResetGaps()
		}
		stopped := time.Now()
		exited := stop(t, inst[target])
		dead = append(dead, target)
		t.Logf("%s at %s", what, stopped.Format("15:04:05.000"))

		// A drain moves the group after its notice to the balancer (3 s).
		moved := waitCarrier(4, dead, 3*time.Second+tabGroupFailoverBound)
		t.Logf("the four on instance %d's SFU %v after the stop", moved, time.Since(stopped).Round(time.Millisecond))
		marks := tb.tileWatch()
		testsync.Eventually(t, tabGroupFailoverBound, "the tab's tiles of "+fmt.Sprint(botNames)+" playing again after "+what, func() bool {
			now := tb.tileWatch()
			for _, n := range botNames {
				if now[n].Grows <= marks[n].Grows {
					return false
				}
			}
			return true
		})
		tb.waitTilesOf(botNames, tabGroupFailoverBound)
		var same bool
		tb.eval(`window.onertcSamePage === true`, &same)
		if !same {
			t.Fatalf("the tab's page was reloaded after %s", what)
		}
		var gap time.Duration
		for n, w := range tb.tileWatch() {
			d := time.Duration(w.Longest * float64(time.Millisecond))
			t.Logf("%s: the tab's tile of %s stopped for %v", what, n, d.Round(time.Millisecond))
			gap = max(gap, d)
		}
		// One line per tab and stop: its longest stop of a tile's frames.
		t.Logf("group-failover-sample browser %s video_gap_ms=%d", how, gap.Milliseconds())
		if gap > tabGroupFailoverBound {
			t.Errorf("the tab's tiles stopped for %v across %s, bound %v", gap, what, tabGroupFailoverBound)
		}

		now := bots[0].waitIDs(t, all, tabGroupFailoverBound)
		if now["Tab"] != ids["Tab"] {
			t.Logf("the tab is %q in the group after the move, was %q", now["Tab"], ids["Tab"])
		}
		ids = now
		for _, b := range bots {
			b.waitReceives(t, ids, []string{"Tab"}, tabGroupFailoverBound)
			g := bot.LongestStop(b.gb.Remotes()[ids["Tab"]])
			t.Logf("%s: %s's video from the tab stopped for %v", what, b.name, g.Round(time.Millisecond))
			if g > tabGroupFailoverBound {
				t.Errorf("%s's video from the tab stopped for %v across %s, bound %v", b.name, g, what, tabGroupFailoverBound)
			}
		}
		exited()
		if k+1 < kills {
			// Three instances again before the next stop, the balancer sending to all.
			inst[target].Restart(t)
			inst[target].WaitBalanced(t, lb)
			dead = dead[:0]
		}
	}
}

// sfuCarrying lists the live instances (not in dead) whose SFU carries n participants.
func sfuCarrying(t *testing.T, inst []*fleettest.Instance, dead []int, n float64) []int {
	t.Helper()
	var out []int
	for i, in := range inst {
		if !slices.Contains(dead, i) && in.Metric(t, "onertc_sfu_participants") == n {
			out = append(out, i)
		}
	}
	return out
}

// tileWatchJS samples the tab's tiles every 50 ms in the page (no round trips to the test
// on the measured path): per participant's name, how often its tile's frames grew and the
// longest stop of growth since the last reset. A tile replaced by a new one (a new video
// element) counts from its own frames, the stop spanning both.
const tileWatchJS = `(() => {
	if (window.onertcTileWatch) return true;
	const w = window.onertcTileWatch = {names: {}};
	setInterval(() => {
		const now = performance.now();
		for (const t of document.querySelectorAll("#grid .tile")) {
			const name = t.querySelector(".tile-name").textContent, v = t.querySelector("video");
			const f = v.getVideoPlaybackQuality().totalVideoFrames;
			const s = w.names[name] ??= {el: v, frames: f, last: now, grows: 0, longest: 0};
			if (s.el !== v) { s.el = v; s.frames = 0; }
			if (f > s.frames) { s.longest = Math.max(s.longest, now - s.last); s.last = now; s.frames = f; s.grows++; }
		}
	}, 50);
	return true;
})()`

type tileWatch struct {
	Grows   int     // times the tile's frames grew since the reset
	Longest float64 // ms, the longest stop of growth since the reset
}

// tileWatch is what tileWatchJS saw, by participant's name.
func (tb *tab) tileWatch() map[string]tileWatch {
	tb.t.Helper()
	var out map[string]tileWatch
	tb.eval(`Object.fromEntries(Object.entries(window.onertcTileWatch.names).map(([n, s]) => [n, {Grows: s.grows, Longest: s.longest}]))`, &out)
	return out
}
