package turn

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/internal/testkit/turntest"
)

// TestRelay allocates with pion's client over each transport, lets it create a permission
// and relays datagrams both ways between the allocation and a UDP peer.
func TestRelay(t *testing.T) {
	ts := startServer(t, nil)
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			user, pass := mint(time.Hour)
			_, relay, _ := ts.pionClient(t, transport, user, pass)
			peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			buf := make([]byte, 1500)
			for i := 0; i < 20; i++ {
				msg := []byte(fmt.Sprintf("%s to peer %d", transport, i))
				if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
					t.Fatalf("relay write: %v", err)
				}
				_ = peer.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, from, err := peer.ReadFrom(buf)
				if err != nil {
					t.Fatalf("peer read %d: %v", i, err)
				}
				if !bytes.Equal(buf[:n], msg) || from.String() != relay.LocalAddr().String() {
					t.Fatalf("peer got %q from %v, want %q from %v", buf[:n], from, msg, relay.LocalAddr())
				}
				back := []byte(fmt.Sprintf("%s to client %d", transport, i))
				if _, err := peer.WriteTo(back, from); err != nil {
					t.Fatal(err)
				}
				_ = relay.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, from, err = relay.ReadFrom(buf)
				if err != nil {
					t.Fatalf("client read %d: %v", i, err)
				}
				if !bytes.Equal(buf[:n], back) || from.String() != peer.LocalAddr().String() {
					t.Fatalf("client got %q from %v, want %q from %v", buf[:n], from, back, peer.LocalAddr())
				}
			}
		})
	}
	// The packet counters move just after the write they count: the peer can have read the
	// last datagram before its counter moved, so poll rather than read once.
	counted := func() bool {
		st := ts.Stats()
		return st.AllocationsTotal == 3 && st.ToPeerPackets >= 60 && st.FromPeerPackets >= 60
	}
	testsync.Eventually(t, 5*time.Second, "3 allocations and ≥ 60 packets counted each way", counted)
}

// TestAuthRefusals: every kind of bad credential is refused with 401 and counted; valid
// ones, including ones signed with the previous secret, allocate.
func TestAuthRefusals(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.OldSecret = testOld })
	now := time.Now()
	good, goodPass := Mint(testSecret, "alice", time.Hour, now)
	old, oldPass := Mint(testOld, "bob", time.Hour, now)
	other, otherPass := Mint("not-our-secret", "eve", time.Hour, now)
	expired, expiredPass := Mint(testSecret, "carol", -time.Minute, now)
	tests := []struct {
		name, user, pass, realm string
		wantCode                int
		reason                  string
	}{
		{"valid", good, goodPass, testRealm, 0, ""},
		{"previous secret", old, oldPass, testRealm, 0, ""},
		{"wrong secret", other, otherPass, testRealm, 401, ReasonBadPassword},
		{"wrong password", good, "bm9wZQ==", testRealm, 401, ReasonBadPassword},
		{"expired", expired, expiredPass, testRealm, 401, ReasonExpired},
		{"non-numeric timestamp", "soon:alice", restPassword(testSecret, "soon:alice"), testRealm, 401, ReasonBadTimestamp},
		{"wrong realm", good, goodPass, "other.realm", 401, ReasonWrongRealm},
		{"malformed username", "alice", restPassword(testSecret, "alice"), testRealm, 401, ReasonMalformed},
		{"bare timestamp", fmt.Sprint(now.Add(time.Hour).Unix()), restPassword(testSecret, fmt.Sprint(now.Add(time.Hour).Unix())), testRealm, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.Stats().AuthFailures[tt.reason]
			c := turntest.Dial(t, ts.udp, tt.user, tt.pass, tt.realm)
			_, got := c.Allocate()
			if got != tt.wantCode {
				t.Fatalf("Allocate: code %d, want %d", got, tt.wantCode)
			}
			if tt.reason != "" {
				if after := ts.Stats().AuthFailures[tt.reason]; after != before+1 {
					t.Errorf("AuthFailures[%s] = %d, want %d", tt.reason, after, before+1)
				}
			}
		})
	}
	// Without OldSecret configured, the old secret is just a wrong one.
	ts2 := startServer(t, nil)
	c := turntest.Dial(t, ts2.udp, old, oldPass, testRealm)
	if _, got := c.Allocate(); got != 401 {
		t.Errorf("old secret without rotation: code %d, want 401", got)
	}
}

