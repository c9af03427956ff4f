//go:build !js

package browser

import (
	"fmt"
	"testing"
	"time"
)

// screenTile returns the grid's screen tile, if any, and its camera tiles.
func screenTile(ts []tileState) (*tileState, []tileState) {
	var screen *tileState
	var cams []tileState
	for i := range ts {
		if ts[i].Screen {
			screen = &ts[i]
		} else {
			cams = append(cams, ts[i])
		}
	}
	return screen, cams
}

// TestGroupScreenShareShownLarge: in a group of three, one tab shares its screen (Chromium's
// fake capture) beside its camera: the other two show it as a screen tile larger
// than the camera tiles, with its video playing, and still show the sharer's camera; when
// the share stops, the screen tile goes and the cameras stay; sharing again works the same.
func TestGroupScreenShareShownLarge(t *testing.T) {
	base := startGroupServer(t)
	names := [3]string{"Ann", "Bob", "Cy"}
	tabs := groupOfThree(t, base, "/r/browser-group-screen?debug=true", names)
	ann, viewers := tabs[0], tabs[1:]

	// Twice: the second share sends on the section the first one made.
	for round := 1; round <= 2; round++ {
		ann.clickWithin(30*time.Second, "#screen-share")
		ann.waitFor("Ann sharing", `document.getElementById("screen-share").getAttribute("aria-pressed") === "true"`, 15*time.Second)
		// Published beside the camera, not in its place: the up connection sends both.
		ann.waitFor("camera and screen sent", `(() => {
			const ts = window.onertcUpPC.getSenders().map(s => s.track).filter(t => t && t.kind === "video" && t.readyState === "live");
			return ts.length === 2 && ts.some(t => t.getSettings().displaySurface === "monitor");
		})()`, 15*time.Second)
		var sections int
		ann.eval(`window.onertcUpPC.getTransceivers().length`, &sections)
		if sections != 3 {
			t.Errorf("round %d: Ann's up connection has %d sections, want 3 (microphone, camera, screen)", round, sections)
		}

		for _, tb := range viewers {
			// Generous: the server waits for the screen's key frame, at a load of 30 and more.
			// Any size: Chromium scales what it sends down when the CPU is short.
			tb.waitFor(tb.name+" shows Ann's screen", `[...document.querySelectorAll("#grid .tile.screen video")].some(v => v.videoWidth > 0)`, 60*time.Second)
			first, _ := screenTile(tb.tiles())
			if first == nil {
				t.Fatalf("%s: the screen tile went", tb.name)
			}
			var screen *tileState
			var cams []tileState
			// 30 s: at a load of 40 a screen's frames stood still for over 15 s.
			for end := time.Now().Add(30 * time.Second); ; {
				screen, cams = screenTile(tb.tiles())
				if screen != nil && screen.Frames > first.Frames {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("%s: the screen tile's frames do not rise: first %+v, now %+v", tb.name, first, screen)
				}
				time.Sleep(250 * time.Millisecond)
			}
			if len(cams) != 2 {
				t.Fatalf("%s: %d camera tiles beside the screen, want 2: %+v", tb.name, len(cams), cams)
			}
			for _, c := range cams {
				if c.Width <= 0 {
					t.Errorf("%s: camera tile %s has no picture while Ann shares", tb.name, c.Name)
				}
				if screen.W*screen.H <= c.W*c.H {
					t.Errorf("%s: the screen tile (%gx%g) is not larger than %s's camera tile (%gx%g)", tb.name, screen.W, screen.H, c.Name, c.W, c.H)
				}
			}
			if want := names[0] + " (screen)"; screen.Name != want {
				t.Errorf("%s: screen tile named %q, want %q", tb.name, screen.Name, want)
			}
			checkTileLayout(t, tb.name+" with a screen", tb.tiles())
			t.Logf("round %d, %s: screen %gx%g, cameras %s %gx%g and %s %gx%g", round, tb.name, screen.W, screen.H, cams[0].Name, cams[0].W, cams[0].H, cams[1].Name, cams[1].W, cams[1].H)
		}
		viewers[0].screenshot(fmt.Sprintf("group-screen-%d", round))

		ann.clickWithin(30*time.Second, "#screen-share")
		ann.waitFor("Ann stopped sharing", `document.getElementById("screen-share").getAttribute("aria-pressed") === "false"`, 15*time.Second)
		for i, tb := range viewers {
			tb.waitFor(tb.name+": the screen tile gone", `document.querySelectorAll("#grid .tile.screen").length === 0`, 30*time.Second)
			tiles := tb.waitTilesPlaying(2, 30*time.Second)
			var got []string
			for _, tl := range tiles {
				got = append(got, tl.Name)
			}
			want := []string{names[0], names[2-i]} // the two others, sorted
			if fmt.Sprint(sorted(got)) != fmt.Sprint(want) {
				t.Errorf("%s: tiles %v after the share, want %v", tb.name, got, want)
			}
		}
	}
}
