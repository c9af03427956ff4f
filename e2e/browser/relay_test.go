//go:build !js

package browser

import (
	"strings"
	"testing"
	"time"
)

// TestRelayOnly: with ?it=relay both tabs connect through the server's own TURN relay.
func TestRelayOnly(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
	room := ts.url + "/r/browser-relay-1?it=relay"
	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	b.joinRoom(room)
	a.waitRemoteVideo(30 * time.Second)
	b.waitRemoteVideo(30 * time.Second)
	for _, tb := range []*tab{a, b} {
		if local, remote := tb.selectedPair(); local != "relay" || remote != "relay" {
			t.Errorf("%s: selected pair %s → %s, want relay → relay", tb.name, local, remote)
		}
	}
	a.click("#info-button")
	a.waitFor("stats", `document.getElementById("stats").textContent.includes("relay")`, 5*time.Second)
	if info := a.text("#stats"); !strings.Contains(info, "TURN over") {
		t.Errorf("info box does not show the relay protocol: %q", info)
	}
	a.screenshot("relay-call-info")
}
