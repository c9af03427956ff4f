package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/internal/testkit/turntest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/turn"
)

// drainNoticeForTest is the drain notice of the Redis drain tests: long enough to act in it.
const drainNoticeForTest = 800 * time.Millisecond

// servedInstance is a Redis-mode instance with TURN whose Serve the test stops itself.
type servedInstance struct {
	*testServer
	turnAddr string
	ls       Listeners
	stop     context.CancelFunc
	done     chan error
}

func startDrainInstance(t *testing.T, redisURL string, relayPorts uint16, drain time.Duration) *servedInstance {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Redis, cfg.RelayGrace, cfg.DrainTimeout = redisURL, 5*time.Second, drain
	cfg.Limits, cfg.MaxSocketsPerIP = limit.Rates{}, 0
	cfg.TURN.Secret, cfg.TURN.Realm, cfg.TURN.PublicIP = "drain-secret", "drain.test", "127.0.0.1"
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = relayPorts, relayPorts+9
	cfg.TURN.SelfTestInterval = 0
	srv, err := New(cfg, nil, WithDrainNotice(drainNoticeForTest))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &servedInstance{
		testServer: &testServer{Server: srv, url: "http://" + ln.Addr().String(), host: ln.Addr().String()},
		turnAddr:   udp.LocalAddr().String(), stop: cancel, done: make(chan error, 1),
		ls: Listeners{HTTP: ln, TURNUDP: []net.PacketConn{udp}},
	}
	go func() { in.done <- srv.Serve(ctx, in.ls) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.done:
		case <-time.After(drain + 15*time.Second):
			t.Error("Serve did not return at the end of the test")
		}
	})
	return in
}

// closeWatch reads a relay socket until it ends and records how and when.
type closeWatch struct {
	frames chan protocol.RelayFrame
	ended  chan struct{}
	err    error
	at     time.Time
}

func watchSocket(t *testing.T, in *servedInstance, roomID, clientID string) *closeWatch {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+in.host+"/ws", nil)
	if err != nil {
		t.Fatalf("dial %s: %v", in.host, err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: clientID}); err != nil {
		t.Fatal(err)
	}
	w := &closeWatch{frames: make(chan protocol.RelayFrame, 16), ended: make(chan struct{})}
	go func() {
		defer close(w.ended)
		for {
			var f protocol.RelayFrame
			if err := ws.ReadJSON(&f); err != nil {
				w.err, w.at = err, time.Now()
				return
			}
			w.frames <- f
		}
	}()
	return w
}

func (w *closeWatch) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case f := <-w.frames:
		if f.Msg != want || f.Error != "" {
			t.Fatalf("frame %+v, want %q", f, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %q within 5 s", want)
	}
}

// SIGTERM (a cancelled Serve) of an instance in Redis mode with TURN: /readyz says 503 at
// once while the port and the relay sockets stay open for the notice (a join there still
// succeeds, a message still reaches a socket there); then the port refuses connections and
// the sockets close with 1001, so their clients re-register on the other instance and get
// what was sent meanwhile. Serve returns when the instance's last TURN allocation ends, or at
// the drain timeout when it does not.
func TestRedisDrainMovesSocketsAndWaitsForTURN(t *testing.T) {
	rs := redistest.Start(t)
	for i, tt := range []struct {
		name    string
		release bool // the TURN client deletes its allocation after the sockets moved
	}{
		{"allocation released", true},
		{"allocation kept until the drain timeout", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const drain = 4 * time.Second
			ports := uint16(62900 + 20*i)
			leaving, staying := startDrainInstance(t, rs.URL(), ports, drain), startDrainInstance(t, rs.URL(), ports+10, drain)
			roomID := fmt.Sprintf("drain%d", i)
			a, b := leaving.join(t, roomID), staying.join(t, roomID)
			wsA, wsB := watchSocket(t, leaving, roomID, a.ClientID), watchSocket(t, staying, roomID, b.ClientID)
			testsync.Eventually(t, 5*time.Second, "both online", func() bool {
				return leaving.relay.Stats().OpenWS == 1 && staying.relay.Stats().OpenWS == 1
			})
			user, pass := turn.Mint("drain-secret", "", time.Hour, time.Now())
			tc := turntest.Dial(t, leaving.turnAddr, user, pass, "drain.test")
			tc.MustAllocate()

			sigterm := time.Now()
			leaving.stop()
			testsync.Eventually(t, drainNoticeForTest/2, "/readyz 503 at once", func() bool {
				code, _ := get(t, leaving.url+"/readyz")
				return code == http.StatusServiceUnavailable
			})
			if jr := leaving.join(t, "newcall"); jr.ClientID == "" {
				t.Fatal("a join on the draining instance during the notice got no client id")
			}
			if r := staying.message(t, roomID, b.ClientID, "during the notice"); r != protocol.ResultSuccess {
				t.Fatalf("message during the notice = %s", r)
			}
			wsA.expect(t, "during the notice")

			select {
			case <-wsA.ended:
			case <-time.After(drainNoticeForTest + 5*time.Second):
				t.Fatal("the draining instance did not close A's socket")
			}
			if !websocket.IsCloseError(wsA.err, websocket.CloseGoingAway) {
				t.Fatalf("A's socket ended with %v, want close 1001 going away", wsA.err)
			}
			if after := wsA.at.Sub(sigterm); after < drainNoticeForTest {
				t.Fatalf("A's socket closed %v after SIGTERM, before the %v notice", after, drainNoticeForTest)
			}
			if c, err := net.DialTimeout("tcp", leaving.host, time.Second); err == nil {
				c.Close()
				t.Fatal("the draining instance still accepts connections after closing its sockets")
			}
			if r := staying.message(t, roomID, b.ClientID, "while A moves"); r != protocol.ResultSuccess {
				t.Fatalf("message while A moves = %s", r)
			}
			wsA2 := watchSocket(t, staying, roomID, a.ClientID)
			wsA2.expect(t, "while A moves")
			if err := wsB.err; err != nil {
				t.Fatalf("B's socket on the staying instance ended: %v", err)
			}

			select {
			case err := <-leaving.done:
				t.Fatalf("Serve returned (%v) while a TURN allocation was alive, %v after SIGTERM", err, time.Since(sigterm))
			case <-time.After(300 * time.Millisecond):
			}
			if tt.release {
				if rc := tc.Refresh(0); rc != 0 {
					t.Fatalf("deleting the allocation: code %d", rc)
				}
			}
			select {
			case err := <-leaving.done:
				leaving.done <- err // for the cleanup
				if err != nil {
					t.Fatalf("Serve = %v", err)
				}
				took := time.Since(sigterm)
				if tt.release && took >= drain {
					t.Fatalf("Serve returned %v after SIGTERM, want before the %v drain timeout once the allocation ended", took, drain)
				}
				if !tt.release && took < drain {
					t.Fatalf("Serve returned %v after SIGTERM with an allocation alive, want the %v drain timeout", took, drain)
				}
			case <-time.After(drain + 5*time.Second):
				t.Fatal("Serve did not return after the drain")
			}
		})
	}
}

