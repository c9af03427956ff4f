package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestPageSecurityHeaders(t *testing.T) {
	ts := startServer(t, nil)
	for _, path := range []string{"/", "/r/some-room", "/r/some-room?wshpp=relay.example.org:443"} {
		resp, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "frame-ancestors 'none'",
			"connect-src 'self' ws://" + ts.host + " http://" + ts.host} {
			if strings.HasSuffix(path, "443") && strings.HasPrefix(want, "connect-src") {
				want = "connect-src 'self' wss://relay.example.org:443 https://relay.example.org:443"
			}
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "'unsafe-inline'") {
			t.Errorf("%s: CSP allows unsafe script: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

func TestIndexFormRedirect(t *testing.T) {
	ts := startServer(t, nil)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(ts.url + "/?room=my-room&it=relay")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/r/my-room?it=relay" {
		t.Fatalf("GET /?room=my-room: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
