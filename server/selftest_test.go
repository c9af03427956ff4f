package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/turn"
	"github.com/onertc/onertc/server/turnprobe"
)

// startTURNServer runs a server with TURN on loopback; turnUDP is nil to leave the TURN
// UDP port without a listener (a blocked port, as the self-test sees it).
func startTURNServer(t *testing.T, withUDP bool) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Limits = limit.Rates{}
	cfg.TURN.PublicIP = "127.0.0.1"
	cfg.TURN.AllowLoopback = true
	cfg.TURN.Secret = "selftest-secret"
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 61000, 65000
	cfg.TURN.SelfTestInterval = time.Hour
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ls := Listeners{HTTP: ln}
	udp, err := turn.ListenUDP("udp4", "127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	if withUDP {
		ls.TURNUDP = udp
	} else {
		// Keep the port bound but unserved: datagrams to it go nowhere. Serve still
		// needs a TURN socket to start TURN, so give it TCP only and advertise the
		// dead UDP port.
		tcp, _ := net.Listen("tcp", "127.0.0.1:0")
		ls.TURNTCP = []net.Listener{tcp}
		t.Cleanup(func() { udp[0].Close() })
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	t.Cleanup(func() { cancel(); <-done })
	if !withUDP {
		testsync.Eventually(t, 5*time.Second, "TURN started", func() bool { return srv.turn.srv.Load() != nil })
		srv.turn.udpPort.Store(int32(portOf(udp[0].LocalAddr())))
	}
	return &testServer{Server: srv, url: "http://" + ln.Addr().String(), host: ln.Addr().String()}
}

func TestTURNSelfTest(t *testing.T) {
	t.Run("passes and is served on /healthz/turn", func(t *testing.T) {
		ts := startTURNServer(t, true)
		var res turnprobe.Result
		testsync.Eventually(t, 5*time.Second, "a passing self-test", func() bool {
			resp, err := http.Get(ts.url + "/healthz/turn")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			_ = json.NewDecoder(resp.Body).Decode(&res)
			return resp.StatusCode == 200 && res.OK
		})
		if res.Target == "" || res.Duration == "" {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("blocked port gives a hint", func(t *testing.T) {
		ts := startTURNServer(t, false)
		res := ts.turn.probe.Probe(context.Background())
		if res.OK || res.Hint == "" {
			t.Fatalf("self-test against a dead port = %+v, want a failure with a hint", res)
		}
		t.Logf("hint: %s", res.Hint)
	})
}
