//go:build linux

package turn

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// fastRelayOf returns the relay socket behind a pion client's relayed address.
func fastRelayOf(t *testing.T, ts *testServer, relayed net.Addr) *relayConn {
	t.Helper()
	port := relayed.(*net.UDPAddr).Port
	a := ts.plane.ports[port].Load()
	if a == nil {
		t.Fatalf("relay port %d is not in the data plane (pion reads it)", port)
	}
	return a.relay
}

// TestFastPathExternalPeer: an allocation on a UDP listener is relayed by the data plane
// both ways (pion's reader of the relay socket is parked, so the peer's datagrams reach the
// client only through the plane), with Send/Data indications before the channel is bound
// and ChannelData after, byte for byte, from the right addresses.
func TestFastPathExternalPeer(t *testing.T) {
	ts := startServer(t, nil)
	user, pass := mint(time.Hour)
	_, relay, _ := ts.pionClient(t, "udp", user, pass)
	fastRelayOf(t, ts, relay.LocalAddr())
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	buf := make([]byte, 1500)
	const rounds = 50
	for i := 0; i < rounds; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 1+i*7) // every length modulo 4: Data indication padding
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			t.Fatalf("relay write: %v", err)
		}
		_ = peer.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, from, err := peer.ReadFrom(buf)
		if err != nil {
			t.Fatalf("peer read %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], msg) || from.String() != relay.LocalAddr().String() {
			t.Fatalf("peer got %d bytes from %v, want %d from %v", n, from, len(msg), relay.LocalAddr())
		}
		back := append([]byte(fmt.Sprintf("back %d ", i)), msg...)
		if _, err := peer.WriteTo(back, from); err != nil {
			t.Fatal(err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, from, err = relay.ReadFrom(buf)
		if err != nil {
			t.Fatalf("client read %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], back) || from.String() != peer.LocalAddr().String() {
			t.Fatalf("client got %q from %v, want %q from %v", buf[:min(n, 16)], from, back[:16], peer.LocalAddr())
		}
	}
	testsync.Eventually(t, 5*time.Second, "the plane relayed every datagram each way", func() bool {
		return ts.plane.handled.toPeer.Load() == rounds && ts.plane.handled.fromPeer.Load() == rounds &&
			ts.Stats().ToPeerPackets == rounds && ts.Stats().FromPeerPackets == rounds
	})
}

// TestFastPathBursts: bursts larger than a batch, each way, arrive whole with nothing after
// them to wake a reader. The listener's reader and the relay loop wait without reading again
// after a batch that emptied their sockets, and read again at once after a full one: a
// datagram left behind, or one that arrived while a batch was relayed and did not wake the
// next wait, would be missing here.
func TestFastPathBursts(t *testing.T) {
	ts := startServer(t, nil)
	user, pass := mint(time.Hour)
	_, relay, _ := ts.pionClient(t, "udp", user, pass)
	fastRelayOf(t, ts, relay.LocalAddr())
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	_ = peer.SetReadBuffer(1 << 20)
	buf := make([]byte, 1500)
	// The first datagram creates the permission and the channel; the peer's answer tells it
	// the relayed address as the peer sees it.
	if _, err := relay.WriteTo([]byte("hello"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, relayed, err := peer.ReadFrom(buf)
	if err != nil {
		t.Fatalf("first datagram: %v", err)
	}
	const bursts, size = 12, 3*batchSize + 5
	for _, tt := range []struct {
		name string
		send func([]byte) error
		recv net.PacketConn
	}{
		{"client to peer", func(b []byte) error { _, err := relay.WriteTo(b, peer.LocalAddr()); return err }, peer},
		{"peer to client", func(b []byte) error { _, err := peer.WriteTo(b, relayed); return err }, relay},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range bursts {
				for k := range size {
					if err := tt.send([]byte(fmt.Sprintf("%d-%d", i, k))); err != nil {
						t.Fatal(err)
					}
				}
				seen := make(map[string]bool, size)
				for len(seen) < size {
					_ = tt.recv.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, _, err := tt.recv.ReadFrom(buf)
					if err != nil {
						t.Fatalf("burst %d: %d of %d datagrams arrived: %v", i, len(seen), size, err)
					}
					if got := string(buf[:n]); strings.HasPrefix(got, fmt.Sprintf("%d-", i)) {
						seen[got] = true
					}
				}
				// A gap: the next burst finds both readers waiting.
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestFastPathBetweenAllocations: two allocations of one server talking to each other's
// relayed address are joined in memory; each side sees the other's relayed address as the
// source, and nothing goes through the relay sockets.
func TestFastPathBetweenAllocations(t *testing.T) {
	ts := startServer(t, nil)
	user, pass := mint(time.Hour)
	_, ra, _ := ts.pionClient(t, "udp", user, pass)
	_, rb, _ := ts.pionClient(t, "udp", user, pass)
	buf := make([]byte, 1500)
	send := func(from, to net.PacketConn, msg []byte) {
		t.Helper()
		if _, err := from.WriteTo(msg, to.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(at, from net.PacketConn, want []byte) {
		t.Helper()
		_ = at.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, src, err := at.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read at %v: %v", at.LocalAddr(), err)
		}
		if !bytes.Equal(buf[:n], want) || src.String() != from.LocalAddr().String() {
			t.Fatalf("got %q from %v, want %q from %v", buf[:n], src, want, from.LocalAddr())
		}
	}
	// Both sides need a permission for the other before anything can arrive: pion's client
	// creates it on its first write, so the first datagram each way may be refused.
	send(ra, rb, []byte("hello"))
	send(rb, ra, []byte("hello"))
	time.Sleep(200 * time.Millisecond) // let both CreatePermission exchanges finish
	drain := func(c net.PacketConn) {
		for {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}
	drain(ra)
	drain(rb)
	before := ts.Stats().FromPeerPackets
	kernelBefore := ts.plane.handled.fromPeer.Load()
	const rounds = 40
	for i := 0; i < rounds; i++ {
		msg := []byte(fmt.Sprintf("a to b %d", i))
		send(ra, rb, msg)
		recv(rb, ra, msg)
		msg = []byte(fmt.Sprintf("b to a %d", i))
		send(rb, ra, msg)
		recv(ra, rb, msg)
	}
	testsync.Eventually(t, 5*time.Second, "the datagrams counted as relayed across", func() bool {
		return ts.Stats().FromPeerPackets-before >= 2*rounds && ts.plane.handled.across.Load() >= 2*rounds
	})
	if got := ts.plane.handled.fromPeer.Load() - kernelBefore; got != 0 {
		t.Errorf("%d datagrams went through a relay socket between two allocations of one server", got)
	}
}

// TestPeerTableLifetimes: permissions and channels end at their lifetimes (pion's 5 and
// 10 minutes), a refresh moves them, a rebind replaces, an error answer installs nothing.
func TestPeerTableLifetimes(t *testing.T) {
	cfg := Config{PublicIP: net.IPv4(192, 0, 2, 1), RelayPortMin: 50000, RelayPortMax: 50010}
	policy := newPeerPolicy(&cfg)
	a := &fastAlloc{}
	a.table.Store(emptyTable)
	p1 := netip.MustParseAddrPort("198.51.100.7:4000")
	p2 := netip.MustParseAddrPort("93.184.216.34:5000") // public: the policy allows it
	tx := func(i byte) [12]byte { return [12]byte{i} }
	const t0 = 1_000_000
	a.noteRequest(tx(1), 0, []netip.AddrPort{p1})
	a.noteRequest(tx(2), 0x4001, []netip.AddrPort{p2})
	a.noteRequest(tx(3), 0x4002, []netip.AddrPort{p1})
	a.answered(tx(1), true, t0, policy)
	a.answered(tx(2), true, t0, policy)
	a.answered(tx(3), false, t0, policy) // refused: nothing
	tb := a.table.Load()
	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"permission p1 now", tb.permitted(p1.Addr(), t0), true},
		{"permission p1 at 5 min", tb.permitted(p1.Addr(), t0+300), true},
		{"permission p1 after 5 min", tb.permitted(p1.Addr(), t0+301), false},
		{"no permission for p2 (ChannelBind grants none in pion)", tb.permitted(p2.Addr(), t0), false},
		{"channel 0x4001 → p2", tb.byNumber(0x4001, t0) != nil && tb.byNumber(0x4001, t0).peer == p2, true},
		{"channel 0x4001 after 10 min", tb.byNumber(0x4001, t0+601) != nil, false},
		{"refused bind 0x4002", tb.byNumber(0x4002, t0) != nil, false},
		{"p2 by peer", tb.byPeer(p2, t0) != nil, true},
		{"policy on a public peer", tb.byNumber(0x4001, t0).verdict == admitted, true},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	// A refresh 4 minutes later moves the channel's end.
	a.noteRequest(tx(4), 0x4001, []netip.AddrPort{p2})
	a.answered(tx(4), true, t0+240, policy)
	if a.table.Load().byNumber(0x4001, t0+700) == nil {
		t.Error("a refreshed channel ended at its first lifetime")
	}
	if len(a.table.Load().chans) != 1 {
		t.Errorf("%d channels after a refresh, want 1", len(a.table.Load().chans))
	}
	// An answer nobody asked for changes nothing.
	a.answered(tx(9), true, t0, policy)
	if len(a.table.Load().chans) != 1 || len(a.table.Load().perms) != 1 {
		t.Error("an unknown transaction changed the table")
	}
}

// The per-packet work allocates nothing: framing for the client (ChannelData and Data
// indication) and the lookups behind it.
func TestFastPathAllocations(t *testing.T) {
	cfg := Config{PublicIP: net.IPv4(192, 0, 2, 1), RelayPortMin: 50000, RelayPortMax: 50010}
	policy := newPeerPolicy(&cfg)
	a := &fastAlloc{}
	a.table.Store(emptyTable)
	ch := netip.MustParseAddrPort("198.51.100.7:4000")
	perm := netip.MustParseAddrPort("203.0.113.9:5000")
	a.noteRequest([12]byte{1}, 0x4001, []netip.AddrPort{ch})
	a.answered([12]byte{1}, true, 10, policy)
	a.noteRequest([12]byte{2}, 0, []netip.AddrPort{perm})
	a.answered([12]byte{2}, true, 10, policy)
	p := &plane{ports: make([]atomic.Pointer[fastAlloc], 1<<16)}
	for i := range p.shards {
		p.shards[i].m = map[clientKey]*fastAlloc{}
	}
	key := clientKey{local: netip.MustParseAddrPort("0.0.0.0:3478"), client: netip.MustParseAddrPort("192.0.2.50:40000")}
	p.shards[0].m[key] = a // wherever: lookup of a missing key allocates no less
	buf := make([]byte, batchSlot)
	tx := newTxSource()
	allocs := testing.AllocsPerRun(200, func() {
		_ = p.lookup(key)
		if a.peerToClient(buf, slotHead, 100, ch, 10, tx) == nil {
			panic("no ChannelData")
		}
		if _, _, ok := parseChannelData(buf[slotHead-4 : slotHead+100]); !ok {
			panic("ChannelData not parsed")
		}
		if a.peerToClient(buf, slotHead, 101, perm, 10, tx) == nil {
			panic("no Data indication")
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per datagram, want 0", allocs)
	}
}

// TestFastPathDefaultListener: on the default listener (all interfaces: an IPv4 and an IPv6
// socket on one port), coTurn's own client relays through the data plane over both
// families, with channels and with Send/Data indications (-s), losing nothing.
func TestFastPathDefaultListener(t *testing.T) {
	pcs, err := ListenUDP("udp", ":0", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcs) != 2 {
		t.Fatalf("%d sockets on the default listener, want an IPv4 and an IPv6 one", len(pcs))
	}
	s, err := New(Config{
		Realm: testRealm, Secret: testSecret, PublicIP: net.IPv4(127, 0, 0, 1), RelayAddress: "127.0.0.1",
		RelayPortMin: testRelayMin, RelayPortMax: testRelayMax, AllowLoopback: true,
		PacketConns: pcs, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, port := splitHostPort(t, pcs[0].LocalAddr().String())
	for _, tt := range []struct {
		name, host string
		flags      []string
	}{
		{"ipv4 channels", "127.0.0.1", nil},
		{"ipv6 channels", "::1", nil},
		{"ipv4 indications", "127.0.0.1", []string{"-s"}},
		{"ipv6 indications", "::1", []string{"-s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := s.plane.handled.across.Load()
			user, pass := Mint(testSecret, "fast", time.Hour, time.Now())
			args := append([]string{"-p", port, "-u", user, "-w", pass, "-y", "-n", "30", "-m", "2", "-l", "120"}, tt.flags...)
			out := runTool(t, 60*time.Second, "turnutils_uclient", append(args, tt.host)...)
			if !strings.Contains(out, "Total lost packets 0 (0.000000%)") {
				t.Fatalf("packets lost or not relayed:\n%s", tail(out, 15))
			}
			testsync.Eventually(t, 5*time.Second, "the plane relayed the client-to-client traffic", func() bool {
				return s.plane.handled.across.Load()-before >= 2*30
			})
		})
	}
}
