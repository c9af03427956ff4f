//go:build !js

package browser

import (
	"strings"
	"testing"
	"time"
)

// TestWarmReload: the wasm is served precompressed, and a reload with a warm cache fetches
// none of its bytes (content-hash name, Cache-Control immutable).
func TestWarmReload(t *testing.T) {
	ts := startServer(t, nil)
	browser := newBrowser(t)
	tb := newTab(t, browser, "reload")
	type entry struct {
		Name         string  `json:"name"`
		TransferSize float64 `json:"transferSize"`
		EncodedBody  float64 `json:"encodedBodySize"`
		DecodedBody  float64 `json:"decodedBodySize"`
	}
	load := func() entry {
		tb.navigate(ts.url + "/")
		tb.waitFor("app ready", `document.documentElement.dataset.app === "ready"`, 20*time.Second)
		var es []entry
		tb.eval(`performance.getEntriesByType("resource").filter(e => e.name.endsWith(".wasm")).map(e => ({name: e.name, transferSize: e.transferSize, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize}))`, &es)
		if len(es) != 1 {
			t.Fatalf("wasm resource entries: %+v", es)
		}
		return es[0]
	}
	cold := load()
	if cold.TransferSize == 0 || cold.EncodedBody >= cold.DecodedBody/2 {
		t.Errorf("cold load of %s: transfer %v, encoded %v, decoded %v: want a compressed transfer", cold.Name, cold.TransferSize, cold.EncodedBody, cold.DecodedBody)
	}
	warm := load()
	if warm.TransferSize != 0 {
		t.Errorf("warm reload transferred %v bytes of the wasm", warm.TransferSize)
	}
	var enc string
	tb.eval(`fetch(`+quote(cold.Name)+`, {cache: "no-store"}).then(r => r.headers.get("content-encoding"))`, &enc)
	if !strings.Contains(enc, "br") {
		t.Errorf("Chromium got the wasm with content-encoding %q, want br", enc)
	}
	t.Logf("wasm %s: %0.f bytes on the wire cold (decoded %0.f), %0.f warm", cold.Name, cold.TransferSize, cold.DecodedBody, warm.TransferSize)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
