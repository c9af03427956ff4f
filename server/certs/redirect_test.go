//go:build !js

package certs

import (
	"net/http/httptest"
	"testing"
)

func TestRedirectHandler(t *testing.T) {
	tests := []struct {
		name      string
		httpsPort int
		method    string
		target    string // request line target
		host      string // Host header
		wantCode  int
		wantLoc   string
	}{
		{"default port", 443, "GET", "/r/abc?x=1&y=%20", "example.org", 301, "https://example.org/r/abc?x=1&y=%20"},
		{"zero port", 0, "GET", "/", "example.org:80", 301, "https://example.org/"},
		{"custom port", 8443, "GET", "/a%2Fb", "example.org:8080", 301, "https://example.org:8443/a%2Fb"},
		{"head", 8443, "HEAD", "/x", "10.0.0.5", 301, "https://10.0.0.5:8443/x"},
		{"ipv6", 443, "GET", "/x", "[fd00::1]:80", 301, "https://[fd00::1]/x"},
		{"ipv6 custom port", 8443, "GET", "/x", "[fd00::1]", 301, "https://[fd00::1]:8443/x"},
		{"double slash stays a path", 443, "GET", "//evil.example/", "example.org", 301, "https://example.org//evil.example/"},
		{"post refused", 443, "POST", "/join/r", "example.org", 400, ""},
		{"no host", 443, "GET", "/", "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			RedirectHandler(tt.httpsPort).ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", w.Code, tt.wantCode)
			}
			if got := w.Header().Get("Location"); got != tt.wantLoc {
				t.Errorf("Location %q, want %q", got, tt.wantLoc)
			}
		})
	}
}

func TestRedirectHandlerBadPort(t *testing.T) {
	for _, port := range []int{-1, 65536} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RedirectHandler(%d) did not panic", port)
				}
			}()
			RedirectHandler(port)
		}()
	}
}
