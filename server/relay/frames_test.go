package relay

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// TestRelayFrameErrors: each bad frame gets its error frame; the fatal ones close the
// socket, the others leave it usable.
func TestRelayFrameErrors(t *testing.T) {
	kinds := stateKinds(t)
	const c = "joined" // the client id the room table holds
	tests := []struct {
		name       string
		frames     []string
		wantError  string
		wantClosed bool
	}{
		{"malformed JSON", []string{`{"cmd":`}, "Invalid message: malformed JSON", true},
		{"send before register", []string{`{"cmd":"send","msg":"hi"}`}, protocol.ErrTextNotRegistered, true},
		{"register without clientid", []string{`{"cmd":"register","roomid":"r"}`}, protocol.ErrTextInvalidRegister, true},
		{"register without roomid", []string{`{"cmd":"register","clientid":"c"}`}, protocol.ErrTextInvalidRegister, true},
		{"register with bad id", []string{`{"cmd":"register","roomid":"a/b","clientid":"c"}`}, "Invalid register request: bad 'clientid' or 'roomid'", true},
		{"register of a client that never joined", []string{`{"cmd":"register","roomid":"r","clientid":"stranger"}`}, protocol.ErrTextUnknownClient, true},
		{"register in another room than joined", []string{`{"cmd":"register","roomid":"other","clientid":"` + c + `"}`}, protocol.ErrTextUnknownClient, true},
		{"double register", []string{`{"cmd":"register","roomid":"r","clientid":"` + c + `"}`, `{"cmd":"register","roomid":"r","clientid":"` + c + `"}`}, protocol.ErrTextDuplicateRegister, true},
		{"send without msg", []string{`{"cmd":"register","roomid":"r","clientid":"` + c + `"}`, `{"cmd":"send"}`}, protocol.ErrTextMissingMsg, true},
		{"unknown cmd keeps the socket", []string{`{"cmd":"dance"}`}, protocol.ErrTextUnexpectedCmd, false},
		{"message too large keeps the socket", []string{`{"cmd":"register","roomid":"r","clientid":"` + c + `"}`, `{"cmd":"send","msg":"` + strings.Repeat("y", protocol.MaxMessageBytes+1) + `"}`}, ErrTooLarge.Error(), false},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				rg := newRig(t, kind, Config{})
				rg.join(t, "r", c)
				p := rg.dial(t)
				for _, f := range tt.frames {
					if err := p.ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
						t.Fatal(err)
					}
				}
				p.expectError(t, tt.wantError)
				if tt.wantClosed {
					p.expectEnd(t, websocket.CloseNormalClosure)
					return
				}
				p.quiet(t)
				p.write(t, protocol.RelayRequest{Cmd: "again"})
				p.expectError(t, protocol.ErrTextUnexpectedCmd)
			})
		}
		t.Run(kind.name+"/oversized frame closes the socket", func(t *testing.T) {
			rg := newRig(t, kind, Config{})
			p := rg.dial(t)
			big := `{"cmd":"send","msg":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`
			if err := p.ws.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.ended:
			case <-time.After(frameWait):
				t.Fatal("socket still open after an oversized frame")
			}
		})
	}
}

