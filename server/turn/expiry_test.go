package turn

import (
	"net"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/turntest"
)

// TestLongCallOutlivesCredential: a call authenticated with a 2-second credential keeps
// refreshing, re-permitting, binding and relaying while the server's clock moves 15 times the
// credential's life past it, while a new Allocate with the same credential is refused as
// expired. The same call against a server without the rule that lets a live allocation
// outlive its credential is refused at its first request after expiry, so the test can tell
// the two apart. The clock is moved (Server.skew), never waited for.
func TestLongCallOutlivesCredential(t *testing.T) {
	for _, tt := range []struct {
		name     string
		rule     bool
		wantCode int // of every request after expiry
	}{
		{"with the grace rule", true, 0},
		{"without the grace rule", false, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, nil)
			ts.noExpiryGrace.Store(!tt.rule)
			const ttl = 2 * time.Second
			user, pass := mint(ttl)
			c := turntest.Dial(t, ts.udp, user, pass, testRealm)
			if _, rc := c.Allocate(turntest.Lifetime(10 * time.Minute)); rc != 0 {
				t.Fatalf("Allocate: code %d", rc)
			}
			peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			pa := peer.LocalAddr().(*net.UDPAddr)
			if r, p, b := c.KeepCall(pa, 0x4000, 10*time.Minute); r != 0 || p != 0 || b != 0 {
				t.Fatalf("before expiry: Refresh %d, CreatePermission %d, ChannelBind %d", r, p, b)
			}
			buf := make([]byte, 1500)
			for round := 1; round <= 15; round++ {
				ts.skew.Add(int64(ttl)) // the credential is now round*2 s past its expiry
				r, p, b := c.KeepCall(pa, 0x4000, 10*time.Minute)
				if r != tt.wantCode || p != tt.wantCode || b != tt.wantCode {
					t.Fatalf("round %d, %v past expiry: Refresh %d, CreatePermission %d, ChannelBind %d; want %d each",
						round, time.Duration(round)*ttl, r, p, b, tt.wantCode)
				}
				if !tt.rule {
					if got := ts.Stats().AuthFailures[ReasonExpired]; got < 3 {
						t.Fatalf("expired refusals = %d, want 3", got)
					}
					return
				}
				// Client → peer over the channel, peer → client back through the relay.
				if _, err := c.Conn().Write([]byte{0x40, 0x00, 0x00, 0x04, 'p', 'i', 'n', 'g'}); err != nil {
					t.Fatal(err)
				}
				_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, from, err := peer.ReadFrom(buf)
				if err != nil || string(buf[:n]) != "ping" {
					t.Fatalf("round %d: peer read %q, %v", round, buf[:n], err)
				}
				if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
					t.Fatal(err)
				}
				_ = c.Conn().SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err = c.Conn().Read(buf)
				if err != nil || n < 8 || string(buf[4:8]) != "pong" {
					t.Fatalf("round %d: client read % x, %v", round, buf[:n], err)
				}
			}
			// The same, now expired, credential cannot start a new allocation.
			before := ts.Stats().AuthFailures[ReasonExpired]
			c2 := turntest.Dial(t, ts.udp, user, pass, testRealm)
			if _, rc := c2.Allocate(); rc != 401 {
				t.Errorf("new Allocate with the expired credential: code %d, want 401", rc)
			}
			if got := ts.Stats().AuthFailures[ReasonExpired]; got != before+1 {
				t.Errorf("expired refusals = %d, want %d", got, before+1)
			}
		})
	}
}
