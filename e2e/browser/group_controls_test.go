//go:build !js

package browser

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestGroupControls: two Chromium tabs (Ann, Bob) and a pion bot (Dee) make a group of
// three; Ann uses the call's controls, and Bob's tab and the bot watch.
//   - Device choice: in the call, the camera and microphone choice is in the info box (the
//     "Ready to join?" card that holds it before is hidden). Ann switches to another fake
//     camera, then to another microphone: her up connection sends the chosen device, Bob's
//     tiles keep playing and Ann's keeps sounding, the bot keeps receiving her media.
//   - Mute: her muted microphone, then her camera turned off, show as badges on Ann's tile
//     in Bob's tab (the camera-off tile hides its picture), and go when turned back on.
//   - Hang-up: Ann's page says she left, with the rejoin control; Bob's grid drops her tile,
//     Dee's plays on.
//   - Rejoin: the rejoin control takes Ann back into the same group room, with the devices she
//     chose: she sees Bob and Dee playing, Bob sees her tile playing again without badges,
//     the bot receives her.
func TestGroupControls(t *testing.T) {
	base := startGroupServer(t)
	// Three fake cameras and microphones, so that there is a device to switch to (the second
	// camera makes Y16 frames, which WebRTC cannot encode: the test takes the third). Small
	// windows: small tiles, low layers, less to decode on a loaded machine.
	browser := newBrowser(t, chromedp.WindowSize(720, 480),
		chromedp.Flag("use-fake-device-for-media-stream", "device-count=3"))
	const roomID = "browser-group-controls"
	room := base + "/r/" + roomID
	ann, bob := newTab(t, browser, "Ann"), newTab(t, browser, "Bob")
	for _, tb := range []*tab{ann, bob} {
		tb.logConsoleOnFailure()
		tb.openGroupRoom(room, tb.name)
	}
	ann.join()
	ann.waitFor("Ann waiting", `document.getElementById("room").dataset.state === "waiting"`, 30*time.Second)
	bob.join()
	ann.waitRemoteVideo(60 * time.Second)
	dee := startRoomBot(t, base, roomID, "Dee", nil)
	// Generous: at a load of 30 and more on two cores, the move took over 45 s.
	ann.waitTilesOf([]string{"Bob", "Dee"}, 90*time.Second)
	bob.waitTilesOf([]string{"Ann", "Dee"}, 90*time.Second)
	ids := dee.waitIDs(t, []string{"Ann", "Bob"}, 20*time.Second)
	dee.waitReceives(t, ids, []string{"Ann", "Bob"}, 30*time.Second)

	chosen := map[string]string{} // the device id Ann chose, by kind
	t.Run("device choice", func(t *testing.T) {
		ann, bob := ann.in(t), bob.in(t)
		ann.clickWithin(30*time.Second, "#info-button")
		for _, sel := range []struct{ id, kind, pick string }{
			{"camera-select", "video", `o => o.textContent === "fake_device_2"`},
			{"mic-select", "audio", `o => !o.selected`},
		} {
			el := fmt.Sprintf(`document.getElementById(%q)`, sel.id)
			ann.waitFor(sel.id+" within reach in the call", `document.getElementById("info-div").contains(`+el+`) && `+
				el+`.checkVisibility() && !`+el+`.disabled`, 10*time.Second)
			var opts []struct{ Label, Value string }
			ann.eval(`[...`+el+`.options].map(o => ({label: o.textContent, value: o.value}))`, &opts)
			t.Logf("%s: %v", sel.id, opts)
			if len(opts) < 2 {
				t.Fatalf("%s lists %d devices, want the fake ones", sel.id, len(opts))
			}
			sender := `window.onertcUpPC.getSenders().find(s => s.track && s.track.kind === "` + sel.kind + `").track`
			var before string
			ann.eval(sender+`.id`, &before)
			if !ann.bool(el + `.value === ` + sender + `.getSettings().deviceId`) {
				t.Errorf("%s does not show the device the group call sends", sel.id)
			}
			var next string
			ann.eval(`(() => { const s = `+el+`; const o = [...s.options].find(`+sel.pick+`);
				s.value = o.value; s.dispatchEvent(new Event("change")); return o.value })()`, &next)
			ann.waitFor(sel.kind+" sent from the chosen device", sender+`.id !== `+jsString(before)+` && `+
				sender+`.readyState === "live" && `+sender+`.getSettings().deviceId === `+jsString(next), 15*time.Second)
			chosen[sel.kind] = next
			// Counted from now: the old device's track has stopped.
			if sel.kind == "video" {
				bob.waitTilesOf([]string{"Ann", "Dee"}, 30*time.Second)
			} else {
				bob.waitTileSounds("Ann", 20*time.Second)
			}
			dee.waitReceives(t, ids, []string{"Ann"}, 30*time.Second)
		}
		ann.screenshot("group-devices")
		ann.clickWithin(30*time.Second, "#info-button")
	})

	t.Run("mute", func(t *testing.T) {
		ann, bob := ann.in(t), bob.in(t)
		annTile := tileJS("Ann")
		badges := func(want string, cameraOff bool) {
			t.Helper()
			bob.waitFor(fmt.Sprintf("Ann's tile with badges %q", want), fmt.Sprintf(`(() => { const t = %s;
				return t && t.querySelector(".tile-badges").textContent === %q && t.classList.contains("camera-off") === %t; })()`,
				annTile, want, cameraOff), 20*time.Second)
		}
		ann.setMic(false)
		badges("Muted", false)
		ann.setCamera(false)
		badges("Muted · Camera off", true)
		ann.setMic(true)
		badges("Camera off", true)
		ann.setCamera(true)
		badges("", false)
		bob.waitTilesOf([]string{"Ann", "Dee"}, 30*time.Second)
		bob.waitTileSounds("Ann", 20*time.Second)
	})

	t.Run("hang-up", func(t *testing.T) {
		ann, bob := ann.in(t), bob.in(t)
		ann.clickWithin(30*time.Second, "#hangup")
		ann.waitFor("Ann's page says she left", `document.getElementById("room").dataset.state === "ended" &&
			document.getElementById("ended-title").textContent === "You left the call" &&
			document.getElementById("rejoin-button").checkVisibility()`, 30*time.Second)
		ann.waitFor("Ann's connections to the server closed", `window.onertcUpPC.connectionState === "closed" &&
			window.onertcDownPC.connectionState === "closed"`, 15*time.Second)
		if n := len(ann.tiles()); n != 0 {
			t.Errorf("Ann's grid keeps %d tiles after she left", n)
		}
		bob.waitFor("Ann's tile gone", tileJS("Ann")+` === undefined`, 30*time.Second)
		bob.waitTilesOf([]string{"Dee"}, 30*time.Second)
	})

	t.Run("rejoin", func(t *testing.T) {
		ann, bob := ann.in(t), bob.in(t)
		ann.clickWithin(30*time.Second, "#rejoin-button")
		ann.waitTilesOf([]string{"Bob", "Dee"}, 90*time.Second)
		bob.waitTilesOf([]string{"Ann", "Dee"}, 90*time.Second)
		bob.waitTileSounds("Ann", 20*time.Second)
		var b string
		bob.eval(tileJS("Ann")+`.querySelector(".tile-badges").textContent`, &b)
		if b != "" {
			t.Errorf("Bob: Ann's tile has badges %q after she rejoined unmuted", b)
		}
		if !ann.bool(`document.getElementById("info-div").contains(document.getElementById("camera-select"))`) {
			t.Error("Ann: the device choice is not in the info box after the rejoin")
		}
		// The rejoin takes the devices chosen in the call, not the browser's defaults again.
		for kind, id := range chosen {
			var got string
			ann.eval(`window.onertcUpPC.getSenders().find(s => s.track && s.track.kind === "`+kind+`").track.getSettings().deviceId`, &got)
			if got != id {
				t.Errorf("Ann sends %s from device %q after the rejoin, want the chosen %q", kind, got, id)
			}
		}
		// Ann is a new participant (a new id), which the bot receives.
		testsync.Eventually(t, 20*time.Second, "Dee lists Ann's new id", func() bool {
			dee.mu.Lock()
			defer dee.mu.Unlock()
			return dee.ids["Ann"] != "" && dee.ids["Ann"] != ids["Ann"]
		})
		now := dee.waitIDs(t, []string{"Ann", "Bob"}, time.Second)
		dee.waitReceives(t, now, []string{"Ann"}, 30*time.Second)
	})
}
