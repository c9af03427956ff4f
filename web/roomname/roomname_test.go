//go:build !js

package roomname

import (
	"strings"
	"testing"

	"github.com/onertc/onertc/protocol"
)

func TestRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := Random()
		if Problem(n) != "" || !protocol.ValidID(n) || len(n) != 14 {
			t.Fatalf("Random() = %q: %s", n, Problem(n))
		}
		if seen[n] {
			t.Fatalf("Random() repeated %q", n)
		}
		seen[n] = true
	}
}

func TestProblem(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"", "Type a room name"},
		{"abc", "2 more"},
		{"abcd", "1 more"},
		{"abcde", ""},
		{"my_room-42", ""},
		{"a b cde", "Only letters"},
		{"räume", "Only letters"},
		{strings.Repeat("a", 65), "At most 64"},
		{strings.Repeat("a", 64), ""},
	}
	for _, tt := range tests {
		got := Problem(tt.name)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("Problem(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
