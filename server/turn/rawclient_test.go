package turn

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun"
	pionturn "github.com/pion/turn/v2"
)

// rawClient speaks TURN by hand over UDP so tests can see exact response codes, which
// pion's client folds into error strings.
type rawClient struct {
	t     *testing.T
	conn  net.Conn
	user  string
	realm string // realm presented
	key   []byte
	nonce stun.Nonce
}

func newRawClient(t *testing.T, server, user, pass, realm string) *rawClient {
	t.Helper()
	c, err := net.Dial("udp4", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, conn: c, user: user, realm: realm, key: pionturn.GenerateAuthKey(user, realm, pass)}
}

type peerAttr struct {
	ip   net.IP
	port int
}

func (p peerAttr) AddTo(m *stun.Message) error {
	return stun.XORMappedAddress{IP: p.ip, Port: p.port}.AddToAs(m, stun.AttrXORPeerAddress)
}

type lifetimeAttr time.Duration

func (l lifetimeAttr) AddTo(m *stun.Message) error {
	v := uint32(time.Duration(l) / time.Second)
	m.Add(stun.AttrLifetime, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return nil
}

var udpTransport = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

func channelNumber(n uint16) stun.RawAttribute {
	return stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{byte(n >> 8), byte(n), 0, 0}}
}

// send sends one request and returns its response (not checked for success).
func (c *rawClient) send(method stun.Method, auth bool, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}
	setters = append(setters, attrs...)
	if auth {
		setters = append(setters, stun.NewUsername(c.user), stun.NewRealm(c.realm), c.nonce, stun.MessageIntegrity(c.key))
	}
	setters = append(setters, stun.Fingerprint)
	req := stun.MustBuild(setters...)
	buf := make([]byte, 1600)
	for try := 0; try < 3; try++ {
		if _, err := c.conn.Write(req.Raw); err != nil {
			c.t.Fatal(err)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				break // retransmit
			}
			m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if m.Decode() != nil || m.TransactionID != req.TransactionID {
				continue // a Data indication or a stale answer
			}
			return m
		}
	}
	c.t.Fatalf("no response to %v", method)
	return nil
}

// request sends an authenticated request, first learning the nonce if needed.
func (c *rawClient) request(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	if c.nonce == nil {
		m := c.send(method, false, attrs...)
		if code(m) != 401 {
			c.t.Fatalf("unauthenticated %v: want 401, got %d", method, code(m))
		}
		if err := c.nonce.GetFrom(m); err != nil {
			c.t.Fatalf("401 without nonce: %v", err)
		}
	}
	m := c.send(method, true, attrs...)
	if code(m) == 438 { // stale nonce: take the new one
		_ = c.nonce.GetFrom(m)
		m = c.send(method, true, attrs...)
	}
	return m
}

// code is the response's ERROR-CODE, 0 for success, -1 for an error without a code.
func code(m *stun.Message) int {
	if m.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var e stun.ErrorCodeAttribute
	if err := e.GetFrom(m); err != nil {
		return -1
	}
	return int(e.Code)
}

func (c *rawClient) allocate(attrs ...stun.Setter) (*stun.Message, int) {
	c.t.Helper()
	m := c.request(stun.MethodAllocate, append([]stun.Setter{udpTransport}, attrs...)...)
	return m, code(m)
}

func (c *rawClient) mustAllocate() *net.UDPAddr {
	c.t.Helper()
	m, rc := c.allocate()
	if rc != 0 {
		c.t.Fatalf("Allocate: code %d", rc)
	}
	if err := stun.MessageIntegrity(c.key).Check(m); err != nil {
		c.t.Fatalf("Allocate response integrity: %v", err)
	}
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(m, stun.AttrXORRelayedAddress); err != nil {
		c.t.Fatal(err)
	}
	return &net.UDPAddr{IP: relayed.IP, Port: relayed.Port}
}

func (c *rawClient) permit(ip net.IP, port int) int {
	c.t.Helper()
	return code(c.request(stun.MethodCreatePermission, peerAttr{ip, port}))
}
