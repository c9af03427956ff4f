package server

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

func TestRelayErrors(t *testing.T) {
	big := `{"cmd":"send","msg":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`
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
		{"register in another room than joined", []string{`{"cmd":"register","roomid":"other","clientid":"{c}"}`}, protocol.ErrTextUnknownClient, true},
		{"double register", []string{`{"cmd":"register","roomid":"r","clientid":"{c}"}`, `{"cmd":"register","roomid":"r","clientid":"{c}"}`}, protocol.ErrTextDuplicateRegister, true},
		{"send without msg", []string{`{"cmd":"register","roomid":"r","clientid":"{c}"}`, `{"cmd":"send"}`}, protocol.ErrTextMissingMsg, true},
		{"unknown cmd keeps the socket", []string{`{"cmd":"dance"}`}, protocol.ErrTextUnexpectedCmd, false},
		{"message too large", []string{`{"cmd":"register","roomid":"r","clientid":"{c}"}`, `{"cmd":"send","msg":"` + strings.Repeat("y", protocol.MaxMessageBytes+1) + `"}`}, "Message too large", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, nil)
			joined := ts.join(t, "r").ClientID // {c} in the frames
			c := ts.dial(t)
			for _, f := range tt.frames {
				c.sendRaw([]byte(strings.ReplaceAll(f, "{c}", joined)))
			}
			f := c.next()
			if f.Error != tt.wantError || f.Msg != "" {
				t.Fatalf("frame = %+v, want error %q", f, tt.wantError)
			}
			if tt.wantClosed {
				c.expectClosed()
			} else {
				c.expectNothing(100 * time.Millisecond)
				c.sendRaw([]byte(`{"cmd":"again"}`))
				if f := c.next(); f.Error != protocol.ErrTextUnexpectedCmd {
					t.Fatalf("socket not usable after a non-fatal error: %+v", f)
				}
			}
		})
	}
	t.Run("oversized frame closes the socket", func(t *testing.T) {
		ts := startServer(t, nil)
		c := ts.dial(t)
		c.sendRaw([]byte(big))
		c.expectClosed()
	})
}

func TestRelayStrangersAndDuplicates(t *testing.T) {
	strangersAndDuplicates(t, single(startServer(t, nil)))
}

func TestSharedRelayStrangersAndDuplicates(t *testing.T) {
	strangersAndDuplicates(t, startFleet(t, 3, nil))
}

func strangersAndDuplicates(t *testing.T, f *fleet) {
	ts := f.next
	idA, idB := ts().join(t, "cap").ClientID, ts().join(t, "cap").ClientID
	a, b := ts().dial(t), ts().dial(t)
	a.register("cap", idA)
	b.register("cap", idB)
	testsync.Eventually(t, 5*time.Second, "two online", func() bool { return f.online() == 2 })

	// A third party never got past /join (FULL), so the relay does not know it.
	third := ts().dial(t)
	third.register("cap", "C")
	if f := third.next(); f.Error != protocol.ErrTextUnknownClient {
		t.Fatalf("third = %+v, want %q", f, protocol.ErrTextUnknownClient)
	}
	third.expectClosed()

	// A second register of A is a reconnect: the new socket takes over, the old is told.
	a2 := f.otherThan(a.server).dial(t)
	a2.register("cap", idA)
	if f := a.next(); f.Error != protocol.ErrTextDuplicateClient {
		t.Fatalf("replaced socket got %+v, want %q", f, protocol.ErrTextDuplicateClient)
	}
	a.expectClosed()

	// Nothing else changed: A (on its new socket) and B still talk.
	a2.sendMsg("hello")
	b.expectMsg("hello")
	b.sendMsg("back")
	a2.expectMsg("back")
	a2.expectNothing(50 * time.Millisecond) // no echo
	if n, occ := f.online(), ts().occupancy(t, "cap"); n != 2 || occ != 2 {
		t.Fatalf("after refusals: %d online, %d in the room; want 2 and 2", n, occ)
	}
}

func TestRelayQueuesUntilRegisterAndAcrossReconnect(t *testing.T) {
	queuesAcrossReconnect(t, single(startServer(t, func(c *Config) { c.RelayGrace = 2 * time.Second })))
}

func TestSharedRelayQueuesUntilRegisterAndAcrossReconnect(t *testing.T) {
	queuesAcrossReconnect(t, startFleet(t, 3, func(c *Config) { c.RelayGrace = 2 * time.Second }))
}

