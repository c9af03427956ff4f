//go:build !js

package browser

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// tabGapBound is the longest stop of remote video a tab may show after an instance dies. The
// target is under 1 s (the app's silence watch restarts ICE 0.4 s after the last packet);
// 3 s leaves a loaded 2-core machine under -race room while catching an app that waits for
// Chromium's own move to another pair (3.2-6.1 s, median 3.9 s, before the watch existed) or
// for its "failed" (about 15 s).
const tabGapBound = 3 * time.Second

// fleetRelayBase is where this package's fleet relays (59000-59899), apart from the server
// command's fleet (64000-) and this package's in-process servers (65001-).
const fleetRelayBase = 59000

// envFailoverKills sets how many kills TestBrowserCallSurvivesInstanceKills makes
// (scripts/bench-failover asks for more than make test's one per instance).
const envFailoverKills = "ONERTC_FAILOVER_KILLS"

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

// Two relay-only Chromium tabs call through HAProxy (round robin, no stickiness) over three
// instances, each with its own TURN server on one shared secret and listing the others'
// TURN servers beside its own. The instances are SIGKILLed in turn, each started again before
// the next kill (with envFailoverKills, scripts/bench-failover's, every kill aims at the
// instance relaying a tab's path instead). After each kill both tabs' relay sockets come back on live instances, both selected
// paths go through live TURN servers, remote video keeps playing in both tabs, having stopped
// no longer than tabGapBound (the stop is logged with what the tabs' connections did, and as a
// "failover-sample" line that scripts/bench-failover collects), a tab whose connection moved
// to another path sent a key frame (wasm/path.go), and chat works both ways. A third joiner
// gets FULL; once both tabs have hung up the room is free.
func TestBrowserCallSurvivesInstanceKills(t *testing.T) {
	requireApp(t) // the instances embed the app `make wasm` built, as this test binary does
	fleet := fleettest.StartMedia(t, fleetRelayBase)
	browser := newBrowser(t)
	a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
	consoles := []*testsync.Buffer{a.console(), b.console()}
	const roomID = "browser-fleet"
	room := "http://" + fleet.LB.Addr + "/r/" + roomID + "?it=relay"
	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	b.joinRoom(room)
	tabs := []*tab{a, b}
	for _, tb := range tabs {
		tb.waitRemoteVideo(30 * time.Second)
		tb.watchVideo()
		if p := tb.pair(); p.LocalType != "relay" || p.RemoteType != "relay" {
			t.Fatalf("%s: selected pair %+v, want relay → relay", tb.name, p)
		}
		tb.click("#chat-button")
	}
	chatBothWays(a, b, "before the kills")

	// pathHolders are the instances relaying the tabs' selected paths (local candidates).
	pathHolders := func() []int {
		var out []int
		for _, tb := range tabs {
			var p candidatePair
			testsync.Eventually(t, 10*time.Second, tb.name+"'s selected pair", func() bool {
				p = tb.pair()
				return p.LocalPort != 0
			})
			i, err := fleet.RelayHolder(p.LocalPort)
			if err != nil {
				t.Fatalf("%s's selected local candidate: %v", tb.name, err)
			}
			out = append(out, i)
		}
		return out
	}
	kills, aim := failoverKills(t)
	for k := range kills {
		holders := pathHolders()
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
		var pairs []candidatePair // each tab's before the kill
		var switches []int        // each tab's path-change lines on the console before the kill
		var logged []int          // the length of each tab's console before the kill
		for i, tb := range tabs {
			pairs = append(pairs, tb.pair())
			switches = append(switches, strings.Count(consoles[i].String(), msgPathChanged))
			logged = append(logged, len(consoles[i].String()))
		}
		fleet.Kill(t, target)
		t.Logf("kill %d at %s", k+1, time.Now().Format("15:04:05.000"))
		for _, tb := range tabs {
			tb.resetVideoWatch()
		}
		what := fmt.Sprintf("kill %d of instance %d (%s)", k+1, target, role)
		testsync.Eventually(t, 30*time.Second, "both relay sockets on live instances after "+what, func() bool {
			n, _ := fleet.OpenSockets(t)
			return n == 2
		})
		for _, tb := range tabs {
			testsync.Eventually(t, 30*time.Second, tb.name+"'s path through live TURN servers after "+what, func() bool {
				return tb.pairAlive(fleet)
			})
		}
		marks := make([]int, len(tabs))
		for i, tb := range tabs {
			marks[i] = tb.videoWatch().Grows
		}
		for i, tb := range tabs {
			testsync.Eventually(t, 30*time.Second, tb.name+"'s remote video after "+what, func() bool {
				return tb.videoWatch().Grows > marks[i]
			})
		}
		for i, tb := range tabs {
			w := tb.videoWatch()
			gap := time.Duration(w.Longest * float64(time.Millisecond))
			t.Logf("%s, %s: longest stop of remote video %v, back through %s; %s", what, tb.name, gap.Round(time.Millisecond), w.mechanism(), strings.Join(w.Events, ", "))
			t.Logf("%s's console since the kill:\n%s", tb.name, consoles[i].String()[logged[i]:])
			how := "switch"
			if w.NewPCs > 0 || w.Restarts > 0 {
				how = "restart"
			}
			t.Logf("failover-sample browser %s %s video_gap_ms=%d", role, how, gap.Milliseconds())
			if gap > tabGapBound {
				t.Errorf("%s: remote video stopped for %v after %s (back through %s), bound %v", tb.name, gap, what, w.mechanism(), tabGapBound)
			}
			// The same connection on another path: the app must have sent a key frame (a new
			// connection starts with one anyway).
			if w.NewPCs == 0 && tb.pair() != pairs[i] {
				testsync.Eventually(t, 10*time.Second, tb.name+"'s key frame after its path changed", func() bool {
					return strings.Count(consoles[i].String(), msgPathChanged) > switches[i]
				})
			}
		}
		chatBothWays(a, b, "after "+what)
		fleet.Restart(t, target)
	}

	if jr := fleet.LB.Join(t, roomID); jr.Result != protocol.ResultFull {
		t.Fatalf("third joiner = %s, want FULL", jr.Result)
	}
	a.click("#hangup")
	a.waitFor("A ended", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
	b.waitFor("B told", `document.getElementById("room").dataset.state === "waiting"`, 10*time.Second)
	b.click("#hangup")
	b.waitFor("B ended", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
	if jr := fleet.LB.Join(t, roomID); jr.Result != protocol.ResultSuccess || jr.Params.IsInitiator != "true" {
		t.Fatalf("join after both hung up = %s initiator %s, want a free room", jr.Result, jr.Params.IsInitiator)
	}
}

// chatBothWays sends a chat line from a to b and one back; both chat panels must be open.
func chatBothWays(a, b *tab, when string) {
	a.t.Helper()
	for _, dir := range [][2]*tab{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		line := fmt.Sprintf("%s to %s %s", from.name, to.name, when)
		// Typing sends one DevTools event per key: on a 2-core machine busy with other tests a
		// line took over 5 s, so the deadlines only catch a chat that does not work.
		from.do(30*time.Second, sendKeys("#chat-input", line+"\n"))
		to.waitFor("chat line "+jsString(line), `[...document.querySelectorAll("#chat-log li.theirs")].some(li => li.textContent === `+jsString(line)+`)`, 20*time.Second)
	}
}

// msgPathChanged is what the app logs when the browser moved the call to another path and it
// asked its encoder for a key frame (wasm/path.go).
const msgPathChanged = "the connection moved to another path; sending a key frame"

// console collects the lines the tab's page logs on its console from now on, each after the
// wall-clock time it reached the test.
func (tb *tab) console() *testsync.Buffer {
	tb.t.Helper()
	var buf testsync.Buffer
	err := chromedp.Listen(tb.ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok {
			for _, arg := range e.Args {
				var s string
				if json.Unmarshal(arg.Value, &s) == nil {
					fmt.Fprintln(&buf, time.Now().Format("15:04:05.000"), s)
				}
			}
		}
	})
	if err != nil {
		tb.t.Fatalf("%s: listen to the console: %v", tb.name, err)
	}
	return &buf
}

// pairAlive reports whether the tab's selected path is relayed by live instances at both
// ends (the remote candidate is the other tab's relay address).
func (tb *tab) pairAlive(f *fleettest.MediaFleet) bool {
	tb.t.Helper()
	p := tb.pair()
	if p.LocalPort == 0 {
		return false
	}
	for _, port := range []int{p.LocalPort, p.RemotePort} {
		i, err := f.RelayHolder(port)
		if err != nil {
			tb.t.Fatalf("%s: selected pair %+v: %v", tb.name, p, err)
		}
		if !f.Alive(i) {
			return false
		}
	}
	return true
}

// watchVideoJS samples the tab's connection every 50 ms in the page itself (no round trips
// to the test on the measured path): how often decoded video frames grew, the longest stop
// of growth since the last reset, and, as events with their time since the reset, what the
// connection did meanwhile: its states, its selected pair's ports, a new local ICE ufrag (an
// ICE restart), a new RTCPeerConnection, when video packets and decoded frames came back
// after a stop (with the key frames decoded and key-frame requests sent so far).
const watchVideoJS = `(() => {
	if (window.onertcWatch) return true;
	const w = window.onertcWatch = {pc: null, frames: 0, packets: 0, lastGrow: 0, lastPacket: 0, grows: 0, longest: 0,
		since: performance.now(), events: [], seen: {}, restarts: 0, newPCs: 0};
	const at = () => ((performance.now() - w.since) / 1000).toFixed(2) + "s ";
	const note = (key, value) => {
		if (w.seen[key] === value) return;
		w.seen[key] = value;
		w.events.push(at() + key + "=" + value);
	};
	setInterval(async () => {
		const pc = window.onertcPC;
		if (!pc) return;
		const r = await pc.getStats();
		let frames = 0, packets = 0, keyFrames = 0, plis = 0, pair;
		r.forEach(s => {
			if (s.type === "inbound-rtp" && s.kind === "video") {
				frames += s.framesDecoded || 0; packets += s.packetsReceived || 0;
				keyFrames += s.keyFramesDecoded || 0; plis += s.pliCount || 0;
			}
			if (s.type === "outbound-rtp" && s.kind === "video") note("kfEnc", s.keyFramesEncoded);
			if (s.type === "inbound-rtp" && s.kind === "video") note("kfDec", s.keyFramesDecoded);
			if (s.type === "transport" && s.selectedCandidatePairId) pair = r.get(s.selectedCandidatePairId);
		});
		const now = performance.now(), stopped = t => t && now - t > 500;
		if (pc !== w.pc) {
			if (w.pc) { w.events.push(at() + "new RTCPeerConnection"); w.newPCs++; }
			w.pc = pc;
			w.frames = frames; w.packets = packets; // a new connection counts from zero
		} else {
			if (packets > w.packets) {
				if (stopped(w.lastPacket)) w.events.push(at() + "video packets back after " + ((now - w.lastPacket) / 1000).toFixed(2) + "s");
				w.lastPacket = now; w.packets = packets;
			}
			if (frames > w.frames) {
				if (stopped(w.lastGrow)) w.events.push(at() + "frames back after " + ((now - w.lastGrow) / 1000).toFixed(2) + "s (key frames " + keyFrames + ", PLIs sent " + plis + ")");
				if (w.lastGrow) w.longest = Math.max(w.longest, now - w.lastGrow);
				w.lastGrow = now; w.frames = frames; w.grows++;
			}
		}
		note("connection", pc.connectionState);
		note("ice", pc.iceConnectionState);
		const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp || "");
		if (ufrag && w.seen.ufrag && ufrag[1] !== w.seen.ufrag) w.restarts++;
		note("ufrag", ufrag ? ufrag[1] : "");
		if (pair) note("pair", r.get(pair.localCandidateId).port + "->" + r.get(pair.remoteCandidateId).port);
	}, 50);
	return true;
})()`

func (tb *tab) watchVideo() {
	tb.t.Helper()
	tb.eval(watchVideoJS, nil)
}

// resetVideoWatch starts a new measurement: the longest stop and the events start over.
func (tb *tab) resetVideoWatch() {
	tb.t.Helper()
	tb.eval(`(() => { const w = window.onertcWatch; w.longest = 0; w.events = []; w.restarts = 0; w.newPCs = 0; w.since = performance.now(); return true })()`, nil)
}

type videoWatch struct {
	Grows    int      // times decoded frames grew
	Longest  float64  // ms, the longest stop of growth since the reset
	Events   []string // what the connection did since the reset
	Restarts int      // ICE restarts (new local ufrag) since the reset
	NewPCs   int      // new RTCPeerConnections since the reset
}

// mechanism says how the connection got back on a live path since the reset.
func (w videoWatch) mechanism() string {
	switch {
	case w.NewPCs > 0:
		return "a new RTCPeerConnection"
	case w.Restarts > 0:
		return "an ICE restart"
	}
	return "the browser's own switch of candidate pair"
}

func (tb *tab) videoWatch() videoWatch {
	tb.t.Helper()
	var w videoWatch
	tb.eval(`(() => { const w = window.onertcWatch; return {Grows: w.grows, Longest: w.longest, Events: w.events, Restarts: w.restarts, NewPCs: w.newPCs} })()`, &w)
	return w
}