// TestDeniedPeers: by default CreatePermission and ChannelBind to special-purpose peers get
// 403; AllowPeers lifts a range; own listener ports are refused even with AllowLoopback.
func TestDeniedPeers(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.AllowLoopback = false
		c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("192.168.77.0/24")}
		c.DenyPeers = []netip.Prefix{netip.MustParsePrefix("8.8.4.0/24")}
	})
	user, pass := mint(time.Hour)
	c := turntest.Dial(t, ts.udp, user, pass, testRealm)
	c.MustAllocate()
	tests := []struct {
		peer string
		want int
	}{
		{"127.0.0.1", 403},
		{"10.0.0.1", 403},
		{"169.254.169.254", 403},
		{"::1", 403},
		{"224.0.0.1", 403},
		{"ff02::1", 403},
		{"::ffff:127.0.0.1", 403},
		{"0.0.0.0", 403},
		{"::", 403},
		{"100.64.0.1", 403},
		{"fd00::1", 403},
		{"64:ff9b::a9fe:a9fe", 403}, // NAT64 of 169.254.169.254
		{"2002:7f00:1::1", 403},     // 6to4 of 127.0.0.1
		{"8.8.4.4", 403},            // DenyPeers
		{"8.8.8.8", 0},
		{"192.168.77.5", 0},   // AllowPeers
		{"192.168.78.5", 403}, // outside AllowPeers
	}
	for _, tt := range tests {
		t.Run(tt.peer, func(t *testing.T) {
			if got := c.Permit(net.ParseIP(tt.peer), 5000); got != tt.want {
				t.Errorf("CreatePermission(%s): code %d, want %d", tt.peer, got, tt.want)
			}
		})
	}
	if got := turntest.Code(c.Request(stun.MethodChannelBind, turntest.ChannelNumber(0x4000), turntest.PeerAttr{IP: net.ParseIP("10.1.2.3"), Port: 5000})); got != 403 {
		t.Errorf("ChannelBind to 10.1.2.3: code %d, want 403", got)
	}
	if got := turntest.Code(c.Request(stun.MethodChannelBind, turntest.ChannelNumber(0x4001), turntest.PeerAttr{IP: net.ParseIP("8.8.8.8"), Port: 5000})); got != 0 {
		t.Errorf("ChannelBind to 8.8.8.8: code %d, want success", got)
	}
	if n := ts.Stats().PermissionDenied; n < 14 {
		t.Errorf("PermissionDenied = %d, want ≥ 14", n)
	}

	// Own listener ports: refused even when loopback peers are allowed.
	lb := startServer(t, func(c *Config) { c.AllowLoopback = true })
	_, udpPort, _ := net.SplitHostPort(lb.udp)
	port := mustAtoi(t, udpPort)
	lb2 := startServer(t, func(c *Config) { c.AllowLoopback = true; c.OwnPorts = []int{port} })
	c2 := turntest.Dial(t, lb2.udp, user, pass, testRealm)
	c2.MustAllocate()
	if got := c2.Permit(net.IPv4(127, 0, 0, 1), port); got != 403 {
		t.Errorf("CreatePermission to own port %d: code %d, want 403", port, got)
	}
	if got := c2.Permit(net.IPv4(127, 0, 0, 1), port+1); got != 0 {
		t.Errorf("CreatePermission to 127.0.0.1:%d with AllowLoopback: code %d, want 0", port+1, got)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestQuotas: per-user and total allocation quotas answer 486 and free up when an
// allocation ends.
func TestQuotas(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.UserQuota = 2; c.TotalQuota = 3 })
	alice, alicePass := Mint(testSecret, "alice", time.Hour, time.Now())
	bob, bobPass := Mint(testSecret, "bob", time.Hour, time.Now())
	carol, carolPass := Mint(testSecret, "carol", time.Hour, time.Now())
	steps := []struct {
		user, pass string
		want       int
	}{
		{alice, alicePass, 0},
		{alice, alicePass, 0},
		{alice, alicePass, 486}, // user quota
		{bob, bobPass, 0},
		{carol, carolPass, 486}, // total quota
	}
	var clients []*turntest.Client
	for i, st := range steps {
		c := turntest.Dial(t, ts.udp, st.user, st.pass, testRealm)
		m, got := c.Allocate()
		if got != st.want {
			t.Fatalf("step %d: Allocate code %d, want %d", i, got, st.want)
		}
		if got == 486 {
			if err := stun.MessageIntegrity(c.Key()).Check(m); err != nil {
				t.Errorf("486 without valid MESSAGE-INTEGRITY: %v", err)
			}
		}
		clients = append(clients, c)
	}
	if st := ts.Stats(); st.QuotaRefused != 2 || st.AllocationsActive != 3 {
		t.Errorf("stats = %+v, want 2 quota refusals and 3 active", st)
	}
	// Alice deletes one allocation (Refresh with lifetime 0): she may allocate again.
	if got := turntest.Code(clients[0].Request(stun.MethodRefresh, turntest.Lifetime(0))); got != 0 {
		t.Fatalf("Refresh(0): code %d", got)
	}
	testsync.Eventually(t, 2*time.Second, "allocation count to drop", func() bool { return ts.Stats().AllocationsActive == 2 })
	c := turntest.Dial(t, ts.udp, alice, alicePass, testRealm)
	if _, got := c.Allocate(); got != 0 {
		t.Errorf("Allocate after a delete: code %d, want 0", got)
	}
}

