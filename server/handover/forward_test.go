package handover

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// A successor passes requests about rooms it does not hold to its predecessor over a real
// unix socket, with the client's address; everything else it answers itself; once the
// predecessor is gone it answers "unavailable" once and then serves every request itself.
func TestForwardToPredecessor(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "predecessor.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	pred := &http.Server{Handler: FromSuccessor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "predecessor "+r.URL.Path+" from "+r.RemoteAddr+" xff="+r.Header.Get("X-Forwarded-For")+" hdr="+r.Header.Get(clientHeader))
	}))}
	go pred.Serve(ln)

	held := map[string]bool{"mine": true}
	h := ForwardToPredecessor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "here "+r.URL.Path)
	}), Forwarding{
		Socket: sock,
		RoomOf: func(p string) string {
			rest, ok := strings.CutPrefix(p, "/message/")
			if !ok {
				return ""
			}
			room, _, _ := strings.Cut(rest, "/")
			return room
		},
		Holds:    func(_ context.Context, room string) (bool, error) { return held[room], nil },
		ClientIP: func(*http.Request) string { return "198.51.100.7" },
		Unavailable: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		},
		Log: slog.New(slog.DiscardHandler),
	})
	do := func(path string) (int, string) {
		req := httptest.NewRequest("POST", path, strings.NewReader("x"))
		req.Header.Set("X-Forwarded-For", "203.0.113.1") // the client's own claim
		req.Header.Set(clientHeader, "203.0.113.2")      // a forged one
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	tests := []struct{ path, want string }{
		{"/message/mine/c1", "here /message/mine/c1"},
		{"/join/theirs", "here /join/theirs"},
		{"/message/theirs/c1", "predecessor /message/theirs/c1 from 198.51.100.7:0 xff= hdr="},
	}
	for _, tt := range tests {
		if code, body := do(tt.path); code != http.StatusOK || body != tt.want {
			t.Fatalf("%s: %d %q, want 200 %q", tt.path, code, body, tt.want)
		}
	}

	pred.Close()
	if code, _ := do("/message/theirs/c2"); code != http.StatusServiceUnavailable {
		t.Fatalf("predecessor gone: %d, want 503 (the client sends it again)", code)
	}
	if code, body := do("/message/theirs/c3"); code != http.StatusOK || body != "here /message/theirs/c3" {
		t.Fatalf("after the predecessor went: %d %q, want it answered here", code, body)
	}
}
