//go:build !js

package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/server"
)

// The clear messages for what goes wrong: no camera, an insecure page, no server, no relay.

// waitReady waits until the room page's app is ready and the join button enabled.
func (tb *tab) waitReady() {
	tb.t.Helper()
	tb.waitFor("app ready", `document.documentElement.dataset.app === "ready" && !document.getElementById("join-button").disabled`, 20*time.Second)
}

// TestMediaDenied: a browser that refuses the camera and microphone says so, joins receive
// only and shows the other side, who gets nothing from it; both as the first in the room
// (its offer only receives) and, after a rejoin, as the second (its answer only receives).
func TestMediaDenied(t *testing.T) {
	ts := startServer(t, nil)
	// Without the fake UI, permission prompts are answered "block".
	denied := newBrowser(t, chromedp.Flag("use-fake-ui-for-media-stream", false), chromedp.Flag("deny-permission-prompts", true))
	normal := newBrowser(t)
	d, n := newTab(t, denied, "denied tab"), newTab(t, normal, "camera tab")
	room := ts.url + "/r/browser-denied-1"

	d.navigate(room)
	d.waitReady()
	if msg := d.text("#status-div"); !strings.Contains(msg, "blocked") || !strings.Contains(msg, "still see and hear") {
		t.Errorf("denied tab before joining: status %q, want the camera-blocked message", msg)
	}
	if !d.bool(`document.getElementById("status-div").classList.contains("error")`) {
		t.Error("the camera-blocked message is not shown as a problem")
	}
	d.screenshot("media-denied-prejoin")
	d.click("#join-button")
	d.waitFor("denied tab waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	n.joinRoom(room)
	d.waitRemoteVideo(20 * time.Second)
	checkReceiveOnly(t, d, n)
	d.screenshot("media-denied-incall")

	t.Run("as the second in the room", func(t *testing.T) {
		d, n := d.in(t), n.in(t)
		d.do(5*time.Second, pressKey("q"))
		d.waitFor("denied tab left", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
		n.waitFor("camera tab alone", `document.getElementById("room").dataset.state === "waiting"`, 10*time.Second)
		d.click("#rejoin-button")
		d.waitRemoteVideo(20 * time.Second)
		checkReceiveOnly(t, d, n)
	})
}

// checkReceiveOnly: d sends no tracks and shows its microphone and camera off; n, in the
// call with it, decodes no video from it.
func checkReceiveOnly(t *testing.T, d, n *tab) {
	t.Helper()
	n.waitFor("camera tab in call", `document.getElementById("room").dataset.state === "incall"`, 15*time.Second)
	if !d.bool(`window.onertcPC.getSenders().every(s => !s.track)`) {
		t.Error("the denied tab sends a track")
	}
	if !d.bool(`document.getElementById("mute-audio").getAttribute("aria-pressed") === "true" && document.getElementById("mute-video").getAttribute("aria-pressed") === "true"`) {
		t.Error("the denied tab's microphone and camera buttons do not show them off")
	}
	if !d.bool(`getComputedStyle(document.getElementById("mini-video")).visibility === "hidden"`) {
		t.Error("the denied tab shows an empty picture-in-picture")
	}
	// d has decoded frames for a while (waitRemoteVideo): media flows, yet none from d.
	time.Sleep(time.Second)
	if f := n.framesDecoded(); f != 0 {
		t.Errorf("camera tab decoded %v frames from the denied tab", f)
	}
	if w := n.number(`document.getElementById("remote-video").videoWidth`); w != 0 {
		t.Errorf("camera tab shows remote video %vpx wide from the denied tab", w)
	}
}

func (tb *tab) number(expr string) float64 {
	tb.t.Helper()
	var f float64
	tb.eval(expr, &f)
	return f
}

// TestInsecureContext: on http:// at a name other than localhost the browser has no
// navigator.mediaDevices; the page explains why, and still joins to watch and listen.
func TestInsecureContext(t *testing.T) {
	ts := startServer(t, nil)
	// TURN and the test server stay on 127.0.0.1 (FACTS: the rule must exclude it).
	browser := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP onertc.test 127.0.0.1, EXCLUDE 127.0.0.1"))
	insecure, secure := newTab(t, browser, "http tab"), newTab(t, browser, "localhost tab")
	port := ts.url[strings.LastIndex(ts.url, ":"):]
	room := "/r/browser-insecure-1"

	insecure.navigate("http://onertc.test" + port + room)
	insecure.waitReady()
	if insecure.bool(`window.isSecureContext || navigator.mediaDevices !== undefined`) {
		t.Fatal("http://onertc.test is a secure context here: the test proves nothing")
	}
	msg := insecure.text("#status-div")
	for _, want := range []string{"not secure", "https://", "localhost"} {
		if !strings.Contains(msg, want) {
			t.Errorf("status %q does not mention %q", msg, want)
		}
	}
	insecure.screenshot("insecure-context")
	insecure.click("#join-button")
	insecure.waitFor("http tab waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	secure.joinRoom(ts.url + room)
	insecure.waitRemoteVideo(20 * time.Second)
	if !insecure.bool(`window.onertcPC.getSenders().every(s => !s.track)`) {
		t.Error("the insecure tab sends a track")
	}
}

// TestServerUnreachable: the server is gone when Join is clicked: the page says so at once
// and offers to try again.
func TestServerUnreachable(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	p := newTab(t, browser, "tab")
	p.navigate(ts.url + "/r/browser-unreachable-1")
	p.waitReady()
	ts.stop()
	start := time.Now()
	p.click("#join-button")
	p.waitFor("error view", `document.getElementById("room").dataset.state === "error"`, 15*time.Second)
	t.Logf("the page gave up %v after Join", time.Since(start).Round(time.Millisecond))
	if got := p.text("#ended-title"); got != "Cannot reach the server" {
		t.Errorf("title %q", got)
	}
	if got := p.text("#rejoin-button"); got != "Try again" {
		t.Errorf("rejoin button %q, want Try again", got)
	}
	p.screenshot("server-unreachable")
}

// TestICEFailed: relay-only ICE with no TURN server at all cannot connect; the page says no
// relay was reachable and what to check.
func TestICEFailed(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.TURN.Disabled = true })
	browser := newBrowser(t)
	a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
	room := ts.url + "/r/browser-icefail-1?it=relay"
	start := time.Now()
	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	b.joinRoom(room)
	const failed = `document.getElementById("status-div").textContent.includes("no TURN relay was reachable")`
	a.waitFor("A shows the ICE failure", failed, 35*time.Second)
	t.Logf("A declared the failure %v after joining", time.Since(start).Round(time.Millisecond))
	b.waitFor("B shows the ICE failure", failed, 10*time.Second)
	if msg := a.text("#status-div"); !strings.Contains(msg, "UDP") || !strings.Contains(msg, "3478") {
		t.Errorf("failure message without the hint: %q", msg)
	}
	a.screenshot("ice-failed")
}
