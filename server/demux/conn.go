package demux

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"unsafe"
)

// prefixConn replays bytes already read from a connection before reading on. Only the TURN
// server and the plain-HTTP redirect ever see one, and the TLS layer reads through one
// (below the *tls.Conn); net/http's HTTPS side gets the *tls.Conn itself.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// tlsInputOffset is where crypto/tls keeps the decrypted data of the current record in a
// Conn: the field input, a bytes.Reader. See peekDecrypted.
var tlsInputOffset, tlsPeekable = func() (uintptr, bool) {
	f, ok := reflect.TypeFor[tls.Conn]().FieldByName("input")
	if !ok || f.Type != reflect.TypeFor[bytes.Reader]() {
		return 0, false
	}
	return f.Offset, true
}()

// errNoPeek is returned when this Go's crypto/tls no longer keeps its plaintext where
// peekDecrypted looks (a test fails first; see TestRoutes, "TLS no ALPN, HTTP").
var errNoPeek = errors.New("demux: cannot peek inside crypto/tls.Conn with this Go version")

// peekDecrypted returns the first decrypted byte of tc without consuming it, so the same
// *tls.Conn can go on to net/http untouched: net/http needs the real *tls.Conn (it
// type-asserts it to fill Request.TLS and pick h2), so a wrapper replaying the byte is not
// an option, and crypto/tls has no Peek.
//
// A 1-byte Read decrypts the first application-data record into the Conn's input reader
// (a bytes.Reader over the record's plaintext) and takes one byte from it; UnreadByte on
// that reader steps back, leaving the Conn exactly as before the Read. The field is
// private: its presence and type are checked once (tlsPeekable) and a test reads through
// the peeked Conn, so a Go release that moves it fails the tests instead of misrouting.
// The one case UnreadByte cannot undo, a 1-byte record followed by close_notify, is a
// client that already closed; it fails here and the connection is dropped.
func peekDecrypted(tc *tls.Conn) (byte, error) {
	if !tlsPeekable {
		return 0, errNoPeek
	}
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		return 0, err
	}
	// Only this goroutine holds tc until it is handed over.
	in := (*bytes.Reader)(unsafe.Add(unsafe.Pointer(tc), tlsInputOffset))
	if err := in.UnreadByte(); err != nil {
		return 0, fmt.Errorf("put back the first decrypted byte: %w", err)
	}
	return b[0], nil
}

// chanListener is a net.Listener fed by the demultiplexer.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept; the shared socket stays open (Mux.Close closes it).
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// deliver hands c to the listener's Accept; false when the listener or the mux closed
// first (the caller closes c).
func (l *chanListener) deliver(c net.Conn, stop <-chan struct{}) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
	case <-stop:
	}
	return false
}
