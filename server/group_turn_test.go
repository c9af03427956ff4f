//go:build !js

package server

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/turn"
)

// fromRelays counts the datagrams the SFU's socket reads from TURN relay ports.
type fromRelays struct {
	net.PacketConn
	min, max int
	n        *atomic.Int64
}

func (c fromRelays) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if ua, ok := addr.(*net.UDPAddr); ok && ua.Port >= c.min && ua.Port <= c.max {
		c.n.Add(1)
	}
	return n, addr, err
}

type silentLoggers struct{}

func (silentLoggers) NewLogger(string) logging.LeveledLogger {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f.NewLogger("test")
}

// TestTURNReachesTheSFUAndNothingElse: TURN's peer policy lets a relay reach the server's
// own SFU port on its (here loopback) address, and still refuses every other loopback
// port and address and private peers.
func TestTURNReachesTheSFUAndNothingElse(t *testing.T) {
	var reached atomic.Int64
	ts, ls := startGroupServerWrapped(t, true, func(c *Config) { c.TURN.Realm = "group.test" },
		func(pc net.PacketConn) net.PacketConn {
			return fromRelays{PacketConn: pc, min: 56000, max: 57000, n: &reached}
		})
	user, pass := turn.Mint("group-test-secret", "tester", time.Hour, time.Now())
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl, err := pionturn.NewClient(&pionturn.ClientConfig{
		TURNServerAddr: ls.TURNUDP[0].LocalAddr().String(), Conn: conn,
		Username: user, Password: pass, Realm: "group.test", LoggerFactory: silentLoggers{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	defer relay.Close()

	sfuAddr := ls.SFU.LocalAddr().(*net.UDPAddr)
	testsync.Eventually(t, 5*time.Second, "a relayed datagram at the SFU", func() bool {
		if _, err := relay.WriteTo([]byte("to the sfu"), sfuAddr); err != nil {
			t.Fatalf("relay to the SFU %v: %v", sfuAddr, err)
		}
		time.Sleep(20 * time.Millisecond)
		return reached.Load() > 0
	})

	other, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	srv := ts.turn.srv.Load()
	tests := []struct {
		name string
		to   *net.UDPAddr
	}{
		{"another loopback port", other.LocalAddr().(*net.UDPAddr)},
		{"the SFU port on another loopback address", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: sfuAddr.Port}},
		{"a private peer", &net.UDPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Stats()
			_, _ = relay.WriteTo([]byte("elsewhere"), tt.to) // a refused permission is an error here
			testsync.Eventually(t, 5*time.Second, "the policy refusing "+tt.to.String(), func() bool {
				st := srv.Stats()
				return st.DataDenied > before.DataDenied || st.PermissionDenied > before.PermissionDenied
			})
		})
	}
	if err := other.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, from, err := other.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatalf("another loopback port received %d bytes from %v through TURN", n, from)
	}
	if got := ts.sfuPeerAddrs(); len(got) != 1 || got[0] != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sfuAddr.Port)) {
		t.Fatalf("sfuPeerAddrs = %v, want the one loopback SFU address", got)
	}
}
