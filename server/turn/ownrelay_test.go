package turn

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestOwnRelayAddressReachesOnlyLiveAllocations: with loopback peers refused, a relay may
// still reach another allocation of this server on the (here loopback) relay address, but no
// other socket on a port of the relay range: the range overlaps the kernel's ephemeral ports,
// so any process may hold one of them, also the port an allocation held a moment ago. Over UDP
// (the data plane: Send indications and channels) and TCP (pion's relay socket).
func TestOwnRelayAddressReachesOnlyLiveAllocations(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.AllowLoopback = false })
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			user, pass := mint(time.Hour)
			_, relayA, _ := ts.pionClient(t, transport, user, pass)
			_, relayB, _ := ts.pionClient(t, "udp", user, pass)
			toB := relayB.LocalAddr().(*net.UDPAddr)

			// Another allocation: reached, as before.
			got := make(chan string, 64)
			go func() {
				buf := make([]byte, 64)
				for {
					n, _, err := relayB.ReadFrom(buf)
					if err != nil {
						return
					}
					got <- string(buf[:n])
				}
			}()
			testsync.Eventually(t, 5*time.Second, "a datagram from A's relay at B's allocation", func() bool {
				// B's permission for A's address lets A's datagrams in.
				if _, err := relayB.WriteTo([]byte("to A"), relayA.LocalAddr()); err != nil {
					t.Fatalf("write to A: %v", err)
				}
				if _, err := relayA.WriteTo([]byte("to B"), toB); err != nil {
					t.Fatalf("write to B: %v", err)
				}
				select {
				case <-got:
					return true
				case <-time.After(50 * time.Millisecond):
					return false
				}
			})

			// A socket of another process on a relay-range port of the relay address.
			squatter := listenInRelayRange(t)
			mustNotReceive(t, ts, relayA, squatter)

			// B's allocation ends and someone else takes its port: A's channel or
			// permission to that address must not carry on to the newcomer.
			if err := relayB.Close(); err != nil {
				t.Fatal(err)
			}
			var newcomer net.PacketConn
			testsync.Eventually(t, 5*time.Second, "B's old port free", func() bool {
				c, err := net.ListenUDP("udp4", toB)
				if err != nil {
					return false
				}
				newcomer = c
				return true
			})
			defer newcomer.Close()
			mustNotReceive(t, ts, relayA, newcomer)
		})
	}
}

// listenInRelayRange binds a UDP socket on 127.0.0.1 at a free port of the test relay range.
func listenInRelayRange(t *testing.T) net.PacketConn {
	t.Helper()
	for range 100 {
		port := testRelayMin + rand.IntN(testRelayMax-testRelayMin+1)
		c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
	}
	t.Fatal("no free port in the relay range")
	return nil
}

// mustNotReceive sends from relay to dst's address for a while and fails if dst receives
// anything; the server must count what it refused.
func mustNotReceive(t *testing.T, ts *testServer, relay, dst net.PacketConn) {
	t.Helper()
	before := ts.Stats()
	for range 20 {
		// A refused permission can make the client's write fail: the point is what arrives.
		_, _ = relay.WriteTo([]byte("elsewhere"), dst.LocalAddr())
		time.Sleep(10 * time.Millisecond)
	}
	if err := dst.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, from, err := dst.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatalf("%v received %d bytes from %v through TURN", dst.LocalAddr(), n, from)
	}
	testsync.Eventually(t, 5*time.Second, "the refusals counted", func() bool {
		st := ts.Stats()
		return st.DataDenied > before.DataDenied || st.PermissionDenied > before.PermissionDenied
	})
}