// TestMaxAllocationLifetime: a longer requested lifetime is granted only up to the maximum,
// in a response whose MESSAGE-INTEGRITY still verifies.
func TestMaxAllocationLifetime(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxAllocationLifetime = time.Minute })
	user, pass := mint(time.Hour)
	c := turntest.Dial(t, ts.udp, user, pass, testRealm)
	for _, method := range []stun.Method{stun.MethodAllocate, stun.MethodRefresh} {
		attrs := []stun.Setter{turntest.Lifetime(30 * time.Minute)}
		if method == stun.MethodAllocate {
			attrs = append(attrs, turntest.UDPTransport)
		}
		m := c.Request(method, attrs...)
		if turntest.Code(m) != 0 {
			t.Fatalf("%v: code %d", method, turntest.Code(m))
		}
		if err := stun.MessageIntegrity(c.Key()).Check(m); err != nil {
			t.Fatalf("%v response integrity: %v", method, err)
		}
		v, err := m.Get(stun.AttrLifetime)
		if err != nil || len(v) != 4 {
			t.Fatalf("%v: no LIFETIME: %v", method, err)
		}
		if got := int(v[0])<<24 | int(v[1])<<16 | int(v[2])<<8 | int(v[3]); got != 60 {
			t.Errorf("%v: LIFETIME %d s, want 60", method, got)
		}
	}
}

// TestTCPCloseEndsAllocation: when a TURN-over-TCP connection goes, so do its allocations
// (pion alone would keep the relay socket until the lifetime expires).
func TestTCPCloseEndsAllocation(t *testing.T) {
	ts := startServer(t, nil)
	user, pass := mint(time.Hour)
	cl, _, conn := ts.pionClient(t, "tcp", user, pass)
	testsync.Eventually(t, 2*time.Second, "one allocation", func() bool { return ts.Stats().AllocationsActive == 1 })
	cl.Close()
	_ = conn.Close()
	testsync.Eventually(t, 5*time.Second, "no allocation", func() bool { return ts.Stats().AllocationsActive == 0 })
}

// TestBadDatagramsDoNotFloodLog: garbage and unauthenticated junk produce a bounded number
// of log lines.
func TestBadDatagramsDoNotFloodLog(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Logger = c.Logger.With() // same handler, Info level
	})
	conn, err := net.Dial("udp4", ts.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	junk := [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n................"),
		{0x40, 0x00, 0x00, 0x10, 1, 2, 3}, // ChannelData without an allocation
		stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication)).Raw,
	}
	for i := 0; i < 500; i++ {
		if _, err := conn.Write(junk[i%len(junk)]); err != nil {
			t.Fatal(err)
		}
	}
	// A Binding request after the junk proves the server read it all.
	c := turntest.Dial(t, ts.udp, "x", "y", testRealm)
	if m := c.Send(stun.MethodBinding, false); turntest.Code(m) != 0 {
		t.Fatalf("Binding: code %d", turntest.Code(m))
	}
	lines := strings.Count(ts.logs.String(), "\n")
	if lines > 3*logBurst {
		t.Errorf("%d log lines for 500 bad datagrams, want ≤ %d:\n%s", lines, 3*logBurst, ts.logs.String())
	}
}
