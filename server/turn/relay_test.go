package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// The relay socket remembers the last destination the policy allowed (by pointer, as pion
// passes its channel binding's address): a denied destination must stay denied whatever
// was cached, and the cache must not let a different address through.
func TestRelayConnPolicyCache(t *testing.T) {
	cfg := Config{
		PublicIP: net.IPv4(127, 0, 0, 1), RelayAddress: "127.0.0.1",
		RelayPortMin: 61000, RelayPortMax: 61010, AllowLoopback: true, OwnPorts: []int{3478},
	}
	s := &Server{policy: newPeerPolicy(&cfg)}
	s.stats.init()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rc := &relayConn{UDPConn: uc, s: s, addrs: newAddrCache(relayAddrCache)}
	defer rc.UDPConn.Close()
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	allowed := peer.LocalAddr().(*net.UDPAddr)
	denied := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3478} // own listener port
	mapped := &net.UDPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 3478}
	steps := []struct {
		to      *net.UDPAddr
		deliver bool
	}{
		{allowed, true}, {allowed, true}, {denied, false}, {allowed, true}, {mapped, false}, {denied, false},
	}
	buf := make([]byte, 64)
	var wantDenied uint64
	for i, st := range steps {
		if _, err := rc.WriteTo([]byte{byte(i)}, st.to); err != nil {
			t.Fatalf("step %d: WriteTo(%v): %v", i, st.to, err)
		}
		if !st.deliver {
			wantDenied++
			continue
		}
		_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := peer.ReadFrom(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("step %d: peer got %v %v, want datagram %d", i, buf[:n], err, i)
		}
	}
	if got := s.stats.dataDenied.Load(); got != wantDenied {
		t.Errorf("dataDenied = %d, want %d", got, wantDenied)
	}
	if got := s.stats.toPeerPackets.Load(); got != 3 {
		t.Errorf("toPeerPackets = %d, want 3", got)
	}
}

func TestAddrCache(t *testing.T) {
	c := newAddrCache(4)
	a := netip.MustParseAddrPort("192.0.2.1:5000")
	b := netip.MustParseAddrPort("[2001:db8::1]:5000")
	ua := c.get(a)
	if ua.String() != "192.0.2.1:5000" || len(ua.IP) != 4 {
		t.Fatalf("get(%v) = %v (IP %d bytes)", a, ua, len(ua.IP))
	}
	if c.get(a) != ua {
		t.Error("a repeated source is not served from the cache")
	}
	for i := 0; i < 100; i++ { // collisions evict, never confuse
		p := netip.AddrPortFrom(a.Addr(), uint16(6000+i))
		if got := c.get(p); got.Port != 6000+i || !got.IP.Equal(ua.IP) {
			t.Fatalf("get(%v) = %v", p, got)
		}
	}
	if got := c.get(b); got.String() != "[2001:db8::1]:5000" {
		t.Errorf("get(%v) = %v", b, got)
	}
	if ua.String() != "192.0.2.1:5000" {
		t.Errorf("a published address changed: %v", ua)
	}
}
