//go:build !js

package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestCallControls: the link to share while alone, then in a call full screen, the choice
// of camera and microphone, and screen sharing in place of the camera.
func TestCallControls(t *testing.T) {
	ts := startServer(t, nil)
	// Three fake cameras, so that there is one to switch to. The second sends nothing: it
	// makes Y16 frames (a depth camera), which WebRTC cannot encode; the third is MJPEG.
	b := newBrowser(t, chromedp.Flag("use-fake-device-for-media-stream", "device-count=3"))
	grant(t, b, ts.url, "clipboard-read", "clipboard-write")
	a, bb := newTab(t, b, "tab A"), newTab(t, b, "tab B")
	room := ts.url + "/r/browser-controls-1"

	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	t.Run("copy link while alone", func(t *testing.T) {
		a := a.in(t)
		if got := a.text("#sharing-title"); got != "Waiting for someone to join" {
			t.Errorf("sharing title %q", got)
		}
		var link string
		a.eval(`document.getElementById("room-link").value`, &link)
		if link != room {
			t.Errorf("room link %q, want %q", link, room)
		}
		a.front() // the clipboard is only for the focused page
		a.click("#copy-link")
		a.waitFor("copied", `document.querySelector("#copy-link span").textContent === "Copied"`, 5*time.Second)
		var clip string
		a.eval(`navigator.clipboard.readText()`, &clip)
		if clip != room {
			t.Errorf("clipboard %q, want %q", clip, room)
		}
	})

	bb.joinRoom(room)
	a.waitRemoteVideo(20 * time.Second)
	bb.waitRemoteVideo(20 * time.Second)

	t.Run("fullscreen", func(t *testing.T) {
		a := a.in(t)
		a.front()
		a.do(5*time.Second, pressKey("f"))
		a.waitFor("full screen", `document.fullscreenElement === document.getElementById("room")`, 5*time.Second)
		a.do(5*time.Second, pressKey("f"))
		a.waitFor("full screen left", `document.fullscreenElement === null`, 5*time.Second)
		a.click("#fullscreen-button")
		a.waitFor("full screen by the button", `document.fullscreenElement !== null`, 5*time.Second)
		a.click("#fullscreen-button")
		a.waitFor("full screen left by the button", `document.fullscreenElement === null`, 5*time.Second)
	})

	t.Run("choice of camera and microphone", func(t *testing.T) {
		a, bb := a.in(t), bb.in(t)
		for _, sel := range []struct{ id, kind, pick string }{
			{"camera-select", "video", `o => o.textContent === "fake_device_2"`},
			{"mic-select", "audio", `o => !o.selected`},
		} {
			var opts []struct{ Label, Value string }
			a.eval(`[...document.getElementById("`+sel.id+`").options].map(o => ({label: o.textContent, value: o.value}))`, &opts)
			t.Logf("%s: %v", sel.id, opts)
			if len(opts) < 2 {
				t.Errorf("%s lists %d devices, want the fake ones", sel.id, len(opts))
				continue
			}
			for _, o := range opts {
				if o.Value == "" || o.Label == "" || strings.HasPrefix(o.Label, "Camera ") || strings.HasPrefix(o.Label, "Microphone ") {
					t.Errorf("%s: option %+v, want the device's label (known after permission)", sel.id, o)
				}
			}
			sender := `window.onertcPC.getSenders().find(s => s.track && s.track.kind === "` + sel.kind + `").track`
			var before string
			a.eval(sender+`.id`, &before)
			if !a.bool(`document.getElementById("` + sel.id + `").value === ` + sender + `.getSettings().deviceId`) {
				t.Errorf("%s does not show the device in use", sel.id)
			}
			var next string
			a.eval(`(() => { const s = document.getElementById("`+sel.id+`"); const o = [...s.options].find(`+sel.pick+`); s.value = o.value; s.dispatchEvent(new Event("change")); return o.value })()`, &next)
			a.waitFor(sel.kind+" sender replaced", sender+`.id !== `+jsString(before)+` && `+sender+`.getSettings().deviceId === `+jsString(next), 10*time.Second)
			if sel.kind == "video" {
				bb.waitFramesGrow(10 * time.Second)
			} else if e := energyRate(bb); e <= 0 {
				t.Errorf("B receives no sound from A's other microphone")
			}
		}
	})

	t.Run("screen sharing", func(t *testing.T) {
		a, bb := a.in(t), bb.in(t)
		const video = `window.onertcPC.getSenders().find(s => s.track && s.track.kind === "video").track`
		var camera string
		a.eval(video+`.id`, &camera)
		a.click("#screen-share")
		a.waitFor("screen sent", video+`.getSettings().displaySurface === "monitor" && document.getElementById("screen-share").getAttribute("aria-pressed") === "true"`, 10*time.Second)
		bb.waitFramesGrow(10 * time.Second)
		// The fake screen is 800×600, the fake camera 640×480: B shows the screen.
		bb.waitFor("B shows the screen", `document.getElementById("remote-video").videoWidth === 800`, 15*time.Second)
		if !a.bool(`document.getElementById("mini-video").classList.contains("screen")`) {
			t.Error("A's picture-in-picture does not show the shared screen")
		}
		a.screenshot("screen-sharing-a")
		bb.screenshot("screen-sharing-b")
		a.click("#screen-share")
		a.waitFor("camera back", video+`.id === `+jsString(camera)+` && document.getElementById("screen-share").getAttribute("aria-pressed") === "false"`, 10*time.Second)
		bb.waitFor("B shows the camera", `document.getElementById("remote-video").videoWidth === 640`, 15*time.Second)
		bb.waitFramesGrow(10 * time.Second)
	})
}

// grant gives origin the named permissions (Blink's names) in the whole browser.
func grant(t testing.TB, b context.Context, origin string, names ...string) {
	t.Helper()
	for _, name := range names {
		_, err := chromedp.CallBrowser(b, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name},
			Setting:    browser.PermissionSettingGranted,
			Origin:     origin,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
}

// front brings the tab to the front and focuses it.
func (tb *tab) front() {
	tb.t.Helper()
	tb.do(5*time.Second, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.BringToFront, cdp.Empty{})
		return err
	}))
}

// waitFramesGrow waits until more video frames are decoded than now.
func (tb *tab) waitFramesGrow(timeout time.Duration) {
	tb.t.Helper()
	first := tb.framesDecoded()
	deadline := time.Now().Add(timeout)
	for tb.framesDecoded() <= first {
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: framesDecoded stuck at %v for %v", tb.name, first, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }
