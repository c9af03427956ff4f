package turn

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/stun"

	"github.com/onertc/onertc/internal/testkit/turntest"
)

// FuzzWire holds the data plane's parsers to pion/stun's decoder: a Send indication they
// accept decodes there to the same peer and payload; a ChannelData they accept re-frames to
// itself; a Data indication built around any payload decodes there to that payload and peer.
func FuzzWire(f *testing.F) {
	send := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		turntest.PeerAttr{IP: net.IPv4(198, 51, 100, 7), Port: 4000}, stun.RawAttribute{Type: stun.AttrData, Value: []byte("hello")})
	f.Add(send.Raw)
	f.Add([]byte{0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0})
	f.Add([]byte{0x7f, 0xff, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if peer, payload, ok := parseSendIndication(b); ok {
			m := &stun.Message{Raw: append([]byte(nil), b...)}
			if err := m.Decode(); err != nil {
				t.Fatalf("accepted a Send indication pion/stun cannot decode: %v", err)
			}
			if m.Type != stun.NewType(stun.MethodSend, stun.ClassIndication) {
				t.Fatalf("accepted %v as a Send indication", m.Type)
			}
			data, err := m.Get(stun.AttrData)
			if err != nil || !bytes.Equal(data, payload) {
				t.Fatalf("DATA %x, pion/stun %x (%v)", payload, data, err)
			}
			var xa stun.XORMappedAddress
			if err := xa.GetFromAs(m, stun.AttrXORPeerAddress); err == nil {
				if got := udpAddrPort(xa.IP, xa.Port); got != peer {
					t.Fatalf("peer %v, pion/stun %v", peer, got)
				}
			}
		}
		if num, payload, ok := parseChannelData(b); ok {
			if num < channelMin || num > channelMax {
				t.Fatalf("channel %#x accepted", num)
			}
			out := make([]byte, 4+len(payload))
			putChannelData(out, num, len(payload))
			copy(out[4:], payload)
			if !bytes.HasPrefix(b, out) {
				t.Fatalf("re-framed %x, from %x", out, b)
			}
		}
		if len(b) > 1500 {
			return
		}
		peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(len(b))}), uint16(len(b)*7))
		buf := make([]byte, dataIndHeadroom+len(b)+3)
		copy(buf[dataIndHeadroom:], b)
		var tx [12]byte
		copy(tx[:], b)
		pad := putDataIndication(buf[:dataIndHeadroom], peer, len(b), &tx)
		clear(buf[dataIndHeadroom+len(b) : dataIndHeadroom+len(b)+pad])
		m := &stun.Message{Raw: buf[:dataIndHeadroom+len(b)+pad]}
		if err := m.Decode(); err != nil {
			t.Fatalf("built Data indication does not decode: %v", err)
		}
		var xa stun.XORMappedAddress
		data, err := m.Get(stun.AttrData)
		if m.Type != stun.NewType(stun.MethodData, stun.ClassIndication) || err != nil || !bytes.Equal(data, b) ||
			xa.GetFromAs(m, stun.AttrXORPeerAddress) != nil || udpAddrPort(xa.IP, xa.Port) != peer || m.TransactionID != tx {
			t.Fatalf("built Data indication decodes to %v %x %v:%d", m.Type, data, xa.IP, xa.Port)
		}
	})
}