// TestRelayBurstCutBeforePongComesAgain: messages are confirmed by a pong that may come a
// burst later (one ping covers many messages). A client that read a burst but whose
// connection died before it answered the ping gets the whole burst again on its next
// socket, in order, exactly once.
func TestRelayBurstCutBeforePongComesAgain(t *testing.T) {
	for _, kind := range stateKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			rg := newRig(t, kind, Config{})
			rg.join(t, "burst", "A")
			rg.join(t, "burst", "B")
			a := rg.register(t, "burst", "A")
			// B reads but never answers a ping, as a connection that died on the way back.
			b := rg.dialWith(t, func(c *websocket.Conn) { c.SetPingHandler(func(string) error { return nil }) })
			b.write(t, protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: "burst", ClientID: "B"})
			rg.online(t, 2)
			const n = 40
			for i := range n {
				a.send(t, "m"+strconv.Itoa(i))
			}
			for i := range n {
				b.expect(t, "m"+strconv.Itoa(i))
			}
			// Without a pong nothing is confirmed, however many bursts and pings went out.
			// (Pending counts one more while the writer may still look for more: a fetch
			// that filled its batch wakes it once again.)
			testsync.Eventually(t, frameWait, "B's 40 messages held unconfirmed", func() bool { return rg.relay.Pending("burst", "B") == n })
			time.Sleep(100 * time.Millisecond)
			if got := rg.relay.Pending("burst", "B"); got != n {
				t.Fatalf("unconfirmed messages held for B = %d, want %d", got, n)
			}
			b.ws.Close()
			b2 := rg.register(t, "burst", "B")
			for i := range n {
				b2.expect(t, "m"+strconv.Itoa(i))
			}
			b2.quiet(t)
			a.send(t, "after")
			b2.expect(t, "after")
			testsync.Eventually(t, frameWait, "B2 confirmed everything", func() bool { return rg.relay.Pending("burst", "B") == 0 })
			if st := rg.relay.Stats(); st.Relayed != n+1 {
				t.Fatalf("relayed = %d, want %d: each message confirmed once", st.Relayed, n+1)
			}
		})
	}
}

// TestRelaySlowPeerDoesNotStallOthers: a socket that never reads must not stall relaying in
// other rooms; its sender is told when the queue is full.
func TestRelaySlowPeerDoesNotStallOthers(t *testing.T) {
	for _, kind := range stateKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			rg := newRig(t, kind, Config{})
			rg.join(t, "slow", "A")
			rg.join(t, "slow", "B")
			sender := rg.register(t, "slow", "A")
			stuck, _, err := websocket.DefaultDialer.Dial(rg.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer stuck.Close()
			if err := stuck.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: "slow", ClientID: "B"}); err != nil {
				t.Fatal(err)
			}
			rg.online(t, 2)
			chunk := strings.Repeat("z", 60<<10)
			for range 300 { // 18 MB: more than loopback socket buffers and the queue bound
				sender.send(t, chunk)
			}
			deadline := time.After(10 * time.Second)
			for sawFull := false; !sawFull; {
				select {
				case f := <-sender.frames:
					sawFull = f.Error == ErrQueueFull.Error()
				case <-deadline:
					t.Fatal("sender was not told the queue is full")
				}
			}
			// Meanwhile another room relays normally.
			rg.join(t, "fast", "X")
			rg.join(t, "fast", "Y")
			x, y := rg.register(t, "fast", "X"), rg.register(t, "fast", "Y")
			// Generous: under -race on a loaded machine the relay may still be parsing the
			// sender's 18 MB; a stalled relay would never get there at all.
			testsync.Eventually(t, 30*time.Second, "fast room online", func() bool { return rg.relay.Stats().Online == 4 })
			for range 50 {
				x.send(t, "ping")
				y.expect(t, "ping")
			}
		})
	}
}

// TestRelayOriginPolicy: a handshake without Origin (native apps, bots), from the relay's
// own host or from a listed origin is taken; any other browser origin gets 403.
func TestRelayOriginPolicy(t *testing.T) {
	kind := stateKinds(t)[0] // the handshake is the relay's alone
	rg := newRig(t, kind, Config{CheckOrigin: SameOrigin([]string{"https://app.example"}, nil)})
	host := strings.TrimPrefix(rg.http, "http://")
	for _, tt := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://app.example", true},
		{"https://APP.example", true},
		{"https://evil.example", false},
		{"http://" + host + ".evil.example", false},
	} {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial(rg.url, h)
		if tt.ok != (err == nil) {
			t.Errorf("origin %q: err=%v, want ok=%v", tt.origin, err, tt.ok)
		}
		if err == nil {
			conn.Close()
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: response %v, want 403", tt.origin, resp)
		}
	}
}
