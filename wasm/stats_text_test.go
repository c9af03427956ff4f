//go:build js && wasm

// The tests of this package run under node (go_js_wasm_exec), without a DOM: the app's logic
// lives in functions that need none, or only what node has (JSON, Map, URLSearchParams,
// EventTarget, promises):
//
//	GOOS=js GOARCH=wasm go test -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./wasm/
package main

import (
	"reflect"
	"testing"

	"github.com/onertc/onertc/client"
)

func TestCandidateText(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    candidate
		want string
	}{
		{"host", candidate{typ: "host", protocol: "udp", address: "192.0.2.1", port: 50000}, "host udp · 192.0.2.1:50000"},
		{"relay over tcp", candidate{typ: "relay", protocol: "udp", relayProtocol: "tcp", address: "203.0.113.7", port: 3478},
			"relay udp, TURN over tcp · 203.0.113.7:3478"},
		{"relay protocol unknown", candidate{typ: "relay", protocol: "udp", address: "203.0.113.7", port: 3478}, "relay udp · 203.0.113.7:3478"},
		// Only a relay candidate has a TURN leg; a browser that says one for another type is wrong.
		{"relay protocol on srflx", candidate{typ: "srflx", protocol: "udp", relayProtocol: "tls", address: "198.51.100.2", port: 9},
			"srflx udp · 198.51.100.2:9"},
		{"mdns name", candidate{typ: "host", protocol: "udp", address: "4f2c.local", port: 6000}, "host udp · 4f2c.local:6000"},
		{"no address", candidate{typ: "prflx", protocol: "tcp"}, "prflx tcp"},
		{"no port", candidate{typ: "host", protocol: "tcp", address: "192.0.2.1"}, "host tcp · 192.0.2.1"},
	} {
		if got := candidateText(tc.c); got != tc.want {
			t.Errorf("%s: candidateText = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestStatsRows(t *testing.T) {
	full := snapshot{at: 3000, state: "connected", local: "host udp · 192.0.2.1:5000", remote: "relay udp · 203.0.113.7:3478",
		rttMS: 12.4, bytesIn: 250_000, bytesOut: 125_000, width: 640, height: 480, fps: 29.6, videoCodec: "video/VP8",
		audioCodec: "audio/opus", sendWidth: 320, sendHgt: 240, sendFPS: 15, lost: 3, received: 297}
	second := snapshot{at: 2000, bytesIn: 187_500, bytesOut: 100_000} // one second before full
	fp := client.Fingerprint{Algorithm: "sha-256", Digest: []byte{0xab, 0x01}}
	fp2 := client.Fingerprint{Algorithm: "sha-256", Digest: []byte{0x0c, 0xfe}}
	with := func(s snapshot, f func(*snapshot)) *snapshot { f(&s); return &s }
	for _, tc := range []struct {
		name    string
		s, prev *snapshot
		v       *client.Verification
		want    [][2]string
	}{
		{"everything", &full, &second, &client.Verification{Code: "12345 67890", Local: fp, Remote: fp2}, [][2]string{
			{"Connection", "connected"}, {"Local", "host udp · 192.0.2.1:5000"}, {"Remote", "relay udp · 203.0.113.7:3478"},
			{"Round trip", "12 ms"}, {"Receiving", "500 kbit/s"}, {"Sending", "200 kbit/s"},
			{"Video in", "640×480, 30 fps, video/VP8"}, {"Video out", "320×240, 15 fps"}, {"Audio in", "audio/opus"},
			{"Packet loss", "1.00 % (3 of 300)"},
			{"Verification code", "12345 67890"}, {"Your certificate", "sha-256 AB:01"}, {"Their certificate", "sha-256 0C:FE"},
		}},
		{"first report: no rates yet", &snapshot{state: "connecting", rttMS: -1}, nil, nil, [][2]string{
			{"Connection", "connecting"}, {"Local", "—"}, {"Remote", "—"}, {"Receiving", "—"}, {"Sending", "—"},
		}},
		{"zero round trip is shown", &snapshot{state: "connected", rttMS: 0}, nil, nil, [][2]string{
			{"Connection", "connected"}, {"Local", "—"}, {"Remote", "—"}, {"Round trip", "0 ms"}, {"Receiving", "—"}, {"Sending", "—"},
		}},
		{"same timestamp: no rate", with(full, func(s *snapshot) {
			s.at = second.at
			s.rttMS = -1
			s.width, s.sendWidth, s.audioCodec, s.received, s.lost = 0, 0, "", 0, 0
		}),
			&second, nil, [][2]string{
				{"Connection", "connected"}, {"Local", "host udp · 192.0.2.1:5000"}, {"Remote", "relay udp · 203.0.113.7:3478"},
				{"Receiving", "—"}, {"Sending", "—"},
			}},
		{"counter went back: no rate, the other one still", with(full, func(s *snapshot) {
			s.bytesIn = 1000
			s.rttMS = -1
			s.width, s.sendWidth, s.audioCodec, s.received, s.lost = 0, 0, "", 0, 0
		}),
			&second, nil, [][2]string{
				{"Connection", "connected"}, {"Local", "host udp · 192.0.2.1:5000"}, {"Remote", "relay udp · 203.0.113.7:3478"},
				{"Receiving", "—"}, {"Sending", "200 kbit/s"},
			}},
		{"video in without a codec", &snapshot{state: "connected", rttMS: -1, width: 1280, height: 720, fps: 24.4}, nil, nil, [][2]string{
			{"Connection", "connected"}, {"Local", "—"}, {"Remote", "—"}, {"Receiving", "—"}, {"Sending", "—"},
			{"Video in", "1280×720, 24 fps"},
		}},
		{"more duplicates than losses: no loss", &snapshot{state: "connected", rttMS: -1, lost: -4, received: 400}, nil, nil, [][2]string{
			{"Connection", "connected"}, {"Local", "—"}, {"Remote", "—"}, {"Receiving", "—"}, {"Sending", "—"},
			{"Packet loss", "0.00 % (0 of 400)"},
		}},
	} {
		if got := statsRows(tc.s, tc.prev, tc.v); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}

func TestBitrate(t *testing.T) {
	for _, tc := range []struct {
		now, before, ms float64
		want            string
	}{
		{125_000, 0, 1000, "1000 kbit/s"},
		{125_000, 0, 2000, "500 kbit/s"},
		{10, 10, 1000, "0 kbit/s"},
		{10, 20, 1000, "—"},
		{20, 10, 0, "—"},
		{20, 10, -5, "—"},
	} {
		if got := bitrate(tc.now, tc.before, tc.ms); got != tc.want {
			t.Errorf("bitrate(%v, %v, %v) = %q, want %q", tc.now, tc.before, tc.ms, got, tc.want)
		}
	}
}
