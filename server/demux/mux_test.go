package demux

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"
)

func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "demux.test"},
		DNSNames: []string{"demux.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startMux serves a Mux on a loopback port; the test reads from its four listeners.
func startMux(t testing.TB, mutate func(*Config)) (*Mux, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TLS: &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: NextProtos(true)}, TURN: true, Timeout: 2 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(ln.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ln) }()
	t.Cleanup(func() {
		m.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return m, ln.Addr().String()
}

// accept waits for one connection on l.
func accept(t testing.TB, l net.Listener) net.Conn {
	t.Helper()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		got <- c
	}()
	select {
	case c := <-got:
		if c == nil {
			t.Fatal("listener closed")
		}
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection routed there")
	}
	return nil
}

// stunBinding is a STUN Binding request with no attributes.
var stunBinding = []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func TestRoutes(t *testing.T) {
	t.Parallel()
	m, addr := startMux(t, nil)
	tests := []struct {
		name     string
		alpn     []string // nil: plain TCP; empty non-nil: TLS without ALPN
		send     []byte
		to       net.Listener
		wantTLS  bool // the listener gets the *tls.Conn itself
		wantALPN string
	}{
		{"plain HTTP", nil, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), m.HTTP(), false, ""},
		{"plain STUN", nil, stunBinding, m.TURN(), false, ""},
		{"TLS h2", []string{"h2", "http/1.1"}, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), m.HTTPS(), true, "h2"},
		{"TLS http/1.1", []string{"http/1.1"}, []byte("GET / HTTP/1.1\r\n\r\n"), m.HTTPS(), true, "http/1.1"},
		{"TLS stun.turn", []string{"stun.turn"}, stunBinding, m.TURNTLS(), false, "stun.turn"},
		{"TLS stun.turn before http/1.1 (coTurn's clients)", []string{"http/1.1", "stun.turn"}, stunBinding, m.TURNTLS(), false, "stun.turn"},
		{"TLS no ALPN, HTTP", []string{}, []byte("GET / HTTP/1.1\r\n\r\n"), m.HTTPS(), true, ""},
		{"TLS no ALPN, STUN (a browser on turns:)", []string{}, stunBinding, m.TURNTLS(), false, ""},
		{"TLS no ALPN, PUT", []string{}, []byte("PUT /x HTTP/1.1\r\n\r\n"), m.HTTPS(), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.alpn != nil {
				tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: tt.alpn})
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				if got := tc.ConnectionState().NegotiatedProtocol; got != tt.wantALPN {
					t.Fatalf("ALPN %q, want %q", got, tt.wantALPN)
				}
				c = tc
			}
			if _, err := c.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			got := accept(t, tt.to)
			if _, isTLS := got.(*tls.Conn); isTLS != tt.wantTLS {
				t.Fatalf("routed conn is %T; want the *tls.Conn itself: %v", got, tt.wantTLS)
			}
			// Every byte the client sent reaches the server it was routed to, in order.
			buf := make([]byte, len(tt.send))
			_ = got.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(got, buf); err != nil || !bytes.Equal(buf, tt.send) {
				t.Fatalf("routed conn read %q, %v; want %q", buf, err, tt.send)
			}
		})
	}
}
