//go:build !js

package browser

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRoomSelection: the pre-filled random name, validation as you type, the random
// button, Enter to join, and the recent rooms (newest first, at most 10).
func TestRoomSelection(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	p := newTab(t, browser, "picker")
	p.navigate(ts.url + "/")
	p.waitFor("app ready", `document.documentElement.dataset.app === "ready"`, 20*time.Second)

	var first string
	p.eval(`document.getElementById("room-id-input").value`, &first)
	if len(first) < 12 || strings.Trim(first, "abcdefghijkmnpqrstuvwxyz23456789-") != "" {
		t.Errorf("pre-filled name %q: want 12+ random symbols", first)
	}
	p.screenshot("room-selection")

	typeName := func(name string) {
		p.t.Helper()
		p.eval(`(() => { const i = document.getElementById("room-id-input"); i.focus(); i.select(); return true })()`, nil)
		p.do(5*time.Second, sendKeys("#room-id-input", name))
	}
	for _, tt := range []struct{ typed, message string }{
		{"abc", "2 more"},
		{"a b c d", "Only letters"},
	} {
		typeName(tt.typed)
		if msg := p.text("#room-id-message"); !strings.Contains(msg, tt.message) {
			t.Errorf("typed %q: message %q, want %q", tt.typed, msg, tt.message)
		}
		if !p.bool(`document.getElementById("join-button").disabled && document.getElementById("room-id-input").classList.contains("invalid")`) {
			t.Errorf("typed %q: join enabled or input not marked invalid", tt.typed)
		}
	}
	p.click("#random-button")
	var random string
	p.eval(`document.getElementById("room-id-input").value`, &random)
	if random == first || len(random) < 12 || p.bool(`document.getElementById("join-button").disabled`) {
		t.Errorf("random button: %q (was %q), join disabled %v", random, first, p.bool(`document.getElementById("join-button").disabled`))
	}

	// Nine older rooms already remembered; joining a tenth and an eleventh keeps 10.
	var old []string
	for i := range 9 {
		old = append(old, "older-room-"+string(rune('a'+i)))
	}
	seed, _ := json.Marshal(old)
	p.eval(`localStorage.setItem("onertc.recentRooms", `+string(must(json.Marshal(string(seed))))+`), true`, nil)
	for _, name := range []string{"picked-room-1", "picked-room-2"} {
		p.navigate(ts.url + "/")
		p.waitFor("app ready", `document.documentElement.dataset.app === "ready"`, 20*time.Second)
		typeName(name + "\n")
		p.waitFor("room page", `location.pathname === "/r/`+name+`"`, 10*time.Second)
		p.joinRoom(ts.url + "/r/" + name)
		p.waitFor("in the room", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
		if name == "picked-room-1" {
			p.screenshot("waiting-for-someone")
		}
		p.do(5*time.Second, pressKey("q"))
		p.waitFor("left", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
	}
	p.navigate(ts.url + "/")
	p.waitFor("recent rooms", `!document.getElementById("recent").hidden`, 20*time.Second)
	var recent []string
	p.eval(`[...document.querySelectorAll("#recent-list a")].map(a => a.textContent)`, &recent)
	want := append([]string{"picked-room-2", "picked-room-1"}, old[:8]...)
	if strings.Join(recent, ",") != strings.Join(want, ",") {
		t.Errorf("recent rooms %v, want %v", recent, want)
	}
	p.screenshot("room-selection-recent")
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
