//go:build !js

package client

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestOfferTracks(t *testing.T) {
	sdp := func(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }
	head := []string{"v=0", "o=- 1 2 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2"}
	for _, tt := range []struct {
		name string
		sdp  string
		want []GroupTrack
	}{
		{"no media", sdp(head...), nil},
		{"two publishers", sdp(append(head,
			"m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=sendonly", "a=msid:alice audio-alice",
			"m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1", "a=sendonly", "a=msid:alice video-alice",
			"m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:2", "a=sendonly", "a=msid:bob screen-bob")...),
			[]GroupTrack{{"alice", "audio-alice", "audio"}, {"alice", "video-alice", "video"}, {"bob", "screen-bob", "video"}}},
		{"a stopped section and a rejected one are gone", sdp(append(head,
			"m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=inactive", "a=msid:alice audio-alice",
			"m=video 0 UDP/TLS/RTP/SAVPF 96", "a=mid:1", "a=msid:alice video-alice",
			"m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:2", "a=sendonly", "a=msid:bob video-bob")...),
			[]GroupTrack{{"bob", "video-bob", "video"}}},
		{"no msid, a data section, LF only", strings.Join(append(head,
			"m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=sendonly",
			"m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=msid:x y"), "\n"), nil},
		{"garbage", "m=\nm=video\na=msid:only-one-field\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := offerTracks(tt.sdp); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("offerTracks = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGroupSocketURL(t *testing.T) {
	for _, tt := range []struct {
		raw, name, want string
		bad             bool
	}{
		{raw: "wss://h/group/r/c", want: "wss://h/group/r/c"},
		{raw: "ws://h:8080/group/r/c", name: "Zoë & co", want: "ws://h:8080/group/r/c?name=Zo%C3%AB+%26+co"},
		{raw: "https://h/group/r/c", bad: true},
		{raw: "ws://h/%zz", bad: true},
		{raw: "ws://h/%4", bad: true},
		{raw: "", bad: true},
		{raw: "ws://", bad: true},
		{raw: "ws:///group/r/c", bad: true},
		{raw: "ws://h/a b", bad: true},
		{raw: "ws://h/a#b", bad: true},
		{raw: "wss://h/group/r/c?x=1", name: "a/b~c", want: "wss://h/group/r/c?x=1&name=a%2Fb~c"},
		{raw: "wss://h/group/r/c", name: "日本", want: "wss://h/group/r/c?name=%E6%97%A5%E6%9C%AC"},
	} {
		got, err := groupSocketURL(tt.raw, tt.name)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("groupSocketURL(%q, %q) = %q, %v; want %q, bad %v", tt.raw, tt.name, got, err, tt.want, tt.bad)
		}
	}
}

func TestNewGroupSessionChecksConfig(t *testing.T) {
	tr, err := NewHTTPTransport("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := GroupConfig{URL: "ws://h/group/r/c", Dialer: tr, NewDown: func(context.Context, PeerConfig) (Peer, error) { return nil, nil }}
	for _, tt := range []struct {
		name   string
		mutate func(*GroupConfig)
		bad    bool
	}{
		{"complete", func(*GroupConfig) {}, false},
		{"no URL", func(c *GroupConfig) { c.URL = "" }, true},
		{"no dialer", func(c *GroupConfig) { c.Dialer = nil }, true},
		{"no down factory", func(c *GroupConfig) { c.NewDown = nil }, true},
		{"bad name", func(c *GroupConfig) { c.Name = "a\x00b" }, true},
	} {
		c := ok
		tt.mutate(&c)
		_, err := NewGroupSession(c)
		if (err != nil) != tt.bad || (err != nil && !errors.Is(err, ErrBadConfig)) {
			t.Errorf("%s: NewGroupSession: %v, want bad %v", tt.name, err, tt.bad)
		}
	}
}

// queryEscape spells a name as net/url does, so the server reads it back unchanged.
func TestQueryEscapeMatchesNetURL(t *testing.T) {
	inputs := []string{"", "Zoë & co", "a+b=c?d#e/f", "~-_.", "日本語 テスト", "\x00\x7f\xff", "100%", "Guest k7qz"}
	for b := 0; b < 256; b++ {
		inputs = append(inputs, string([]byte{byte(b)}))
	}
	for _, in := range inputs {
		if got, want := queryEscape(in), url.QueryEscape(in); got != want {
			t.Errorf("queryEscape(%q) = %q, net/url says %q", in, got, want)
		}
	}
}
