package requestid

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name      string
		fromProxy bool
		sent      string
		want      string // "" when a new id must be generated
	}{
		{"no id sent", false, "", ""},
		{"client's own id ignored", false, "abc-123", ""},
		{"trusted proxy's id kept", true, "abc-123", "abc-123"},
		{"proxy's id too long", true, strings.Repeat("a", 65), ""},
		{"proxy's id of 64 kept", true, strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"proxy's id with markup", true, `a"><b`, ""},
		{"proxy sent none", true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen, header string
			h := Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				seen, header = Of(r), r.Header.Get(Header)
			}), func(*http.Request) bool { return tt.fromProxy })
			req := httptest.NewRequest("GET", "/", nil)
			if tt.sent != "" {
				req.Header.Set(Header, tt.sent)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(Header)
			if seen != got || header != got {
				t.Fatalf("context %q, request header %q, response %q: want one id", seen, header, got)
			}
			switch {
			case tt.want != "" && got != tt.want:
				t.Fatalf("id %q, want %q", got, tt.want)
			case tt.want == "" && !generated.MatchString(got):
				t.Fatalf("id %q, want a new 16-hex-digit one", got)
			}
		})
	}
	if Of(httptest.NewRequest("GET", "/", nil)) != "" {
		t.Fatal("Of outside Wrap is not empty")
	}
}
