package demux

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzClassify feeds arbitrary first bytes to the demultiplexer's decision and checks that
// it never hangs past its deadline or panics, that the route follows the first byte, and
// that whatever it hands over replays exactly the bytes it read.
func FuzzClassify(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {0x16}, {0x00}, {0x01}, []byte("GET / HTTP/1.1\r\n\r\n"), stunBinding,
		{0x00, 0x03, 0x00, 0x10}, {0x00, 0x01, 0xFF, 0xFC}, {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4},
		{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00}, {0xFF, 0xFE},
	} {
		f.Add(seed)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	ln.Close()
	m, err := New(ln.Addr(), Config{
		TLS:     &tls.Config{Certificates: []tls.Certificate{testCert(f)}, NextProtos: NextProtos(true)},
		TURN:    true,
		Timeout: 100 * time.Millisecond,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2*maxFirstFrame {
			return // longer inputs only add bytes the decision never reads
		}
		client, srv := net.Pipe()
		defer client.Close()
		defer srv.Close()
		go func() {
			_, _ = client.Write(data)
			_ = client.Close() // the sender is done: EOF after data
		}()
		// net.Pipe has no buffer: what the server writes back (a TLS alert) must be read,
		// or the server blocks until the deadline while the client is still writing. A
		// kernel socket would have taken it.
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = srv.SetDeadline(time.Now().Add(time.Second))
		start := time.Now()
		to, c, err := m.classify(srv)
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Fatalf("classify took %v", d)
		}
		if len(data) == 0 {
			if err == nil {
				t.Fatal("an empty connection was routed")
			}
			return
		}
		switch Plain(data[0]) {
		case RouteTLS:
			// Arbitrary bytes followed by EOF never complete a handshake.
			if err == nil {
				t.Fatalf("TLS bytes %x routed to %v", data, to.addr)
			}
			return
		case RouteHTTP:
			if err != nil || to != m.http {
				t.Fatalf("HTTP-looking %x: %v", data, err)
			}
			replayed(t, c, data)
		case RouteTURN:
			size := -1
			if len(data) >= 4 {
				if s, ferr := FrameSize([4]byte(data[:4])); ferr == nil && s <= len(data) {
					size = s
				}
			}
			if size < 0 {
				if err == nil {
					t.Fatalf("incomplete or bad first TURN frame %x routed", data)
				}
				return
			}
			if err != nil || to != m.turn {
				t.Fatalf("whole first TURN frame %x not routed to TURN: %v", data[:size], err)
			}
			replayed(t, c, data)
		}
	})
}

// replayed checks that c reads exactly want and then EOF.
func replayed(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	got, err := io.ReadAll(c)
	if err != nil && err != io.ErrClosedPipe {
		t.Fatalf("read routed conn: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("routed conn replays %x; want %x", got, want)
	}
}
