package signal

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"golang.org/x/time/rate"

	"github.com/onertc/onertc/protocol"
)

// FuzzRelayFrames feeds arbitrary frames, split on newlines, to two sockets of one relay
// and checks the relay's invariants after each frame.
func FuzzRelayFrames(f *testing.F) {
	for _, seed := range []string{
		`{"cmd":"register","roomid":"r","clientid":"a"}` + "\n" + `{"cmd":"send","msg":"hi"}`,
		`{"cmd":"send","msg":"x"}`,
		`{"cmd":"register","roomid":"r","clientid":"b"}` + "\n" + `{"cmd":"register","roomid":"r","clientid":"b"}`,
		`{"cmd":"register","roomid":"","clientid":"\u0000"}`,
		`{"cmd":"bogus"}`,
		`{"cmd":`,
		`[1,2,3]`,
		`{"cmd":"register","roomid":"r","clientid":"c","msg":"` + string(bytes.Repeat([]byte("q"), 200)) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := New(Config{Logger: slog.New(slog.DiscardHandler)})
		newSock := func() *socket {
			return &socket{relay: r, log: r.log, dead: make(chan struct{}), finished: true,
				limits: rate.NewLimiter(rate.Inf, 1)}
		}
		socks := []*socket{newSock(), newSock()}
		for i, frame := range bytes.Split(data, []byte("\n")) {
			socks[i%2].handle(context.Background(), frame)
			r.mu.Lock()
			for id, rm := range r.rooms {
				if len(rm.clients) > protocol.RoomCapacity || len(rm.clients) == 0 {
					t.Fatalf("room %q holds %d clients", id, len(rm.clients))
				}
				if !protocol.ValidID(id) {
					t.Fatalf("room with invalid id %q", id)
				}
				for _, c := range rm.clients {
					if len(c.inbox) > protocol.MaxQueuedPerSender || c.inboxBytes > protocol.MaxQueuedBytesPerSender {
						t.Fatalf("inbox over bounds: %d msgs %d bytes", len(c.inbox), c.inboxBytes)
					}
				}
			}
			for _, s := range socks {
				for _, d := range s.direct {
					if !bytes.Contains(d.frame, []byte(`"msg":`)) || !bytes.Contains(d.frame, []byte(`"error":`)) {
						t.Fatalf("error frame without both keys: %s", d.frame)
					}
				}
			}
			r.mu.Unlock()
		}
	})
}
