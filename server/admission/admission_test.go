package admission

import (
	"net/http"
	"testing"
)

// The password form's next= and the redirect after a sign-in go only to a path of this
// server: anything that a browser would resolve elsewhere becomes "/".
func TestLocalPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/r/room-a", "/r/room-a"},
		{"/r/room-a?hd=true", "/r/room-a?hd=true"},
		{"/", "/"},
		{"", "/"},
		{"r/room-a", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/%zz", "/"},
	}
	for _, tt := range tests {
		if got := localPath(tt.in); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNilGateIsOpen(t *testing.T) {
	var g *Gate
	if !g.Admits(nil, "room") || g.Mode() != "" {
		t.Fatal("open mode's nil gate refuses or names a mode")
	}
	called := false
	g.Guard(func(_ http.ResponseWriter, _ *http.Request) { called = true })(nil, nil)
	if !called {
		t.Fatal("open mode's Guard did not pass the request on")
	}
}
