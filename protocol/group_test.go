//go:build !js

package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseGroupMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code string // "" = accepted
	}{
		{"join", `{"type":"join"}`, ""},
		{"bye", `{"type":"bye"}`, ""},
		{"up offer", `{"type":"offer","pc":"up","sdp":"v=0"}`, ""},
		{"down answer", `{"type":"answer","pc":"down","sdp":"v=0"}`, ""},
		{"candidate", `{"type":"candidate","pc":"down","candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}}`, ""},
		{"view", `{"type":"view","participant":"a-1","width":640,"height":360}`, ""},
		{"view of unknown size", `{"type":"view","participant":"a"}`, ""},
		{"state", `{"type":"state","muted":false}`, ""},
		{"not JSON", `{`, GroupErrMalformed},
		{"an array", `[]`, GroupErrMalformed},
		{"no type", `{"pc":"up"}`, GroupErrMalformed},
		{"type of the wrong kind", `{"type":1}`, GroupErrMalformed},
		{"unknown type", `{"type":"hello"}`, GroupErrUnknownType},
		{"server type from a client", `{"type":"speaker"}`, GroupErrUnknownType},
		{"down offer", `{"type":"offer","pc":"down","sdp":"v=0"}`, GroupErrBadField},
		{"offer without pc", `{"type":"offer","sdp":"v=0"}`, GroupErrBadField},
		{"blank sdp", `{"type":"offer","pc":"up","sdp":"  "}`, GroupErrBadField},
		{"up answer", `{"type":"answer","pc":"up","sdp":"v=0"}`, GroupErrBadField},
		{"candidate without pc", `{"type":"candidate","candidate":{"candidate":"x"}}`, GroupErrBadField},
		{"candidate without candidate", `{"type":"candidate","pc":"up"}`, GroupErrBadField},
		{"view without participant", `{"type":"view","width":1}`, GroupErrBadField},
		{"view too wide", `{"type":"view","participant":"a","width":16385}`, GroupErrBadField},
		{"view negative", `{"type":"view","participant":"a","height":-5}`, GroupErrBadField},
		{"empty state", `{"type":"state"}`, GroupErrBadField},
		{"chat", `{"type":"chat","text":"hello"}`, ""},
		{"chat at the limit", `{"type":"chat","text":"` + strings.Repeat("é", MaxChatChars) + `"}`, ""},
		{"chat over the limit", `{"type":"chat","text":"` + strings.Repeat("a", MaxChatChars+1) + `"}`, GroupErrBadField},
		{"chat without text", `{"type":"chat"}`, GroupErrBadField},
		{"blank chat", `{"type":"chat","text":" \n\t"}`, GroupErrBadField},
		{"chat text not a string", `{"type":"chat","text":5}`, GroupErrMalformed},
		{"too large", `{"type":"join","message":"` + strings.Repeat("x", MaxGroupFrameBytes) + `"}`, GroupErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGroupMessage([]byte(tc.in))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ge *GroupFrameError
			if !errors.As(err, &ge) || ge.Code != tc.code || ge.Reason == "" {
				t.Fatalf("error %v, want code %q with a reason", err, tc.code)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Ada", true},
		{"Zoë 🎉", true},
		{"", false},
		{strings.Repeat("a", MaxNameLen), true},
		{strings.Repeat("a", MaxNameLen+1), false},
		{"tab\there", false},
		{"del\x7f", false},
		{"bad \xff utf-8", false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.in); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseGroupMessage: whatever the parser accepts re-encodes to a frame it accepts
// again, with the same meaning; it never panics.
func FuzzParseGroupMessage(f *testing.F) {
	for _, s := range []string{`{"type":"join"}`, `{"type":"offer","pc":"up","sdp":"v=0"}`, `{"type":"view","participant":"a","width":3}`, `{"type":"state","muted":true}`, `{"type":"candidate","pc":"up","candidate":{"candidate":"c"}}`, `{"type":"chat","text":"hi"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseGroupMessage(data)
		if err != nil {
			var ge *GroupFrameError
			if !errors.As(err, &ge) || ge.Code == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseGroupMessage(b)
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", b, err)
		}
		if again.Type != m.Type || again.PC != m.PC || again.SDP != m.SDP || again.Participant != m.Participant || again.Width != m.Width || again.Text != m.Text {
			t.Fatalf("re-encoding changed %+v into %+v", m, again)
		}
	})
}
