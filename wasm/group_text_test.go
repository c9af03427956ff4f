//go:build js && wasm

package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestPrivacyText(t *testing.T) {
	if got := privacyText(false); !strings.Contains(got, "only the two of you") || !strings.Contains(got, "Peer-to-peer") {
		t.Errorf("1:1: %q", got)
	}
	if got := privacyText(true); !strings.Contains(got, "goes through the server, which can see and hear it") {
		t.Errorf("group: %q", got)
	}
}

func TestDisplayName(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{
		{"Ann", "Ann"},
		{"  Ann Lee ", "Ann Lee"},
		{"", "Guest k7qz"},
		{"   ", "Guest k7qz"},
		{"tab\there", "Guest k7qz"}, // a control character: the server would refuse it
		{strings.Repeat("x", 65), "Guest k7qz"},
		{"Zoë 🎥", "Zoë 🎥"},
	} {
		if got := displayName(tc.typed, "Guest k7qz"); got != tc.want {
			t.Errorf("displayName(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
	for _, tc := range []struct{ random, want string }{
		{"k7qz-m3xa-p9dw", "Guest k7qz"}, {"abcd", "Guest abcd"}, {"", "Guest"},
	} {
		if got := guestName(tc.random); got != tc.want {
			t.Errorf("guestName(%q) = %q, want %q", tc.random, got, tc.want)
		}
	}
}

func TestGroupStatsRows(t *testing.T) {
	prev := &recvSample{at: 1000, bytes: 100_000}
	now := &recvSample{at: 2000, bytes: 200_000, width: 640, height: 480, fps: 29.6}
	got := groupStatsRows("connected", "relay udp, TURN over tcp · 203.0.113.7:50000", "host udp · 198.51.100.1:3479", 42.4,
		[]memberStats{
			{name: "Ann", now: now, prev: prev, layer: layerInfo{rid: "f", width: 640, height: 480}},
			{name: "Bob", now: &recvSample{at: 2000, bytes: 5000}},
			{name: "Cy"},
		})
	want := [][2]string{
		{"Connection", "connected"},
		{"Via the server", "relay udp, TURN over tcp · 203.0.113.7:50000, 42 ms round trip"},
		{"Server", "host udp · 198.51.100.1:3479"},
		{"Ann", "800 kbit/s · 640×480, 30 fps · layer f (640×480) · relay, 42 ms"},
		{"Bob", "— · no video · layer — · relay, 42 ms"},
		{"Cy", "— · no video · layer — · relay, 42 ms"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	noRTT := groupStatsRows("", "", "", -1, []memberStats{{name: "Ann", layer: layerInfo{rid: "q"}}})
	want = [][2]string{{"Connection", "—"}, {"Via the server", "—"}, {"Server", "—"}, {"Ann", "— · no video · layer q · —, — ms"}}
	if !reflect.DeepEqual(noRTT, want) {
		t.Errorf("without stats:\n got %q\nwant %q", noRTT, want)
	}
}

func TestViaText(t *testing.T) {
	for _, tc := range []struct {
		local string
		rtt   float64
		want  string
	}{
		{"relay udp, TURN over tcp · 203.0.113.7:50000", 42.4, "relay, 42 ms"},
		{"host udp · 192.0.2.1:5000", 0.6, "host, 1 ms"},
		{"srflx udp · 198.51.100.2:40000", 130, "srflx, 130 ms"},
		{"prflx", -1, "prflx, — ms"},
		{"", -1, "—, — ms"},
	} {
		if got := viaText(tc.local, tc.rtt); got != tc.want {
			t.Errorf("viaText(%q, %v) = %q, want %q", tc.local, tc.rtt, got, tc.want)
		}
	}
}

func TestShareLink(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://h/r/abc", "https://h/r/abc"},
		{"https://h/r/abc?group=1", "https://h/r/abc"},
		{"https://h/r/abc?it=relay&group=1", "https://h/r/abc?it=relay"},
		{"https://h/r/abc?group=1&it=relay&hd=true", "https://h/r/abc?it=relay&hd=true"},
		{"https://h/r/abc?groupie=1", "https://h/r/abc?groupie=1"},
		{"https://h/r/abc?group=1#x", "https://h/r/abc#x"},
		{"https://h/r/abc?", "https://h/r/abc"},
	} {
		if got := shareLink(tc.in); got != tc.want {
			t.Errorf("shareLink(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
