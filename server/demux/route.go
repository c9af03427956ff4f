// Package demux shares one TCP port (the HTTPS port, 443 in production) between HTTPS, plain
// HTTP and TURN over TLS and over TCP. Each accepted connection is classified by its first
// bytes, with a deadline, in a goroutine of its own, and handed to one of four listeners:
// HTTPS (the real *tls.Conn, unwrapped, for net/http), HTTP (plain, for the redirect), TURN
// and TURNTLS (for the TURN server).
//
// The decision, in order:
//   - first byte 0x16 (a TLS handshake record): TLS is terminated here once, with the
//     served certificate. ALPN h2 or http/1.1 → HTTPS; stun.turn or stun.nat-discovery
//     (RFC 7443) → TURN over TLS; acme-tls/1 → closed once the handshake has answered the
//     ACME challenge; no ALPN (what browsers send on turns:) → the first decrypted byte:
//     STUN (0x00/0x01) → TURN over TLS, anything else → HTTPS. (ChannelData, 0x40-0x7F,
//     never opens a connection and overlaps the letters HTTP methods start with.)
//   - first byte 0x00/0x01: a STUN message → TURN over TCP; or, when ICE over TCP is on, an
//     RFC 4571 frame (a 2-byte length) holding a STUN Binding request → ICE-TCP (see
//     ICETCPFrame), for the SFU.
//   - anything else → plain HTTP.
//
// A connection is "pending" until it is handed over; pending connections are capped per
// client IP and in total, and each has one deadline for all of it (handshake included).
// TURN connections are handed over only once their first whole STUN message has arrived,
// so a client that stops half-way is closed here rather than holding a TURN goroutine.
package demux

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Route is where a connection goes.
type Route uint8

// The routes, and the TLS step in between.
const (
	RouteHTTP Route = iota + 1 // plain HTTP, or HTTPS after TLS
	RouteTLS                   // a TLS handshake: terminate, then decide again
	RouteTURN                  // TURN (STUN messages and ChannelData)
)

func (r Route) String() string {
	switch r {
	case RouteHTTP:
		return "http"
	case RouteTLS:
		return "tls"
	case RouteTURN:
		return "turn"
	}
	return fmt.Sprintf("route(%d)", uint8(r))
}

// Plain decides from the first byte of a connection: 0x16 is a TLS handshake record, 0x00
// and 0x01 start a STUN message (a TURN client's first message is always STUN: the top two
// bits are zero and TURN methods fit in the low bits), anything else is HTTP.
func Plain(first byte) Route {
	switch first {
	case 0x16:
		return RouteTLS
	case 0x00, 0x01:
		return RouteTURN
	}
	return RouteHTTP
}

// Decrypted decides from the first byte inside TLS when ALPN said nothing: a STUN message
// (0x00/0x01) is TURN, anything else HTTP. ChannelData cannot come first: a client binds a
// channel with a STUN request before it sends any, and its first byte (0x40-0x7F) is also
// the range of the ASCII letters HTTP methods start with, so it must not decide here.
func Decrypted(first byte) Route {
	if first == 0x00 || first == 0x01 {
		return RouteTURN
	}
	return RouteHTTP
}

// ALPN protocol ids the demultiplexer knows.
const (
	ALPNHTTP2    = "h2"
	ALPNHTTP11   = "http/1.1"
	ALPNTURN     = "stun.turn"          // RFC 7443
	ALPNSTUN     = "stun.nat-discovery" // RFC 7443
	ALPNACMETLS1 = "acme-tls/1"         // RFC 8737, answered during the handshake
)

// maxFirstFrame bounds the first TURN frame held here. A client's first message is an
// Allocate or a Binding request, a few hundred bytes; STUN messages are meant to fit a
// datagram.
const maxFirstFrame = 4096

// ErrNotTURN is returned for a first frame that is neither STUN nor ChannelData, or too big.
var ErrNotTURN = errors.New("not a TURN frame")

// FrameSize is the size of a TURN-over-stream frame (RFC 5766 §11.5) given its first four
// bytes: a STUN message (20-byte header plus its length) or ChannelData (4-byte header plus
// its length padded to 4). Frames over maxFirstFrame are refused.
func FrameSize(hdr [4]byte) (int, error) {
	n := int(binary.BigEndian.Uint16(hdr[2:4]))
	var size int
	switch hdr[0] & 0xC0 {
	case 0x00:
		if n%4 != 0 {
			return 0, fmt.Errorf("%w: STUN length %d is not a multiple of 4", ErrNotTURN, n)
		}
		size = 20 + n
	case 0x40:
		size = 4 + (n+3)&^3
	default:
		return 0, fmt.Errorf("%w: first byte 0x%02x", ErrNotTURN, hdr[0])
	}
	if size > maxFirstFrame {
		return 0, fmt.Errorf("%w: first frame of %d bytes (at most %d)", ErrNotTURN, size, maxFirstFrame)
	}
	return size, nil
}

// stunMagic is the STUN magic cookie (RFC 5389).
const stunMagic = 0x2112A442

// ICETCPHeader is how many first bytes ICETCPFrame needs. A TURN client's first message
// has at least a 20-byte STUN header, so reading this many never waits on one.
const ICETCPHeader = 10

// ICETCPFrame tells ICE over TCP (RFC 6544: RFC 4571 framing, a 2-byte length, then a STUN
// Binding request) from TURN over TCP (a bare STUN message) by the first ICETCPHeader
// bytes, and returns the frame's whole size. It cannot match a TURN message: there bytes
// 2-3 are the STUN length, a multiple of 4, where ICE-TCP has the Binding type 0x0001.
func ICETCPFrame(hdr [ICETCPHeader]byte) (size int, ok bool) {
	frame := int(binary.BigEndian.Uint16(hdr[0:2]))
	if binary.BigEndian.Uint16(hdr[2:4]) != 0x0001 || binary.BigEndian.Uint32(hdr[6:10]) != stunMagic {
		return 0, false
	}
	stunLen := int(binary.BigEndian.Uint16(hdr[4:6]))
	if stunLen%4 != 0 || frame != 20+stunLen || 2+frame > maxFirstFrame {
		return 0, false
	}
	return 2 + frame, true
}
