//go:build js && wasm

package main

import (
	"fmt"
	"reflect"
	"testing"
)

// rooms are n distinct valid room ids r0, r1, ….
func rooms(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%d", i)
	}
	return out
}

func TestKeepRecent(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"order kept", []string{"b", "a", "c"}, []string{"b", "a", "c"}},
		{"duplicates keep their newest place", []string{"a", "b", "a", "c", "b"}, []string{"a", "b", "c"}},
		{"invalid ids dropped", []string{"ok", "", "with space", "../x", "<b>", "fine-1_2"}, []string{"ok", "fine-1_2"}},
		{"at most ten", rooms(12), rooms(10)},
		{"invalid ones do not take a place", append([]string{"bad id", "r0", "r0"}, rooms(11)[1:]...), rooms(10)},
	} {
		if got := keepRecent(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: keepRecent(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestPushRecent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		room  string
		rooms []string
		want  []string
	}{
		{"first room", "a", nil, []string{"a"}},
		{"new room goes first", "c", []string{"a", "b"}, []string{"c", "a", "b"}},
		{"known room moves first, once", "b", []string{"a", "b", "c"}, []string{"b", "a", "c"}},
		{"already first", "a", []string{"a", "b"}, []string{"a", "b"}},
		{"the oldest falls off", "new", rooms(10), append([]string{"new"}, rooms(9)...)},
		{"a known room at the end of a full list", "r9", rooms(10), append([]string{"r9"}, rooms(9)...)},
		{"an invalid room is not stored", "no such/room", []string{"a"}, []string{"a"}},
	} {
		in := append([]string(nil), tc.rooms...)
		got := pushRecent(tc.room, in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: pushRecent(%q, %q) = %q, want %q", tc.name, tc.room, tc.rooms, got, tc.want)
		}
		if !reflect.DeepEqual(in, tc.rooms) {
			t.Errorf("%s: pushRecent changed its input to %q", tc.name, in)
		}
	}
}

// TestRecentStorage: the list as stored in localStorage (JSON, read back with the browser's
// JSON) survives a round trip, and what a hand or another version left there reads as
// rooms or as none, never as an error.
func TestRecentStorage(t *testing.T) {
	for _, list := range [][]string{{}, {"a"}, {"b", "a", "c-d_e"}, rooms(10)} {
		text := encodeRecent(list)
		got := decodeRecent(text)
		if len(list) == 0 && got != nil || len(list) > 0 && !reflect.DeepEqual(got, list) {
			t.Errorf("decodeRecent(encodeRecent(%q)) = %q (stored %s)", list, got, text)
		}
	}
	if got, want := encodeRecent([]string{"b", "a"}), `["b","a"]`; got != want {
		t.Errorf("encodeRecent = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		stored string
		want   []string
	}{
		{`["x","x","bad room","y"]`, []string{"x", "y"}},
		{`not json`, nil},
		{`{"rooms":["a"]}`, nil},
		{`["a",1]`, nil},
		{`null`, nil},
		{`"a"`, nil},
	} {
		if got := decodeRecent(tc.stored); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("decodeRecent(%s) = %q, want %q", tc.stored, got, tc.want)
		}
	}
}
