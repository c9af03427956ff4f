//go:build js && wasm

package main

import "testing"

func TestSearchParam(t *testing.T) {
	for _, tc := range []struct {
		search, name, want string
	}{
		{"?debug=true", "debug", "true"},
		{"debug=true", "debug", "true"},
		{"?it=relay&debug=true&hd=true", "debug", "true"},
		{"?debug=true", "Debug", ""}, // names are case-sensitive
		{"", "debug", ""},
		{"?debug", "debug", ""},
		{"?vsc=VP9&vsc=H264", "vsc", "VP9"},
		{"?wshpp=a%20b%2Bc", "wshpp", "a b+c"},
		{"?t=a+b", "t", "a b"},
		{"?x=%E2%82%AC", "x", "€"},
		{"?x=%ZZ", "x", "%ZZ"},
	} {
		if got := searchParam(tc.search, tc.name); got != tc.want {
			t.Errorf("searchParam(%q, %q) = %q, want %q", tc.search, tc.name, got, tc.want)
		}
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{roomPath("abc-1_2"), "/r/abc-1_2"},
		{roomPath("a b/c?d#e"), "/r/a%20b%2Fc%3Fd%23e"}, // never valid ids, but never a path of their own either
		{leavePath("room1", "12345678"), "/leave/room1/12345678"},
		{leavePath("a/b", "c d"), "/leave/a%2Fb/c%20d"},
		{invitePath("room1"), "/invite/room1"},
		{invitePath("é"), "/invite/%C3%A9"},
	} {
		if tc.got != tc.want {
			t.Errorf("path %q, want %q", tc.got, tc.want)
		}
	}
}
