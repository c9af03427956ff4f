package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// wsConn is the load generator's WebSocket client, written for the job rather than taken
// from a library: frames are built into one buffer and written with one syscall (a burst
// of sends costs the generator one write), and read through a large buffer, so that the
// generator on its own CPU is never what limits the relay it measures. It answers pings
// (onertc confirms delivery by pong) and needs nothing else of the protocol.
type wsConn struct {
	conn net.Conn
	br   *bufio.Reader
	// wmu serialises writers: the sender and the reader answering a ping.
	wmu  sync.Mutex
	wbuf []byte
	rbuf []byte
}

// dialWS opens ws://addr/ws with an Origin header (the original Collider refuses a
// handshake without one).
func dialWS(addr string) (*wsConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: b25lcnRjLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://" + addr + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake with %s: %s", addr, resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	return &wsConn{conn: conn, br: br}, nil
}

const (
	opText  = 1
	opClose = 8
	opPing  = 9
	opPong  = 10
)

// appendFrame appends one client frame. Client frames must be masked; the mask key is
// zero, which leaves the payload as it is (the servers unmask it all the same).
func appendFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, payload...)
}

// writeFrames writes the frames build appends, in one syscall.
func (c *wsConn) writeFrames(build func(b []byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = build(c.wbuf[:0])
	_ = c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.conn.Write(c.wbuf)
	return err
}

func (c *wsConn) writeText(payload []byte) error {
	return c.writeFrames(func(b []byte) []byte { return appendFrame(b, opText, payload) })
}

var errClosed = errors.New("closed by the server")

// readText returns the next text message, answering pings on the way. The slice is valid
// until the next call.
func (c *wsConn) readText() ([]byte, error) {
	msg := c.rbuf[:0]
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		if h[1]&0x80 != 0 {
			return nil, errors.New("masked frame from the server")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.br, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("frame of %d bytes", n)
		}
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			return nil, err
		}
		switch op {
		case opPing:
			payload := append([]byte(nil), msg[start:]...)
			msg = msg[:start]
			if err := c.writeFrames(func(b []byte) []byte { return appendFrame(b, opPong, payload) }); err != nil {
				return nil, err
			}
			continue
		case opPong:
			msg = msg[:start]
			continue
		case opClose:
			return nil, errClosed
		}
		if fin {
			c.rbuf = msg
			return msg, nil
		}
	}
}

func (c *wsConn) Close() error { return c.conn.Close() }
