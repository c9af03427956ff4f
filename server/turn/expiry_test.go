package turn

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun"
)

// TestLongCallOutlivesCredential is deliberately long (~30 s; ~8 s with -short): a call
// authenticated with a 2-second credential keeps refreshing, re-permitting, binding and
// relaying for 15 times the credential's life on an allocation whose own lifetime (4 s)
// would end it if a single refresh failed, while a new Allocate with the same credential
// is refused as expired.
func TestLongCallOutlivesCredential(t *testing.T) {
	t.Parallel()
	callFor := 30 * time.Second
	if testing.Short() {
		callFor = 8 * time.Second
	}
	ts := startServer(t, nil)
	user, pass := mint(2 * time.Second)
	c := newRawClient(t, ts.udp, user, pass, testRealm)
	if _, rc := c.allocate(lifetimeAttr(4 * time.Second)); rc != 0 {
		t.Fatalf("Allocate: code %d", rc)
	}
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pa := peer.LocalAddr().(*net.UDPAddr)
	if rc := c.permit(pa.IP, pa.Port); rc != 0 {
		t.Fatalf("CreatePermission: code %d", rc)
	}
	if rc := code(c.request(stun.MethodChannelBind, channelNumber(0x4000), peerAttr{pa.IP, pa.Port})); rc != 0 {
		t.Fatalf("ChannelBind: code %d", rc)
	}

	start := time.Now()
	buf := make([]byte, 1500)
	rounds := 0
	for time.Since(start) < callFor {
		time.Sleep(1500 * time.Millisecond)
		rounds++
		expired := time.Since(start) > 2*time.Second
		if rc := code(c.request(stun.MethodRefresh, lifetimeAttr(4*time.Second))); rc != 0 {
			t.Fatalf("round %d (credential expired: %v): Refresh code %d", rounds, expired, rc)
		}
		if rc := c.permit(pa.IP, pa.Port); rc != 0 {
			t.Fatalf("round %d: CreatePermission code %d", rounds, rc)
		}
		if rc := code(c.request(stun.MethodChannelBind, channelNumber(0x4000), peerAttr{pa.IP, pa.Port})); rc != 0 {
			t.Fatalf("round %d: ChannelBind code %d", rounds, rc)
		}
		// Client → peer over the channel, peer → client back through the relay.
		payload := []byte{0x40, 0x00, 0x00, 0x04, 'p', 'i', 'n', 'g'}
		if _, err := c.conn.Write(payload); err != nil {
			t.Fatal(err)
		}
		_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := peer.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("round %d: peer read %q, %v", rounds, buf[:n], err)
		}
		if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
			t.Fatal(err)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err = c.conn.Read(buf)
		if err != nil || n < 8 || string(buf[4:8]) != "pong" {
			t.Fatalf("round %d: client read % x, %v", rounds, buf[:n], err)
		}
	}
	if time.Since(start) < 7*time.Second {
		t.Fatal("the call did not outlive its credential long enough to mean anything")
	}
	// The same, now expired, credential cannot start a new allocation.
	before := ts.Stats().AuthFailures[ReasonExpired]
	c2 := newRawClient(t, ts.udp, user, pass, testRealm)
	if _, rc := c2.allocate(); rc != 401 {
		t.Errorf("new Allocate with the expired credential: code %d, want 401", rc)
	}
	if got := ts.Stats().AuthFailures[ReasonExpired]; got != before+1 {
		t.Errorf("expired refusals = %d, want %d", got, before+1)
	}
	t.Logf("call lasted %v over %d refresh rounds on a 2 s credential", time.Since(start).Round(time.Second), rounds)
}
