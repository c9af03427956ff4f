package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pion/webrtc/v3"
)

// The frames the load client sends, against the shapes galene-protocol.md documents
// (compared as JSON objects: key order does not matter, absent and empty fields do).
func TestGaleneFramesSent(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    galeneMessage
		want string
	}{
		{"handshake", galeneMessage{Type: galeneHandshake, Version: []string{galeneVersion}, ID: "load0"},
			`{"type":"handshake","version":["2"],"id":"load0"}`},
		{"join", galeneMessage{Type: galeneJoin, Kind: galeneKindJoin, Group: "bench/sfubench0", Username: "load0"},
			`{"type":"join","kind":"join","group":"bench/sfubench0","username":"load0"}`},
		{"request everything", galeneMessage{Type: galeneRequest, Request: map[string][]string{"": {"audio", "video"}}},
			`{"type":"request","request":{"":["audio","video"]}}`},
		{"offer", galeneMessage{Type: galeneOffer, ID: "up-load0", Label: "camera", SDP: "v=0\r\n"},
			`{"type":"offer","id":"up-load0","label":"camera","sdp":"v=0\r\n"}`},
		{"answer", galeneMessage{Type: galeneAnswer, ID: "d1", SDP: "v=0\r\n"},
			`{"type":"answer","id":"d1","sdp":"v=0\r\n"}`},
		{"pong", galeneMessage{Type: galenePong}, `{"type":"pong"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("encoded %s, want %s", b, tc.want)
			}
		})
	}
}

// The frames Galène sends, decoded, and what the load client makes of each.
func TestGaleneFramesReceived(t *testing.T) {
	line := uint16(0)
	mid := "0"
	for _, tc := range []struct {
		name    string
		frame   string
		want    galeneMessage
		joins   bool   // the frame completes the join
		wantErr string // handling it fails the participant with this in the error
	}{
		{"joined", `{"type":"joined","kind":"join","group":"bench/sfubench0","username":"load0","permissions":["present"],"status":{"name":"bench/sfubench0"}}`,
			galeneMessage{Type: galeneJoined, Kind: galeneKindJoin, Group: "bench/sfubench0", Username: "load0", Permissions: []string{"present"}}, true, ""},
		{"join refused", `{"type":"joined","kind":"fail","error":"duplicate-username","group":"bench/sfubench0","username":"load0","value":"this username is taken"}`,
			galeneMessage{Type: galeneJoined, Kind: galeneKindFail, Error: "duplicate-username", Group: "bench/sfubench0", Username: "load0", Value: json.RawMessage(`"this username is taken"`)},
			false, "join refused: this username is taken (duplicate-username)"},
		{"down offer", `{"type":"offer","id":"d1","label":"camera","source":"load1","username":"load1","sdp":"v=0\r\n"}`,
			galeneMessage{Type: galeneOffer, ID: "d1", Label: "camera", Source: "load1", Username: "load1", SDP: "v=0\r\n"}, false, ""},
		{"ice", `{"type":"ice","id":"d1","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.2 40000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
			galeneMessage{Type: galeneICE, ID: "d1", Candidate: &webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2130706431 192.0.2.2 40000 typ host", SDPMid: &mid, SDPMLineIndex: &line}}, false, ""},
		{"abort of our stream", `{"type":"abort","id":"up-load0"}`,
			galeneMessage{Type: galeneAbort, ID: "up-load0"}, false, "aborted the published stream"},
		{"abort of another", `{"type":"abort","id":"other"}`, galeneMessage{Type: galeneAbort, ID: "other"}, false, ""},
		{"error message", `{"type":"usermessage","kind":"error","dest":"load0","privileged":true,"value":"not authorised"}`,
			galeneMessage{Type: galeneUserMsg, Kind: galeneKindError, Value: json.RawMessage(`"not authorised"`)}, false, "galene error: not authorised"},
		{"chat, ignored", `{"type":"chat","source":"load1","username":"load1","value":"hello","time":"2026-01-01T00:00:00Z"}`,
			galeneMessage{Type: "chat", Source: "load1", Username: "load1", Value: json.RawMessage(`"hello"`)}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got galeneMessage
			if err := json.Unmarshal([]byte(tc.frame), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded %+v, want %+v", got, tc.want)
			}
			if got.Type == galeneOffer || got.Type == galeneICE {
				return // handled on a PeerConnection: the benchmark's check run covers these
			}
			s := &galeneSocket{jsonConn: jsonConn{p: &Participant{Name: "load0"}}, upID: "up-load0"}
			joined := make(chan struct{})
			err := s.handle(got, &joined)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("handling: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("handling: error %v, want one with %q", err, tc.wantErr)
			}
			if (joined == nil) != tc.joins {
				t.Errorf("joined: %v, want %v", joined == nil, tc.joins)
			}
		})
	}
}