// A hand-over in Redis mode (Release after another server took copies of the listeners, as
// a process started by SIGUSR2 does): the old server closes its relay sockets with 1001 at
// once, without the balancer notice (the port stays served), their clients re-register on
// the same address and land on the successor, and the old Serve returns.
func TestReleaseInRedisMode(t *testing.T) {
	rs := redistest.Start(t)
	old := startDrainInstance(t, rs.URL(), 62960, 20*time.Second)
	socks := old.ls.Sockets()
	if len(socks) != 2 || socks[0].Name != "http" || socks[1].Name != "turn-udp" {
		t.Fatalf("Sockets() = %+v, want the http listener and the TURN UDP socket", socks)
	}
	a := old.join(t, "release")
	wsA := watchSocket(t, old, "release", a.ClientID)
	testsync.Eventually(t, 5*time.Second, "A online", func() bool { return old.relay.Stats().OpenWS == 1 })

	// The successor serves a copy of the old server's listening socket.
	f, err := socks[0].Conn.File()
	if err != nil {
		t.Fatal(err)
	}
	copyLn, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Redis, cfg.RelayGrace, cfg.TURN.Disabled = rs.URL(), 5*time.Second, true
	cfg.Limits, cfg.MaxSocketsPerIP = limit.Rates{}, 0
	next, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nextDone := make(chan error, 1)
	go func() { nextDone <- next.Serve(ctx, Listeners{HTTP: copyLn}) }()
	t.Cleanup(func() { cancel(); <-nextDone })

	// A POST on a kept-alive connection that the released server closes at that moment fails
	// (Go's client replays no POST); the test's requests after the release dial afresh.
	http.DefaultClient.CloseIdleConnections()
	released := time.Now()
	old.Release(nil)
	select {
	case <-wsA.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the released server did not close A's socket")
	}
	if !websocket.IsCloseError(wsA.err, websocket.CloseGoingAway) {
		t.Fatalf("A's socket ended with %v, want close 1001", wsA.err)
	}
	if took := wsA.at.Sub(released); took >= drainNoticeForTest {
		t.Fatalf("A's socket closed %v after Release, want at once (no balancer notice)", took)
	}
	b := old.join(t, "release") // the address is the successor's now
	if n := next.relay.Stats(); n.OpenWS != 0 {
		t.Fatalf("successor has %d sockets before A re-registers", n.OpenWS)
	}
	if r := old.message(t, "release", b.ClientID, "to A on the successor"); r != protocol.ResultSuccess {
		t.Fatalf("message = %s", r)
	}
	wsA2 := watchSocket(t, old, "release", a.ClientID)
	wsA2.expect(t, "to A on the successor")
	if next.relay.Stats().OpenWS != 1 {
		t.Fatal("A's new socket is not on the successor")
	}
	select {
	case err := <-old.done:
		old.done <- err
		if err != nil {
			t.Fatalf("the released Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the released Serve did not return")
	}
}
