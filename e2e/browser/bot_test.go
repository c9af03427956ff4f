//go:build !js

package browser

import (
	"context"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
)

// TestBrowserAndBot: a browser and an onertc bot (pion) in one room see and hear each other.
func TestBrowserAndBot(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	tb := newTab(t, browser, "browser")
	tb.navigate(ts.url + "/r/browser-bot-1")
	tb.waitFor("camera preview", `document.getElementById("local-video").videoWidth > 0 && !document.getElementById("join-button").disabled`, 20*time.Second)
	tb.screenshot("ready-to-join")
	tb.click("#join-button")
	tb.waitFor("waiting", `document.getElementById("room").dataset.state === "waiting"`, 15*time.Second)

	b, err := bot.New(bot.Options{Server: ts.url, Room: "browser-bot-1", IncludeLoopback: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Run(ctx)
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()
	tb.waitRemoteVideo(30 * time.Second)
	tb.screenshot("call-with-bot")
	deadline := time.Now().Add(10 * time.Second)
	for {
		video, audio, _ := b.Totals()
		if video.PacketsReceived > 20 && audio.PacketsReceived > 20 {
			t.Logf("bot received %d video and %d audio packets from the browser", video.PacketsReceived, audio.PacketsReceived)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot received too little from the browser: video %+v, audio %+v", video, audio)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
