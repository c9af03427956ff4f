//go:build js && wasm

// Command wasm is the onertc browser app (GOOS=js GOARCH=wasm). It takes over the page the
// server rendered (web/): the room selection, or a room with its call. The call itself is
// client.Call — the same state machine the bots run — over the browser's fetch, WebSocket and
// RTCPeerConnection (client.BrowserTransport, client.BrowserPeer); this package adds only the
// DOM, the camera and microphone, the data channel and the statistics.
//
// Threading: JS callbacks (js.FuncOf) run on the browser's event loop and must not block, so
// they only post work to the app's one UI goroutine (see ui.post); everything that awaits a
// promise runs in its own goroutine and posts its result back.
package main

import (
	"encoding/json"
	"log/slog"
	"syscall/js"
	"time"

	"github.com/onertc/onertc/web/page"
)

func main() {
	start := time.Now()
	log := slog.New(slog.NewTextHandler(consoleWriter{}, &slog.HandlerOptions{Level: logLevel()}))
	var cfg page.Config
	if el := byID("page-config"); el.Truthy() {
		if err := json.Unmarshal([]byte(el.Get("textContent").String()), &cfg); err != nil {
			log.Error("page config", "err", err)
		}
	}
	u := newUI()
	switch cfg.Page {
	case page.Index:
		startIndex(u)
	case page.Room:
		startRoom(u, cfg, log)
	}
	js.Global().Get("document").Get("documentElement").Get("dataset").Set("app", "ready")
	js.Global().Get("performance").Call("mark", "onertc-app-ready")
	log.Debug("app ready", "page", cfg.Page, "init", time.Since(start))
	u.run() // never returns: the app lives as long as the page
}

// logLevel is debug with ?debug=true, else info.
func logLevel() slog.Level {
	if queryParam("debug") == "true" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// consoleWriter sends log lines to the browser console.
type consoleWriter struct{}

func (consoleWriter) Write(p []byte) (int, error) {
	js.Global().Get("console").Call("log", string(p))
	return len(p), nil
}
