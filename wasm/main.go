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
	"syscall/js"
	"time"

	"github.com/onertc/onertc/web/page"
)

func main() {
	start := time.Now()
	log := consoleLogger{debug: queryParam("debug") == "true"}
	var cfg page.Config
	if el := byID("page-config"); el.Truthy() {
		c, err := page.Decode(el.Get("textContent"))
		if err != nil {
			log.Error("page config", "err", err)
		}
		cfg = c
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
