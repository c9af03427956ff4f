// Package turntest speaks TURN by hand over UDP, for tests that must see exact response codes
// (pion's client folds them into error strings) or send a request at a moment of their own
// choosing, such as a Refresh after the credential expired.
package turntest

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun"
	pionturn "github.com/pion/turn/v2"
)

// Client speaks TURN by hand over UDP so tests can see exact response codes, which
// pion's client folds into error strings.
type Client struct {
	t     testing.TB
	conn  net.Conn
	user  string
	realm string // realm presented
	key   []byte
	nonce stun.Nonce
}

func Dial(t testing.TB, server, user, pass, realm string) *Client {
	t.Helper()
	c, err := net.Dial("udp4", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Client{t: t, conn: c, user: user, realm: realm, key: pionturn.GenerateAuthKey(user, realm, pass)}
}

// PeerAttr is an XOR-PEER-ADDRESS attribute.
type PeerAttr struct {
	IP   net.IP
	Port int
}

func (p PeerAttr) AddTo(m *stun.Message) error {
	return stun.XORMappedAddress{IP: p.IP, Port: p.Port}.AddToAs(m, stun.AttrXORPeerAddress)
}

// Lifetime is a LIFETIME attribute.
type Lifetime time.Duration

func (l Lifetime) AddTo(m *stun.Message) error {
	v := uint32(time.Duration(l) / time.Second)
	m.Add(stun.AttrLifetime, []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return nil
}

// UDPTransport is REQUESTED-TRANSPORT UDP.
var UDPTransport = stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}

// ChannelNumber is a CHANNEL-NUMBER attribute.
func ChannelNumber(n uint16) stun.RawAttribute {
	return stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{byte(n >> 8), byte(n), 0, 0}}
}

// Send sends one request and returns its response (not checked for success).
func (c *Client) Send(method stun.Method, auth bool, attrs ...stun.Setter) *stun.Message {
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

// Request sends an authenticated request, first learning the nonce if needed.
func (c *Client) Request(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	if c.nonce == nil {
		m := c.Send(method, false, attrs...)
		if Code(m) != 401 {
			c.t.Fatalf("unauthenticated %v: want 401, got %d", method, Code(m))
		}
		if err := c.nonce.GetFrom(m); err != nil {
			c.t.Fatalf("401 without nonce: %v", err)
		}
	}
	m := c.Send(method, true, attrs...)
	if Code(m) == 438 { // stale nonce: take the new one
		_ = c.nonce.GetFrom(m)
		m = c.Send(method, true, attrs...)
	}
	return m
}

// Code is the response's ERROR-CODE, 0 for success, -1 for an error without a code.
func Code(m *stun.Message) int {
	if m.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var e stun.ErrorCodeAttribute
	if err := e.GetFrom(m); err != nil {
		return -1
	}
	return int(e.Code)
}

// Allocate requests a UDP allocation.
func (c *Client) Allocate(attrs ...stun.Setter) (*stun.Message, int) {
	c.t.Helper()
	m := c.Request(stun.MethodAllocate, append([]stun.Setter{UDPTransport}, attrs...)...)
	return m, Code(m)
}

// MustAllocate allocates and returns the relayed address, failing the test otherwise.
func (c *Client) MustAllocate() *net.UDPAddr {
	c.t.Helper()
	m, rc := c.Allocate()
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

// Permit asks for a permission to peer ip:port.
func (c *Client) Permit(ip net.IP, port int) int {
	c.t.Helper()
	return Code(c.Request(stun.MethodCreatePermission, PeerAttr{IP: ip, Port: port}))
}

// Conn is the client's socket to the server (for ChannelData and Data indications).
func (c *Client) Conn() net.Conn { return c.conn }

// Refresh refreshes the allocation for lifetime and returns the response code.
func (c *Client) Refresh(lifetime time.Duration) int {
	c.t.Helper()
	return Code(c.Request(stun.MethodRefresh, Lifetime(lifetime)))
}

// ChannelBind binds channel (0x4000-0x7FFF) to peer and returns the response code.
func (c *Client) ChannelBind(channel uint16, peer *net.UDPAddr) int {
	c.t.Helper()
	return Code(c.Request(stun.MethodChannelBind, ChannelNumber(channel), PeerAttr{IP: peer.IP, Port: peer.Port}))
}

// KeepCall sends what a client in a call sends over time to keep its allocation: a Refresh,
// a CreatePermission for peer and a ChannelBind to it. It returns the three response codes.
func (c *Client) KeepCall(peer *net.UDPAddr, channel uint16, lifetime time.Duration) (refresh, permit, bind int) {
	c.t.Helper()
	return c.Refresh(lifetime), c.Permit(peer.IP, peer.Port), c.ChannelBind(channel, peer)
}

// Key is the long-term key the client signs with (to check a response's integrity).
func (c *Client) Key() []byte { return c.key }
