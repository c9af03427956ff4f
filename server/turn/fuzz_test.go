package turn

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun"

	"github.com/onertc/onertc/internal/testkit/turntest"
)

type discardReplier struct{}

func (discardReplier) WriteTo(p []byte, _ net.Addr) (int, error) { return len(p), nil }

// FuzzGuard feeds arbitrary datagrams to the guard in both directions: it must never
// panic, whatever a client (inbound) or a confused pion (outbound) sends.
func FuzzGuard(f *testing.F) {
	ts := startServer(f, func(c *Config) { c.MaxAllocationLifetime = time.Minute })
	user, pass := Mint(testSecret, "alice", time.Hour, time.Now())
	key := longTermKey(user, pass)
	seeds := []*stun.Message{
		stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest), turntest.UDPTransport,
			stun.NewUsername(user), stun.NewRealm(testRealm), stun.NewNonce("n"), stun.MessageIntegrity(key), stun.Fingerprint),
		stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodCreatePermission, stun.ClassRequest), turntest.PeerAttr{IP: net.IPv4(10, 0, 0, 1), Port: 1},
			stun.NewUsername(user), stun.NewRealm(testRealm), stun.NewNonce("n"), stun.MessageIntegrity(key)),
		stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassSuccessResponse),
			stun.XORMappedAddress{IP: net.IPv4(127, 0, 0, 1), Port: 61001}, turntest.Lifetime(time.Hour), stun.MessageIntegrity(key)),
		stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodRefresh, stun.ClassSuccessResponse), turntest.Lifetime(2*time.Hour)),
	}
	for _, m := range seeds {
		f.Add(m.Raw)
	}
	f.Add([]byte{0x40, 0x00, 0x00, 0x02, 1, 2})
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3478}
	ts.reg.putKey(addrKey(src), user, key, time.Now())
	f.Fuzz(func(t *testing.T, b []byte) {
		ts.inbound(b, src, local, discardReplier{})
		_ = ts.outbound(b, src, local)
	})
}

// longTermKey is the long-term key of user in the test realm.
func longTermKey(user, pass string) []byte {
	return stun.NewLongTermIntegrity(user, testRealm, pass)
}
