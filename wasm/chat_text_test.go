//go:build js && wasm

package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/onertc/onertc/client/jsjson"
)

func TestChatText(t *testing.T) {
	long := strings.Repeat("a", maxChatLen)
	emoji := strings.Repeat("🎥", maxChatLen)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"space around trimmed, inside kept", " \t hi  there \n", "hi  there"},
		{"only space is no message", " \n\t ", ""},
		{"empty", "", ""},
		{"exactly the limit", long, long},
		{"one over the limit", long + "b", long},
		{"the limit counts characters, not bytes", emoji + "x", emoji},
		{"a cut never splits a character", "é" + strings.Repeat("€", maxChatLen), "é" + strings.Repeat("€", maxChatLen-1)},
		{"space at the cut is trimmed", strings.Repeat("a", maxChatLen-1) + " b", strings.Repeat("a", maxChatLen-1)},
		{"markup is text", "<b>hi</b>", "<b>hi</b>"},
	} {
		got := chatText(tc.in)
		if got != tc.want {
			t.Errorf("%s: chatText = %.40q… (%d characters), want %.40q… (%d)", tc.name, got, utf8.RuneCountInString(got), tc.want, utf8.RuneCountInString(tc.want))
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: chatText gave invalid UTF-8", tc.name)
		}
	}
}

func TestMutedText(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		audio, video *bool
		want         string
	}{
		{nil, nil, ""},
		{&on, &on, ""},
		{&off, &on, "Their microphone is off"},
		{&off, nil, "Their microphone is off"},
		{&on, &off, "Their camera is off"},
		{nil, &off, "Their camera is off"},
		{&off, &off, "Their microphone and camera are off"},
	} {
		if got := mutedText(tc.audio, tc.video); got != tc.want {
			t.Errorf("mutedText(%v, %v) = %q, want %q", show(tc.audio), show(tc.video), got, tc.want)
		}
	}
}

func show(b *bool) string {
	if b == nil {
		return "unsaid"
	}
	if *b {
		return "on"
	}
	return "off"
}

// TestChannelMessages: the data channel's messages as written on the wire and read back,
// and what a peer running other code may send.
func TestChannelMessages(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		m    channelMsg
		wire string
	}{
		{channelMsg{Type: "chat", Text: `hi "you" <b>é🎥</b>`}, `{"type":"chat","text":"hi \"you\" <b>é🎥</b>"}`},
		{channelMsg{Type: "media", Audio: &off, Video: &on}, `{"type":"media","audio":false,"video":true}`},
		{channelMsg{Type: "media", Video: &off}, `{"type":"media","video":false}`},
	} {
		if got := tc.m.encode(); got != tc.wire {
			t.Errorf("encode = %s, want %s", got, tc.wire)
		}
		back, err := jsjson.Decode(tc.wire, readChannelMsg)
		if err != nil || back.Type != tc.m.Type || back.Text != tc.m.Text || show(back.Audio) != show(tc.m.Audio) || show(back.Video) != show(tc.m.Video) {
			t.Errorf("read %s = {%s %q audio %s video %s} (err %v)", tc.wire, back.Type, back.Text, show(back.Audio), show(back.Video), err)
		}
	}
	for _, tc := range []struct {
		wire, typ, text, audio, video string
		bad                           bool
	}{
		{wire: `{"type":"chat","text":"x","extra":[1]}`, typ: "chat", text: "x", audio: "unsaid", video: "unsaid"},
		{wire: `{"type":"media","audio":null,"video":true}`, typ: "media", audio: "unsaid", video: "on"},
		{wire: `{"type":"media","audio":"no"}`, typ: "media", audio: "off", video: "unsaid", bad: true},
		{wire: `{"type":"chat","text":5}`, typ: "chat", audio: "unsaid", video: "unsaid", bad: true},
		{wire: `["chat"]`, audio: "unsaid", video: "unsaid", bad: true},
		{wire: `null`, audio: "unsaid", video: "unsaid"},
		{wire: `{"type":`, audio: "unsaid", video: "unsaid", bad: true},
	} {
		m, err := jsjson.Decode(tc.wire, readChannelMsg)
		if (err != nil) != tc.bad || m.Type != tc.typ || m.Text != tc.text || show(m.Audio) != tc.audio || show(m.Video) != tc.video {
			t.Errorf("read %s = {%q %q audio %s video %s} err %v; want {%q %q audio %s video %s}, error %v",
				tc.wire, m.Type, m.Text, show(m.Audio), show(m.Video), err, tc.typ, tc.text, tc.audio, tc.video, tc.bad)
		}
	}
}
