package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/onertc/onertc/server/limit"
)

// FuzzHTTPInput sends arbitrary path segments, queries and bodies to the room-server routes
// and checks that every answer is one the protocol allows.
func FuzzHTTPInput(f *testing.F) {
	f.Add("join", "room1", "client", "", "")
	f.Add("message", "room1", "abc", "it=relay&hd=true", `{"type":"offer","sdp":"v=0"}`)
	f.Add("leave", "r", "c", "", "")
	f.Add("join", "a%2Fb", "", "wshpp=evil\"><&wstls=false", "")
	f.Add("collider", "r", "c", "", "x")
	f.Add("params", "", "", "tt=udp,tcp&audio=false&video=false", "")
	cfg := DefaultConfig()
	cfg.TURN.Disabled = true
	// Every input comes from one address: the rate limits (tested on their own) would
	// answer most of them 429.
	cfg.Limits = limit.Rates{}
	srv, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, route, roomID, clientID, query, body string) {
		path := "/" + url.PathEscape(route) + "/" + url.PathEscape(roomID)
		if clientID != "" {
			path += "/" + url.PathEscape(clientID)
		}
		if strings.Contains(route, "ws") {
			return // the upgrade path needs a real connection; covered by the relay tests
		}
		target := path + "?" + url.PathEscape(query)
		req, err := http.NewRequest(http.MethodPost, "http://localhost:8080"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 301, 307, 308, 400, 404, 405, 413:
		default:
			if !(route == "collider" && w.Code == 500) {
				t.Fatalf("POST %s -> %d %q", target, w.Code, w.Body.String())
			}
		}
		if ct := w.Header().Get("Content-Type"); ct == "application/json" && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("POST %s: invalid JSON %q", target, w.Body.String())
		}
		if w.Code == 200 && route == "join" {
			var jr struct {
				Result string `json:"result"`
				Params struct {
					WSSURL string `json:"wss_url"`
				} `json:"params"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &jr); err != nil {
				t.Fatalf("join answer %q: %v", w.Body.String(), err)
			}
			if strings.ContainsAny(jr.Params.WSSURL, "<>\"' ") {
				t.Fatalf("wss_url carries markup: %q", jr.Params.WSSURL)
			}
		}
	})
}