func queuesAcrossReconnect(t *testing.T, f *fleet) {
	ts := f.next
	idA, idB := ts().join(t, "q").ClientID, ts().join(t, "q").ClientID
	a := ts().dial(t)
	a.register("q", idA)
	testsync.Eventually(t, 5*time.Second, "A online", func() bool { return f.online() == 1 })
	// B has joined but not registered yet: what A sends, on its socket or with /message,
	// waits for B in order.
	a.sendMsg("1")
	a.sendMsg("2")
	// The socket and /message are two channels: order across them is the server's arrival order.
	testsync.Eventually(t, 5*time.Second, "two messages queued for B", func() bool { return f.queued() == 2 })
	if res := ts().message(t, "q", idA, "3"); res != protocol.ResultSuccess {
		t.Fatalf("/message while B is not registered = %s", res)
	}
	testsync.Eventually(t, 5*time.Second, "three messages queued for B", func() bool { return f.queued() == 3 })
	b := ts().dial(t)
	b.register("q", idB)
	for _, m := range []string{"1", "2", "3"} {
		b.expectMsg(m)
	}
	testsync.Eventually(t, 5*time.Second, "B's messages confirmed", func() bool { return f.pending("q", idB) == 0 })

	// B's socket drops: what A sends meanwhile comes on B's next socket.
	b.conn.Close()
	testsync.Eventually(t, 5*time.Second, "B offline", func() bool { return f.online() == 1 })
	for _, m := range []string{"4", "5", "6"} {
		a.sendMsg(m)
	}
	b2 := f.otherThan(b.server).dial(t)
	b2.register("q", idB)
	for _, m := range []string{"4", "5", "6"} {
		b2.expectMsg(m)
	}
}

// Messages are confirmed by a pong that may come a burst later (one ping covers many
// messages). A client that read a burst but whose connection died before it answered the
// ping must get the whole burst again on its next socket, in order, exactly once.
func TestRelayBurstCutBeforePongComesAgain(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RelayGrace = 5 * time.Second })
	a, b := ts.join(t, "burst"), ts.join(t, "burst")
	wsA := ts.dial(t)
	wsA.register("burst", a.ClientID)
	// B reads but never answers a ping, as a connection that died on the way back.
	wsB := ts.dialWith(t, func(c *websocket.Conn) { c.SetPingHandler(func(string) error { return nil }) })
	wsB.register("burst", b.ClientID)
	testsync.Eventually(t, 5*time.Second, "both online", func() bool { return ts.relay.Stats().Online == 2 })
	const n = 40
	for i := range n {
		wsA.sendMsg("m" + strconv.Itoa(i))
	}
	for i := range n {
		wsB.expectMsg("m" + strconv.Itoa(i))
	}
	// Without a pong nothing is confirmed, however many bursts and pings went out.
	if got := ts.relay.Pending("burst", b.ClientID); got != n {
		t.Fatalf("unconfirmed messages held for B = %d, want %d", got, n)
	}
	wsB.conn.Close()
	wsB2 := ts.dial(t)
	wsB2.register("burst", b.ClientID)
	for i := range n {
		wsB2.expectMsg("m" + strconv.Itoa(i))
	}
	wsB2.expectNothing(300 * time.Millisecond)
	wsA.sendMsg("after")
	wsB2.expectMsg("after")
	testsync.Eventually(t, 5*time.Second, "B2 confirmed everything", func() bool { return ts.relay.Pending("burst", b.ClientID) == 0 })
}

// A socket that never reads must not stall relaying in other rooms; its sender is told
// when the queue is full.
func TestRelaySlowPeerDoesNotStallOthers(t *testing.T) {
	ts := startServer(t, nil)
	idA, idB := ts.join(t, "slow").ClientID, ts.join(t, "slow").ClientID
	sender := ts.dial(t)
	sender.register("slow", idA)
	stuck, _, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	if err := stuck.WriteJSON(protocol.RelayRequest{Cmd: "register", RoomID: "slow", ClientID: idB}); err != nil {
		t.Fatal(err)
	}
	testsync.Eventually(t, 5*time.Second, "both online", func() bool { return ts.relay.Stats().Online == 2 })
	chunk := strings.Repeat("z", 60<<10)
	for i := 0; i < 300; i++ { // 18 MB: more than loopback socket buffers and the queue bound
		sender.sendMsg(chunk)
	}
	sawFull := false
	deadline := time.After(10 * time.Second)
	for !sawFull {
		select {
		case f := <-sender.frames:
			sawFull = f.Error == "Message queue full"
		case <-deadline:
			t.Fatal("sender was not told the queue is full")
		}
	}
	// Meanwhile another room relays normally.
	idX, idY := ts.join(t, "fast").ClientID, ts.join(t, "fast").ClientID
	x, y := ts.dial(t), ts.dial(t)
	x.register("fast", idX)
	y.register("fast", idY)
	// Generous: under -race with GOMAXPROCS=1 on a loaded machine, the server may still be
	// parsing the sender's 18 MB; a stalled relay would never get there at all.
	testsync.Eventually(t, 30*time.Second, "fast room online", func() bool { return ts.relay.Stats().Online == 4 })
	for i := 0; i < 50; i++ {
		x.sendMsg("ping")
		y.expectMsg("ping")
	}
}

