package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"strings"
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
			rooms := map[string]int{}
			for key, s := range r.clients {
				if key != clientKey(s.roomID, s.clientID) || !s.registered {
					t.Fatalf("clients[%q] holds the socket of %q %q", key, s.roomID, s.clientID)
				}
				if !protocol.ValidID(s.roomID) || !protocol.ValidID(s.clientID) {
					t.Fatalf("socket registered with invalid ids %q %q", s.roomID, s.clientID)
				}
				rooms[s.roomID]++
			}
			for id, n := range rooms {
				if n > protocol.RoomCapacity || r.rooms[id] != n {
					t.Fatalf("room %q: %d sockets, counted %d", id, n, r.rooms[id])
				}
			}
			if n := r.stats.rooms.Load(); n != int64(len(r.rooms)) || len(r.rooms) != len(rooms) {
				t.Fatalf("rooms counter %d, map holds %d, sockets in %d", n, len(r.rooms), len(rooms))
			}
			if n := r.stats.online.Load(); n != int64(len(r.clients)) {
				t.Fatalf("online counter %d, clients map holds %d", n, len(r.clients))
			}
			for _, s := range socks {
				s.mu.Lock()
				direct := s.direct
				s.mu.Unlock()
				for _, d := range direct {
					if !bytes.Contains(d.frame, []byte(`"msg":`)) || !bytes.Contains(d.frame, []byte(`"error":`)) {
						t.Fatalf("error frame without both keys: %s", d.frame)
					}
				}
			}
			r.mu.Unlock()
		}
	})
}

// FuzzDecodeRequest holds the flat-frame parser to encoding/json: same value, same
// success or failure, for any input.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"cmd":"register","roomid":"r","clientid":"c"}`,
		`{"cmd":"send","msg":"{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n\"}"}`,
		` { "cmd" : "send" , "msg" : "\u00e9\u20ac\ud83d\ude00" } `,
		`{"CMD":"send"}`, `{"cmd":null}`, `{"cmd":1}`, `{"x":{"y":[1,2]},"cmd":"send"}`,
		`{"cmd":"a","cmd":"b"}`, `{}`, `[]`, `null`, `{"cmd":"a"} x`, "{\"msg\":\"\xff\"}",
		`{"msg":"tab\there"}`, `{"msg":"\ud800"}`, `{"mſg":"fold"}`, `{"cmd":"send",}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := decodeRequest(data)
		var want protocol.RelayRequest
		wantErr := json.Unmarshal(data, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json says %v", data, gotErr, wantErr)
		}
		if wantErr == nil && got != want {
			t.Fatalf("%q: got %+v, encoding/json gives %+v", data, got, want)
		}
		if fast, ok := decodeFlat(data); ok && (wantErr != nil || fast != want) {
			t.Fatalf("%q: fast path accepted %+v, encoding/json gives %+v, %v", data, fast, want, wantErr)
		}
	})
}

// FuzzMessageFrame holds the relay's own frame writer to encoding/json: the payload is what
// json.Marshal makes of the frame, under a header that frames exactly that payload.
func FuzzMessageFrame(f *testing.F) {
	for _, seed := range []string{"", "hi", `{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}`,
		"<a>&amp;</a>", "\x00\x1f\x7f", "é€😀", "\u2028\u2029", "\xff\xfe", "\xed\xa0\x80", strings.Repeat("x", 70000)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		want, err := json.Marshal(protocol.RelayFrame{Msg: msg})
		if err != nil {
			t.Fatal(err)
		}
		frame := appendMessageFrame([]byte("prefix"), msg)[len("prefix"):]
		if frame[0] != 0x80|opText {
			t.Fatalf("%q: first byte %#x, want FIN and text", msg, frame[0])
		}
		n, hdr := int(frame[1]), 2
		switch n {
		case 126:
			n, hdr = int(binary.BigEndian.Uint16(frame[2:])), 4
		case 127:
			n, hdr = int(binary.BigEndian.Uint64(frame[2:])), 10
		}
		if n < 126 && hdr != 2 || n > 0xffff && hdr != 10 {
			t.Fatalf("%q: length %d not in its shortest form", msg, n)
		}
		if payload := frame[hdr:]; len(payload) != n || !bytes.Equal(payload, want) {
			t.Fatalf("%q: frame of %d bytes carries %s, encoding/json gives %s", msg, n, payload, want)
		}
	})
}
