//go:build !js

package browser

import (
	"testing"
	"time"
)

// TestPreferredCodecs: ?vsc= and ?asc= put the named codecs first, so the call sends VP9
// video and G722 audio instead of the browser's defaults (VP8, Opus).
func TestPreferredCodecs(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	a, b := newTab(t, browser, "tab A"), newTab(t, browser, "tab B")
	room := ts.url + "/r/browser-codecs-1?vsc=VP9&asc=G722"
	a.joinRoom(room)
	a.waitFor("A waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)
	b.joinRoom(room)
	a.waitRemoteVideo(30 * time.Second)
	b.waitRemoteVideo(30 * time.Second)
	for _, tb := range []*tab{a, b} {
		var sent map[string]string
		tb.eval(`(async () => {
			const r = await window.onertcPC.getStats(), out = {};
			r.forEach(s => { if (s.type === "outbound-rtp" && s.codecId && r.get(s.codecId)) out[s.kind] = r.get(s.codecId).mimeType; });
			return out;
		})()`, &sent)
		if sent["video"] != "video/VP9" || sent["audio"] != "audio/G722" {
			t.Errorf("%s sends %v, want video/VP9 and audio/G722", tb.name, sent)
		}
	}
}