func TestRelayHTTPSendAndDelete(t *testing.T) {
	httpSendAndDelete(t, single(startServer(t, nil)))
}

func TestSharedRelayHTTPSendAndDelete(t *testing.T) {
	httpSendAndDelete(t, startFleet(t, 3, nil))
}

func httpSendAndDelete(t *testing.T, f *fleet) {
	ts := f.next
	idA, idB := ts().join(t, "h").ClientID, ts().join(t, "h").ClientID
	b := ts().dial(t)
	b.register("h", idB)
	status, body := ts().post(t, "/collider/h/"+idA, "via http")
	if status != 200 || body != "OK\n" {
		t.Fatalf("POST /collider = %d %q", status, body)
	}
	b.expectMsg("via http")

	a := ts().dial(t)
	a.register("h", idA)
	a.sendMsg("bye-soon")
	b.expectMsg("bye-soon")

	// DELETE overtakes A's bye: the bye is still delivered.
	a.sendMsg(`{"type":"bye"}`)
	req, _ := http.NewRequest(http.MethodDelete, f.otherThan(a.server).url+"/collider/h/"+idA, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(rb) != "OK\n" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("DELETE = %d %q cors=%q", resp.StatusCode, rb, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	b.expectMsg(`{"type":"bye"}`)
	a.expectClosed()
	if n := ts().occupancy(t, "h"); n != 1 {
		t.Fatalf("occupancy after DELETE = %d, want 1", n)
	}

	// The deleted A cannot come back on the relay, by socket or by POST: it must join again.
	stale := ts().dial(t)
	stale.register("h", idA)
	if f := stale.next(); f.Error != protocol.ErrTextUnknownClient {
		t.Fatalf("register after DELETE = %+v, want %q", f, protocol.ErrTextUnknownClient)
	}
	stale.expectClosed()
	status, body = ts().post(t, "/collider/h/"+idA, "from the grave")
	if status != http.StatusInternalServerError || !strings.Contains(body, protocol.ErrTextUnknownClient) {
		t.Fatalf("POST /collider after DELETE = %d %q, want 500 %q", status, body, protocol.ErrTextUnknownClient)
	}
	b.expectNothing(50 * time.Millisecond)
	a2 := ts().dial(t)
	a2.register("h", ts().join(t, "h").ClientID)
	a2.sendMsg("new A")
	b.expectMsg("new A")

	for _, m := range []string{http.MethodOptions, http.MethodGet} {
		req, _ := http.NewRequest(m, ts().url+"/collider/h/"+idB, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s /collider = %d", m, resp.StatusCode)
		}
	}
	status, _ = ts().post(t, "/collider/h/"+idB, strings.Repeat("x", protocol.MaxMessageBytes+1))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized POST /collider = %d, want 413", status)
	}
	status, _ = ts().post(t, "/collider/h/"+idB, "")
	if status != http.StatusInternalServerError {
		t.Errorf("empty POST /collider = %d, want 500", status)
	}
	status, body = ts().post(t, "/collider/h/C", "third")
	if status != http.StatusInternalServerError || !strings.Contains(body, protocol.ErrTextUnknownClient) {
		t.Errorf("POST /collider as a client that never joined = %d %q, want 500", status, body)
	}
}

func TestRelayOriginPolicy(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AllowedOrigins = []string{"https://app.example"} })
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + ts.host, true},
		{"https://app.example", true},
		{"https://evil.example", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", h)
		if tt.ok != (err == nil) {
			t.Errorf("origin %q: err=%v, want ok=%v", tt.origin, err, tt.ok)
		}
		if err == nil {
			conn.Close()
		} else if resp != nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: status %d, want 403", tt.origin, resp.StatusCode)
		}
	}
}
