package turn

import (
	"encoding/binary"
	"net/netip"
)

// The data plane parses and builds the three per-packet TURN messages itself (RFC 8656):
// ChannelData, Send indications (client → peer) and Data indications (peer → client). The
// parsers read network input and are fuzzed (FuzzWire); both work in place, on the caller's
// buffer, without allocating.

const (
	stunHeader      = 20
	stunMagic       = 0x2112A442
	typeSendInd     = 0x0016 // Send indication
	typeDataInd     = 0x0017 // Data indication
	attrXORPeerAddr = 0x0012
	attrData        = 0x0013
	channelMin      = 0x4000
	channelMax      = 0x7FFF
	// dataIndHeadroom is what a Data indication puts before the payload for an IPv4 peer:
	// STUN header, XOR-PEER-ADDRESS (4 + 8) and DATA's attribute header (4).
	dataIndHeadroom = stunHeader + 12 + 4
)

// isChannelData reports whether b starts like a ChannelData message (channel 0x4000-0x7FFF).
func isChannelData(b []byte) bool { return len(b) >= 4 && b[0]&0xC0 == 0x40 }

// parseChannelData returns the channel number and payload of a ChannelData message. Over UDP
// the payload may be followed by padding (RFC 8656 §12.5), which is not part of it.
func parseChannelData(b []byte) (num uint16, payload []byte, ok bool) {
	if !isChannelData(b) {
		return 0, nil, false
	}
	num = binary.BigEndian.Uint16(b[0:2])
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > len(b)-4 {
		return 0, nil, false
	}
	return num, b[4 : 4+n], true
}

// parseSendIndication returns the peer and payload of a Send indication, or ok false when b
// is not one or lacks either attribute. Attributes are walked once; the first of each counts.
func parseSendIndication(b []byte) (peer netip.AddrPort, payload []byte, ok bool) {
	if len(b) < stunHeader || binary.BigEndian.Uint16(b[0:2]) != typeSendInd ||
		binary.BigEndian.Uint32(b[4:8]) != stunMagic {
		return netip.AddrPort{}, nil, false
	}
	size := int(binary.BigEndian.Uint16(b[2:4]))
	if size%4 != 0 || size > len(b)-stunHeader {
		return netip.AddrPort{}, nil, false
	}
	attrs := b[stunHeader : stunHeader+size]
	var havePeer, haveData bool
	for len(attrs) >= 4 {
		t := binary.BigEndian.Uint16(attrs[0:2])
		l := int(binary.BigEndian.Uint16(attrs[2:4]))
		if l > len(attrs)-4 {
			return netip.AddrPort{}, nil, false
		}
		v := attrs[4 : 4+l]
		switch {
		case t == attrXORPeerAddr && !havePeer:
			if peer, havePeer = xorAddr(v, b[4:20]); !havePeer {
				return netip.AddrPort{}, nil, false
			}
		case t == attrData && !haveData:
			payload, haveData = v, true
		}
		padded := (l + 3) &^ 3
		if padded > len(attrs)-4 {
			return netip.AddrPort{}, nil, false // its padding is missing: malformed
		}
		attrs = attrs[4+padded:]
	}
	return peer, payload, havePeer && haveData
}

// xorAddr decodes an XOR-*-ADDRESS value; cookieTx is the message's bytes 4-20 (magic
// cookie and transaction ID), the XOR key.
func xorAddr(v, cookieTx []byte) (netip.AddrPort, bool) {
	if len(v) < 4 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:4]) ^ uint16(stunMagic>>16)
	switch {
	case v[1] == 0x01 && len(v) == 8:
		var a [4]byte
		for i := range a {
			a[i] = v[4+i] ^ cookieTx[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom4(a), port), true
	case v[1] == 0x02 && len(v) == 20:
		var a [16]byte
		for i := range a {
			a[i] = v[4+i] ^ cookieTx[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}

// putChannelData writes a ChannelData header for a payload of n bytes into h (4 bytes).
func putChannelData(h []byte, num uint16, n int) {
	binary.BigEndian.PutUint16(h[0:2], num)
	binary.BigEndian.PutUint16(h[2:4], uint16(n))
}

// putDataIndication writes a Data indication header for an n-byte payload from an IPv4 peer
// into h (dataIndHeadroom bytes) and returns how many zero bytes of padding must follow the
// payload. tx is the transaction ID.
func putDataIndication(h []byte, peer netip.AddrPort, n int, tx *[12]byte) (pad int) {
	pad = (4 - n%4) % 4
	binary.BigEndian.PutUint16(h[0:2], typeDataInd)
	binary.BigEndian.PutUint16(h[2:4], uint16(12+4+n+pad))
	binary.BigEndian.PutUint32(h[4:8], stunMagic)
	copy(h[8:20], tx[:])
	a := h[stunHeader:]
	binary.BigEndian.PutUint16(a[0:2], attrXORPeerAddr)
	binary.BigEndian.PutUint16(a[2:4], 8)
	a[4], a[5] = 0, 0x01
	binary.BigEndian.PutUint16(a[6:8], peer.Port()^uint16(stunMagic>>16))
	ip := peer.Addr().As4()
	binary.BigEndian.PutUint32(a[8:12], binary.BigEndian.Uint32(ip[:])^stunMagic)
	binary.BigEndian.PutUint16(a[12:14], attrData)
	binary.BigEndian.PutUint16(a[14:16], uint16(n))
	return pad
}
