//go:build !js

package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in         string
		wantType   string
		wantReason string // "" when accepted
	}{
		{`{"type":"offer","sdp":"v=0"}`, TypeOffer, ""},
		{`{"type":"offer"}`, "", "offer without sdp"},
		{`{"type":"answer","sdp":"v=0"}`, TypeAnswer, ""},
		{`{"type":"candidate","candidate":"candidate:1"}`, TypeCandidate, ""},
		{`{"type":"candidate"}`, "", "candidate without candidate line"},
		{`{"type":"bye"}`, TypeBye, ""},
		{`{"type":"group","url":"wss://x/group/r/c"}`, TypeGroup, ""},
		{`{"type":"group"}`, "", "group without url"},
		{`{"type":"group-ready"}`, TypeGroupReady, ""},
		{`{"type":"renegotiate"}`, "", "unknown type renegotiate"},
		{`{`, "", "malformed JSON"},
		{`{"type":"bye","sdp":"` + strings.Repeat("a", MaxMessageBytes) + `"}`, "", "message too large"},
	}
	for _, tt := range tests {
		s, err := ParseSignal(tt.in)
		var se *SignalError
		switch {
		case tt.wantReason == "" && err != nil:
			t.Errorf("%.60s: %v", tt.in, err)
		case tt.wantReason == "" && s.Type != tt.wantType:
			t.Errorf("%.60s: type %q, want %q", tt.in, s.Type, tt.wantType)
		case tt.wantReason != "" && (!errors.As(err, &se) || se.Reason != tt.wantReason):
			t.Errorf("%.60s: err %v, want %q", tt.in, err, tt.wantReason)
		}
	}
}
