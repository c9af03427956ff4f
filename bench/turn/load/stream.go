package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// streamConn is the client socket of an allocation over TCP or TLS, as the net.PacketConn
// pion's client wants. TURN on a stream (RFC 8656 §12.5) has no length prefix of its own
// (not RFC 4571's): a STUN message's header gives its length, a ChannelData header gives its
// data length, and over a stream ChannelData is padded to a multiple of 4 bytes, the padding
// not counted in that length. pion's STUNConn copies every read into a growing slice and
// writes ChannelData unpadded; this reads each frame in place from a buffered reader and pads
// what it writes.
type streamConn struct {
	conn net.Conn
	r    *bufio.Reader
	mu   sync.Mutex // guards pad
	pad  []byte     // a ChannelData frame being padded: written in one Write, as pion writes concurrently
}

func newStreamConn(c net.Conn) *streamConn {
	return &streamConn{conn: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// frameLen is the length of the frame whose first 4 bytes are hdr: on the stream (wire) and
// without ChannelData's padding (frame).
func frameLen(hdr []byte) (wire, frame int, err error) {
	l := int(binary.BigEndian.Uint16(hdr[2:4]))
	switch hdr[0] >> 6 {
	case 0: // STUN: a 20-byte header, then attributes whose lengths are multiples of 4
		return 20 + l, 20 + l, nil
	case 1: // ChannelData: a channel number starts with bits 01
		return 4 + (l+3)&^3, 4 + l, nil
	}
	return 0, 0, fmt.Errorf("TURN stream: first byte %#02x starts neither STUN nor ChannelData", hdr[0])
}

// appendFrame appends frame to dst as it goes on a stream: ChannelData padded with zeros.
func appendFrame(dst, frame []byte) []byte {
	dst = append(dst, frame...)
	if len(frame) >= 4 && frame[0]>>6 == 1 {
		for range (4 - len(frame)%4) % 4 {
			dst = append(dst, 0)
		}
	}
	return dst
}

// ReadFrom reads one frame into p, ChannelData without its padding.
func (s *streamConn) ReadFrom(p []byte) (int, net.Addr, error) {
	hdr, err := s.r.Peek(4)
	if err != nil {
		return 0, nil, err
	}
	wire, n, err := frameLen(hdr)
	if err != nil {
		return 0, nil, err
	}
	if wire > len(p) {
		return 0, nil, fmt.Errorf("TURN stream: a %d-byte frame for a %d-byte buffer", wire, len(p))
	}
	if _, err := io.ReadFull(s.r, p[:wire]); err != nil {
		return 0, nil, err
	}
	return n, s.conn.RemoteAddr(), nil
}

// WriteTo writes one frame in one Write (TCP and TLS conns do not interleave whole writes).
func (s *streamConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	if len(p) < 4 || len(p)%4 == 0 || p[0]>>6 != 1 {
		return s.conn.Write(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pad = appendFrame(s.pad[:0], p)
	if _, err := s.conn.Write(s.pad); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *streamConn) Close() error                       { return s.conn.Close() }
func (s *streamConn) LocalAddr() net.Addr                { return s.conn.LocalAddr() }
func (s *streamConn) SetDeadline(t time.Time) error      { return s.conn.SetDeadline(t) }
func (s *streamConn) SetReadDeadline(t time.Time) error  { return s.conn.SetReadDeadline(t) }
func (s *streamConn) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }
