//go:build !js

package browser

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// roomBot is an onertc bot (pion, in the test process) in a group room, with what it was
// told: the participant list and the active speaker.
type roomBot struct {
	gb   *bot.GroupBot
	name string
	done chan struct{}
	err  error

	mu      sync.Mutex
	ids     map[string]string // participant id by name, from the last list
	speaker string            // the participant id last announced as the active speaker
}

// startRoomBot runs a group bot named name in room on the server at url until the test
// ends; tr, when not nil, is its HTTP transport (e.g. one that accepts a test certificate).
func startRoomBot(t *testing.T, url, room, name string, tr client.Transport) *roomBot {
	t.Helper()
	b := &roomBot{name: name, done: make(chan struct{}), ids: map[string]string{}}
	o := bot.Options{Server: url, Room: room, IncludeLoopback: true, Timeout: time.Minute, StatsEvery: -1,
		RecoverAfter: 2 * time.Second, Transport: tr}
	gb, err := bot.NewGroup(o, bot.GroupOptions{Name: name, ViewWidth: 320, ViewHeight: 240, OnGroupEvent: b.onEvent})
	if err != nil {
		t.Fatalf("bot %s: %v", name, err)
	}
	b.gb = gb
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(b.done)
		_, b.err = gb.Run(ctx)
	}()
	t.Cleanup(func() {
		defer cancel()
		gb.Hangup()
		select {
		case <-b.done:
			if b.err != nil {
				t.Errorf("bot %s: %v", name, b.err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("bot %s did not hang up", name)
			cancel()
			<-b.done
		}
	})
	return b
}

func (b *roomBot) onEvent(ev client.GroupEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev.Kind {
	case client.GroupEventWelcome, client.GroupEventParticipants:
		clear(b.ids)
		for _, p := range ev.Participants {
			b.ids[p.Name] = p.ID
		}
	case client.GroupEventSpeaker:
		b.speaker = ev.Participant
	}
}

// waitIDs waits until the bot's participant list holds every one of names and returns
// their participant ids by name.
func (b *roomBot) waitIDs(t *testing.T, names []string, timeout time.Duration) map[string]string {
	t.Helper()
	ids := map[string]string{}
	testsync.Eventually(t, timeout, fmt.Sprintf("%s lists %v", b.name, names), func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, n := range names {
			if b.ids[n] == "" {
				return false
			}
			ids[n] = b.ids[n]
		}
		return true
	})
	return ids
}

// waitReceives waits until what the bot receives from each of the participants ids names
// keeps rising: video packets and frames, and audio packets.
func (b *roomBot) waitReceives(t *testing.T, ids map[string]string, from []string, timeout time.Duration) {
	t.Helper()
	for _, n := range from {
		if n == b.name {
			continue
		}
		before := b.gb.Remotes()[ids[n]]
		for end := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
			now := b.gb.Remotes()[ids[n]]
			if now.VideoPackets > before.VideoPackets+10 && now.VideoFrames > before.VideoFrames+2 &&
				now.AudioPackets > before.AudioPackets+10 {
				t.Logf("%s from %s: %d video packets, %d frames (layer %q), %d audio packets", b.name, n, now.VideoPackets, now.VideoFrames, now.Layer, now.AudioPackets)
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s receives too little from %s in %v: %+v, then %+v", b.name, n, timeout, before, now)
			}
		}
	}
}

func (b *roomBot) activeSpeaker() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.speaker
}

