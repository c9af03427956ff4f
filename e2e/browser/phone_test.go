//go:build !js

package browser

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPhoneLayout: a call on a phone-sized touch screen: every control inside the screen
// and big enough for a finger, the picture-in-picture clear of the controls.
func TestPhoneLayout(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	phone, desk := newTab(t, browser, "phone"), newTab(t, browser, "desktop")
	phone.do(5*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(3), chromedp.EmulatePortrait))
	room := ts.url + "/r/browser-phone-1"

	phone.navigate(room)
	phone.waitReady()
	phone.screenshot("phone-prejoin")
	checkTargets(t, phone, "prejoin", "#join-button", "#camera-select", "#mic-select", "#mute-audio", "#mute-video")
	phone.click("#join-button")
	phone.waitFor("phone waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	phone.screenshot("phone-waiting")
	checkTargets(t, phone, "waiting", "#copy-link", "#room-link", "#mute-audio", "#mute-video", "#screen-share", "#chat-button", "#info-button", "#fullscreen-button", "#hangup")

	desk.joinRoom(room)
	phone.waitRemoteVideo(20 * time.Second)
	phone.screenshot("phone-incall")
	controls := []string{"#mute-audio", "#mute-video", "#screen-share", "#chat-button", "#info-button", "#fullscreen-button", "#hangup"}
	checkTargets(t, phone, "in call", controls...)
	if overlap(phone, "#mini-video", "#controls") {
		t.Error("in call: the picture-in-picture overlaps the controls")
	}
	phone.click("#chat-button")
	phone.waitFor("chat open", `!document.getElementById("chat").hidden`, 5*time.Second)
	phone.screenshot("phone-chat")
	checkTargets(t, phone, "chat open", append(controls, "#chat-input", "#chat-send")...)
	if overlap(phone, "#chat", "#controls") {
		t.Error("chat open: the panel overlaps the controls")
	}
	phone.click("#chat-button")
	phone.do(5*time.Second, pressKey("q"))
	phone.waitFor("phone left", `document.getElementById("room").dataset.state === "ended"`, 10*time.Second)
	phone.screenshot("phone-ended")
	checkTargets(t, phone, "ended", "#rejoin-button", "#new-room-button")
}

type box struct{ X, Y, W, H, VW, VH float64 }

func (tb *tab) box(sel string) (box, bool) {
	tb.t.Helper()
	var b *box
	tb.eval(`(() => {
		const el = document.querySelector(`+jsString(sel)+`);
		if (!el || !el.getClientRects().length) return null;
		const r = el.getBoundingClientRect();
		return {x: r.x, y: r.y, w: r.width, h: r.height, vw: innerWidth, vh: innerHeight};
	})()`, &b)
	if b == nil {
		return box{}, false
	}
	return *b, true
}

// checkTargets: each element is shown, wholly inside the viewport and at least 44 CSS px
// in both directions (Apple's and WCAG's minimum touch target).
func checkTargets(t *testing.T, tb *tab, view string, sels ...string) {
	t.Helper()
	for _, sel := range sels {
		b, ok := tb.box(sel)
		switch {
		case !ok:
			t.Errorf("%s: %s is not shown", view, sel)
		case b.X < 0 || b.Y < 0 || b.X+b.W > b.VW+0.5 || b.Y+b.H > b.VH+0.5:
			t.Errorf("%s: %s at %+v is outside the %gx%g viewport", view, sel, b, b.VW, b.VH)
		case b.W < 44 || b.H < 44:
			t.Errorf("%s: %s is %gx%g px, want at least 44x44", view, sel, b.W, b.H)
		}
	}
}

func overlap(tb *tab, a, b string) bool {
	tb.t.Helper()
	x, ok1 := tb.box(a)
	y, ok2 := tb.box(b)
	return ok1 && ok2 && x.X < y.X+y.W && y.X < x.X+x.W && x.Y < y.Y+y.H && y.Y < x.Y+x.H
}
