package sfu

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/protocol"
)

func isChat(m protocol.GroupMessage) bool { return m.Type == protocol.GroupChat }

// chats is what c received as chat frames, in order.
func chats(c *sfutest.Client) []protocol.GroupMessage {
	var out []protocol.GroupMessage
	for _, m := range c.Messages() {
		if isChat(m) {
			out = append(out, m)
		}
	}
	return out
}

func TestChatReachesTheOthersNotTheSender(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.join("chat", "a", sfutest.Options{})
	b := h.join("chat", "b", sfutest.Options{})
	c := h.join("chat", "c", sfutest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tests := []struct {
		name string
		from *sfutest.Client
		text string
		want string // as the others receive it
	}{
		{"plain", a, "hello from a", "hello from a"},
		{"surrounding space trimmed", b, "  hi a\n", "hi a"},
		{"markup passed as text", c, "<b>not bold</b> & 🎉", "<b>not bold</b> & 🎉"},
		{"at the limit", a, strings.Repeat("ж", protocol.MaxChatChars), strings.Repeat("ж", protocol.MaxChatChars)},
	}
	all := []*sfutest.Client{a, b, c}
	for _, tc := range tests {
		marks := map[*sfutest.Client]int{}
		for _, x := range all {
			marks[x] = x.Mark()
		}
		if err := tc.from.Send(protocol.GroupMessage{Type: protocol.GroupChat, Text: tc.text}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, x := range all {
			if x == tc.from {
				continue
			}
			m, err := x.WaitFrom(ctx, marks[x], isChat)
			if err != nil {
				t.Fatalf("%s: %s got no chat: %v", tc.name, x.ID, err)
			}
			if m.Participant != tc.from.ID || m.Name != tc.from.ID || m.Text != tc.want {
				t.Fatalf("%s: %s got %+v, want from %s with text %q", tc.name, x.ID, m, tc.from.ID, tc.want)
			}
		}
	}
	// A last frame that everyone answers, so that a chat echoed to its sender would have
	// arrived by now.
	muted := true
	if err := a.Send(protocol.GroupMessage{Type: protocol.GroupState, Muted: &muted}); err != nil {
		t.Fatal(err)
	}
	for _, x := range all {
		if _, err := x.WaitFor(ctx, func(m protocol.GroupMessage) bool {
			return m.Type == protocol.GroupParticipants && len(m.Participants) == 3 && m.Participants[0].Muted
		}); err != nil {
			t.Fatalf("%s: no participant list after a's state: %v", x.ID, err)
		}
	}
	for _, x := range all {
		got := chats(x)
		for _, m := range got {
			if m.Participant == x.ID {
				t.Errorf("%s received its own chat %q", x.ID, m.Text)
			}
		}
		sent := 0
		for _, tc := range tests {
			if tc.from == x {
				sent++
			}
		}
		if len(got) != len(tests)-sent {
			t.Errorf("%s received %d chats, want %d", x.ID, len(got), len(tests)-sent)
		}
	}
}

func TestBadChatGetsAnErrorAndTheRoomGoesOn(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.join("badchat", "a", sfutest.Options{})
	b := h.join("badchat", "b", sfutest.Options{})
	c := h.join("badchat", "c", sfutest.Options{})
	tests := []struct {
		name  string
		frame string
		code  string
	}{
		{"empty", `{"type":"chat","text":""}`, protocol.GroupErrBadField},
		{"blank", `{"type":"chat","text":"   "}`, protocol.GroupErrBadField},
		{"no text", `{"type":"chat"}`, protocol.GroupErrBadField},
		{"over the limit", `{"type":"chat","text":"` + strings.Repeat("x", protocol.MaxChatChars+1) + `"}`, protocol.GroupErrBadField},
		{"text not a string", `{"type":"chat","text":["x"]}`, protocol.GroupErrMalformed},
	}
	for i, tc := range tests {
		if err := a.SendRaw([]byte(tc.frame)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := nthError(t, a, i+1); got.Code != tc.code || got.Message == "" {
			t.Fatalf("%s: error frame %+v, want code %q with a message", tc.name, got, tc.code)
		}
	}
	// The same socket still chats, and the others got nothing of the bad frames.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Send(protocol.GroupMessage{Type: protocol.GroupChat, Text: "still here"}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*sfutest.Client{b, c} {
		m, err := x.WaitFor(ctx, isChat)
		if err != nil || m.Text != "still here" || m.Participant != "a" {
			t.Fatalf("%s: first chat %+v (%v), want a's \"still here\"", x.ID, m, err)
		}
		for _, m := range x.Messages() {
			if m.Type == protocol.GroupError {
				t.Fatalf("%s got an error frame meant for a: %+v", x.ID, m)
			}
		}
	}
	if a.SocketClosed() {
		t.Fatal("a's socket closed after bad chats")
	}
}
