//go:build !js

package browser

import (
	"strings"
	"testing"
	"time"
)

// TestCallTwoTabs is the whole life of a call between two people: both see each other,
// chat, mute, one hangs up, rejoins, and a third is turned away.
func TestCallTwoTabs(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
	room := ts.url + "/r/browser-call-1"

	start := time.Now()
	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	if got := a.text("#sharing-title"); got != "Waiting for someone to join" {
		t.Errorf("A alone: sharing title %q", got)
	}
	b.joinRoom(room)
	a.waitRemoteVideo(20 * time.Second)
	b.waitRemoteVideo(20 * time.Second)
	t.Logf("both tabs show remote video %v after A opened the room", time.Since(start).Round(time.Millisecond))
	if a.state() != "incall" || b.state() != "incall" {
		t.Fatalf("states A %q, B %q; want incall", a.state(), b.state())
	}
	a.click("#info-button")
	a.waitFor("stats in the info box", `document.querySelectorAll("#stats dt").length >= 5`, 5*time.Second)
	b.click("#chat-button")
	time.Sleep(1500 * time.Millisecond) // bitrates need two samples
	a.screenshot("call-tab-a")
	b.screenshot("call-tab-b")
	if info := a.text("#stats"); !strings.Contains(info, "connected") || !strings.Contains(info, "host") {
		t.Errorf("info box: %q", info)
	}

	t.Run("chat", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		// B's chat is open, A's is closed: A gets a dot on the chat button.
		b.do(5*time.Second, sendKeys("#chat-input", "<b>hi</b> from B\n"))
		a.waitFor("message at A", `[...document.querySelectorAll("#chat-log li")].some(li => li.textContent === "<b>hi</b> from B")`, 5*time.Second)
		if !a.bool(`!document.getElementById("chat-unread").hidden`) {
			t.Error("A has an unread message but no dot on the chat button")
		}
		if a.bool(`document.querySelector("#chat-log b") !== null`) {
			t.Error("a chat message was rendered as HTML")
		}
		a.click("#chat-button")
		a.do(5*time.Second, sendKeys("#chat-input", "hello from A\n"))
		b.waitFor("reply at B", `[...document.querySelectorAll("#chat-log li.theirs")].some(li => li.textContent === "hello from A")`, 5*time.Second)
		a.screenshot("chat-tab-a")
		a.click("#chat-button")
	})

	t.Run("mute", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		before := energyRate(b)
		if before <= 0 {
			t.Fatalf("B receives no audio energy before the mute (%v)", before)
		}
		a.do(5*time.Second, pressKey("m"))
		a.waitFor("A muted", `document.getElementById("mute-audio").getAttribute("aria-pressed") === "true"`, 2*time.Second)
		b.waitFor("B shows A muted", `!document.getElementById("remote-muted").hidden && document.getElementById("remote-muted").textContent.includes("microphone")`, 5*time.Second)
		time.Sleep(500 * time.Millisecond)
		after := energyRate(b)
		t.Logf("audio energy/s at B: %.4g before, %.4g after A muted", before, after)
		if after > before/20 {
			t.Errorf("B still receives sound after A muted: %.4g (was %.4g)", after, before)
		}
		a.do(5*time.Second, pressKey("m"))
		b.waitFor("B shows A unmuted", `document.getElementById("remote-muted").hidden`, 5*time.Second)
		a.click("#mute-video")
		b.waitFor("B shows A's camera off", `document.getElementById("remote-muted").textContent.includes("camera")`, 5*time.Second)
		a.click("#mute-video")
		b.waitFor("B shows A's camera on", `document.getElementById("remote-muted").hidden`, 5*time.Second)
	})

	t.Run("hangup and rejoin", func(t *testing.T) {
		a, b := a.in(t), b.in(t)
		a.do(5*time.Second, pressKey("q"))
		a.waitFor("A ended", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
		b.waitFor("B told", `document.getElementById("room").dataset.state === "waiting"`, 10*time.Second)
		if got := b.text("#sharing-title"); got != "The other side hung up" {
			t.Errorf("B after A hung up: %q", got)
		}
		b.screenshot("remote-hung-up")
		a.screenshot("you-left")
		a.click("#rejoin-button")
		a.waitRemoteVideo(20 * time.Second)
		b.waitRemoteVideo(20 * time.Second)
	})

	t.Run("third tab gets the full page", func(t *testing.T) {
		c := newTab(t, browser, "tab C") // a tab of its own, closed when the subtest ends
		c.navigate(room)
		if got := c.text("h1"); got != "This room is full" {
			t.Fatalf("third tab: h1 %q", got)
		}
		c.screenshot("room-full")
	})
}

// energyRate samples B's received audio energy over 1.5 s.
func energyRate(tb *tab) float64 {
	e0, t0 := tb.audioEnergy(), time.Now()
	time.Sleep(1500 * time.Millisecond)
	return (tb.audioEnergy() - e0) / time.Since(t0).Seconds()
}

func (tb *tab) bool(expr string) bool {
	tb.t.Helper()
	var ok bool
	tb.eval("!!("+expr+")", &ok)
	return ok
}