// others is names without name.
func others(names []string, name string) []string {
	var out []string
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// openGroupRoom opens the room page in the tab and enters the name, ready to join (with
// bounds for a machine so loaded that loading the app takes tens of seconds).
func (tb *tab) openGroupRoom(room, name string) {
	tb.t.Helper()
	tb.do(90*time.Second, chromedp.Navigate(room))
	tb.waitFor("app ready", `document.documentElement.dataset.app === "ready" && !document.getElementById("join-button").disabled`, 90*time.Second)
	tb.eval(fmt.Sprintf(`document.getElementById("name-input").value = %q`, name), nil)
}

// join clicks Join on a page openGroupRoom opened (a window in the background of a loaded
// machine may take a while to answer).
func (tb *tab) join() {
	tb.t.Helper()
	tb.do(60*time.Second, chromedp.Click(chromedp.CSS("#join-button"), chromedp.NodeVisible))
}

// speakingTiles are the names on the tiles the tab marks as the active speaker.
func (tb *tab) speakingTiles() []string {
	tb.t.Helper()
	var out []string
	for _, tl := range tb.tiles() {
		if tl.Speaking {
			out = append(out, tl.Name)
		}
	}
	return out
}

// TestGroupThreeTabsTwoBots: three Chromium tabs (fake camera and microphone) and two pion
// bots in one group room. Each tab shows the four others as tiles with video playing, each
// bot receives the four others' audio and video. Then only one tab's microphone stays on
// (the others muted with the mute control; bots send no audio level, so never speak): the
// other tabs mark that tab's tile as the active speaker and the bots are told it speaks;
// when another tab becomes the only one with its microphone on, the mark moves to it.
func TestGroupThreeTabsTwoBots(t *testing.T) {
	base := startGroupServer(t)
	// Small windows: small tiles, so the SFU sends low layers and three tabs decoding four
	// videos each stay within what a loaded machine keeps up with.
	browser := newBrowser(t, chromedp.WindowSize(720, 480))
	const roomID = "browser-group-bots"
	room := base + "/r/" + roomID
	tabNames, botNames := []string{"Ann", "Bob", "Cy"}, []string{"Dee", "Eve"}
	all := append(append([]string(nil), tabNames...), botNames...)
	tabs := map[string]*tab{}
	for _, n := range tabNames {
		tb := newTab(t, browser, n)
		tabs[n] = tb
		tb.logConsoleOnFailure()
	}
	for _, n := range tabNames {
		tabs[n].openGroupRoom(room, n)
	}
	// One at a time, each once the call shows the one before: how people arrive, and what
	// a loaded machine keeps up with.
	start := time.Now()
	tabs["Ann"].join()
	tabs["Ann"].waitFor("Ann waiting", `document.getElementById("room").dataset.state === "waiting"`, 30*time.Second)
	tabs["Bob"].join()
	tabs["Ann"].waitRemoteVideo(60 * time.Second)
	tabs["Cy"].join()
	waitTiles := func(in []string) {
		t.Helper()
		for _, n := range tabNames {
			tabs[n].waitTilesOf(others(in, n), 90*time.Second)
		}
		t.Logf("every tab shows the others of %v playing, %v after the first join", in, time.Since(start).Round(time.Millisecond))
	}
	waitTiles(tabNames)
	var bots []*roomBot
	for i, n := range botNames {
		bots = append(bots, startRoomBot(t, base, roomID, n, nil))
		waitTiles(all[:len(tabNames)+i+1])
	}
	ids := bots[0].waitIDs(t, all, 20*time.Second)
	for _, b := range bots {
		b.waitReceives(t, ids, all, 30*time.Second)
	}

	// name is the only tab whose microphone is on: the mark is on its tile in the other
	// tabs, and the bots are told it speaks. The server moves the mark after 400 ms of a
	// new loudest voice; the bound is for a loaded machine's tabs.
	const speakerMoveWait = 20 * time.Second
	onlySpeaker := func(name string) {
		t.Helper()
		// Muting first, then unmuting, so that two tabs never speak at once.
		for _, n := range tabNames {
			if n != name {
				tabs[n].setMic(false)
			}
		}
		tabs[name].setMic(true)
		moved := time.Now()
		for _, n := range others(tabNames, name) {
			tabs[n].waitFor(name+"'s tile marked as the speaker", fmt.Sprintf(`(() => {
				const ts = [...document.querySelectorAll("#grid .tile.speaking")];
				return ts.length === 1 && ts[0].querySelector(".tile-name").textContent === %q;
			})()`, name), speakerMoveWait)
		}
		for _, b := range bots {
			testsync.Eventually(t, 10*time.Second, b.name+" told "+name+" speaks", func() bool { return b.activeSpeaker() == ids[name] })
		}
		t.Logf("the mark is on %s in the other tabs and bots %v after its microphone alone was on", name, time.Since(moved).Round(time.Millisecond))
		// It stays there: nobody else speaks.
		time.Sleep(time.Second)
		for _, n := range others(tabNames, name) {
			if got := tabs[n].speakingTiles(); fmt.Sprint(got) != fmt.Sprint([]string{name}) {
				t.Errorf("%s: speaking tiles %v, want [%s]", n, got, name)
			}
		}
	}
	onlySpeaker("Ann")
	onlySpeaker("Cy")
}

// setMic turns the tab's microphone on or off with the mute control, unless it already is,
// and waits until the control shows it (a click at a spot the grid's layout moves away from
// would miss).
func (tb *tab) setMic(on bool) {
	tb.t.Helper()
	tb.setToggle("mute-audio", "the microphone", on)
}

// setCamera is setMic for the camera.
func (tb *tab) setCamera(on bool) {
	tb.t.Helper()
	tb.setToggle("mute-video", "the camera", on)
}

// setToggle turns what the toggle button id (pressed: off) controls on or off.
func (tb *tab) setToggle(id, what string, on bool) {
	tb.t.Helper()
	want := fmt.Sprint(!on)
	tb.eval(fmt.Sprintf(`(() => { const b = document.getElementById(%q);
		if (b.getAttribute("aria-pressed") !== %q) b.click(); return true; })()`, id, want), nil)
	tb.waitFor(what+" "+map[bool]string{true: "on", false: "off"}[on],
		fmt.Sprintf(`document.getElementById(%q).getAttribute("aria-pressed") === %q`, id, want), 10*time.Second)
}
