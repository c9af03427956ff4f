package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/onertc/onertc/protocol"
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

// TestPagesFollowRoomSize: the room-selection page says how many people a room holds, and
// the full page how many are in it, for --room-size 2 (today's rooms), 3 and 8.
func TestPagesFollowRoomSize(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		joins     []bool // group=1 per join, in order
		index     string
		fullTitle string // "" = the room page is not the full page
		detail    string
	}{
		{"two", 2, []bool{true, true}, "Rooms hold two people.", "This room is full", "already has two people in it."},
		{"three, full", 3, []bool{true, true, true}, "Rooms hold up to 3 people.", "This room is full (3 of 3)", "already has 3 people in it, as many as a room holds."},
		{"three, two in it", 3, []bool{true, true}, "Rooms hold up to 3 people.", "", ""},
		{"eight, an AppRTC client in a call of two", 8, []bool{true, false}, "Rooms hold up to 8 people.", "This room is full", "cannot take a third person"},
		{"eight, not full", 8, []bool{true, true, true, true}, "Rooms hold up to 8 people.", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := startGroupServer(t, false, func(c *Config) { c.RoomSize = tt.size })
			if index := ts.get(t, "/"); !strings.Contains(index, `<span id="room-size">`+tt.index+`</span>`) {
				t.Errorf("index page does not say %q", tt.index)
			}
			for _, group := range tt.joins {
				if jr := ts.joinAs(t, "sized", group); jr.Result != protocol.ResultSuccess {
					t.Fatalf("join (group=%v): %s", group, jr.Result)
				}
			}
			page := ts.get(t, "/r/sized")
			if tt.fullTitle == "" {
				if strings.Contains(page, "This room is full") {
					t.Fatal("the room page is the full page")
				}
				return
			}
			if !strings.Contains(page, "<h1>"+tt.fullTitle+"</h1>") {
				t.Errorf("full page lacks the heading %q", tt.fullTitle)
			}
			if !strings.Contains(page, "</strong> ") || !strings.Contains(page, tt.detail) {
				t.Errorf("full page lacks %q", tt.detail)
			}
			if t.Failed() {
				t.Logf("page:\n%s", page)
			}
		})
	}
}
