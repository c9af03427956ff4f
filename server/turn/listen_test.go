package turn

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestListenAllInterfacesBatchesIPv4: the shipped default, TURN on ":3478" (all interfaces),
// opens IPv4 sockets, whose reads are batched on Linux, and IPv6-only sockets on the same
// port, rather than dual-stack sockets that are read one datagram at a time.
func TestListenAllInterfacesBatchesIPv4(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		t.Run(addr, func(t *testing.T) {
			conns, err := ListenUDP("udp", addr, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			var v4 *net.UDPConn
			port := 0
			for _, c := range conns {
				ua := c.LocalAddr().(*net.UDPAddr)
				if port != 0 && ua.Port != port {
					t.Fatalf("sockets on ports %d and %d, want one port", port, ua.Port)
				}
				port = ua.Port
				if ua.IP.To4() != nil {
					v4 = c.(*net.UDPConn)
				}
			}
			if v4 == nil {
				t.Fatalf("no IPv4 socket among %d listening on %s", len(conns), addr)
			}
			g := newGuardedPacketConn(v4, &Server{})
			if _, batched := batchFills(g); !batched && runtime.GOOS == "linux" {
				t.Fatalf("the IPv4 socket of %s is not read in batches", addr)
			}
			from, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer from.Close()
			for i := 0; i < 5; i++ {
				if _, err := from.WriteTo([]byte{0x80, byte(i)}, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 1600)
			_ = g.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i := 0; i < 5; i++ {
				n, src, err := g.ReadFrom(buf)
				if err != nil || n != 2 || buf[1] != byte(i) || src.String() != from.LocalAddr().String() {
					t.Fatalf("datagram %d: % x from %v, %v", i, buf[:n], src, err)
				}
			}
			if fills, batched := batchFills(g); batched && fills == 0 {
				t.Error("datagrams read without recvmmsg")
			}
			if len(conns) == 2 {
				// The IPv6 socket answers ::1 on the same port (IPV6_V6ONLY leaves IPv4 to the other).
				c6, err := net.DialUDP("udp6", nil, &net.UDPAddr{IP: net.IPv6loopback, Port: port})
				if err != nil {
					t.Fatal(err)
				}
				defer c6.Close()
				if _, err := c6.Write([]byte{0x80, 6}); err != nil {
					t.Fatal(err)
				}
				v6 := conns[1]
				_ = v6.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, _, err := v6.ReadFrom(buf); err != nil || n != 2 || buf[1] != 6 {
					t.Fatalf("IPv6 socket read % x, %v", buf[:n], err)
				}
			}
		})
	}
}
