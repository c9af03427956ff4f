// Package servertest runs real onertc servers, TURN included, on ephemeral loopback ports for
// the tests of other packages (bots, browsers, check, TLS), so each does not grow its own.
package servertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/server"
	"github.com/onertc/onertc/server/limit"
)

// Config is the server configuration tests start from: loopback everything, TURN relaying
// to loopback, short grace and shutdown, no per-IP limits (every test client is 127.0.0.1),
// no periodic self-test, relay ports above the kernel's ephemeral range (docs/facts.md). Packages
// whose tests run at the same time should give each other distinct relay port ranges.
func Config() server.Config {
	cfg := server.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RelayGrace = 3 * time.Second
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.Limits = limit.Rates{}
	cfg.MaxSocketsPerIP = 0
	cfg.TURN.AllowLoopback = true
	cfg.TURN.PublicIP = "127.0.0.1"
	cfg.TURN.Realm = "onertc.test"
	cfg.TURN.Secret = "servertest-secret"
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 61000, 65000
	cfg.TURN.SelfTestInterval = 0
	return cfg
}

// Options adjust how a test server is started.
type Options struct {
	Log *slog.Logger // nil discards
	// WrapUDP and WrapTCP stand between the TURN sockets and the server, e.g. to act as
	// a firewall that drops or resets what arrives.
	WrapUDP func(net.PacketConn) net.PacketConn
	WrapTCP func(net.Listener) net.Listener
	// WrapTLS stands between the TURN-over-TLS listener of its own port (not the HTTPS
	// port's, which the server shares with TURN) and the server, as WrapTCP.
	WrapTLS func(net.Listener) net.Listener
	// Group turns group rooms on: the SFU gets a loopback UDP socket of its own; a room
	// holds cfg.RoomSize people (8 in Config).
	Group bool
	// ServerOptions are passed to server.New.
	ServerOptions []server.Option
	// HTTP, when set, is the HTTP(S) listener to serve on (when its port must be known
	// before the server starts, e.g. by a test CA that validates on it).
	HTTP net.Listener
}

// Running is a server serving until Stop.
type Running struct {
	*server.Server
	// URL is http(s)://127.0.0.1:port.
	URL    string
	Config server.Config
	stop   func() error
}

// Stop shuts the server down (once; later calls return the first result).
func (r *Running) Stop() error { return r.stop() }

// Start runs a server on cfg with fresh loopback listeners: HTTP, and unless TURN is
// disabled UDP and TCP on one port, plus TURN over TLS when cfg has a certificate, plus
// the SFU's UDP socket for Options.Group.
func Start(cfg server.Config, o Options) (*Running, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ln := o.HTTP
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp4", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("listen http: %w", err)
		}
	}
	ls := server.Listeners{HTTP: ln}
	if o.Group {
		if cfg.RoomSize <= 2 {
			ls.Close()
			return nil, fmt.Errorf("group rooms with a room size of %d", cfg.RoomSize)
		}
		sfu, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			ls.Close()
			return nil, fmt.Errorf("listen sfu udp: %w", err)
		}
		ls.SFU = sfu
		cfg.SFUAddr = sfu.LocalAddr().String()
	}
	if !cfg.TURN.Disabled {
		udp, tcp, err := listenTURN()
		if err != nil {
			ls.Close()
			return nil, err
		}
		cfg.TURN.Addr = udp.LocalAddr().String()
		ls.TURNUDP, ls.TURNTCP = []net.PacketConn{udp}, []net.Listener{tcp}
		if o.WrapUDP != nil {
			ls.TURNUDP[0] = o.WrapUDP(udp)
		}
		if o.WrapTCP != nil {
			ls.TURNTCP[0] = o.WrapTCP(tcp)
		}
		if cfg.TLS.Enabled() {
			tl, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				ls.Close()
				return nil, fmt.Errorf("listen turn tls: %w", err)
			}
			ls.TURNTLS = []net.Listener{tl}
			if o.WrapTLS != nil {
				ls.TURNTLS[0] = o.WrapTLS(tl)
			}
		}
	}
	cfg.HTTPAddr = ln.Addr().String()
	srv, err := server.New(cfg, o.Log, o.ServerOptions...)
	if err != nil {
		ls.Close()
		return nil, fmt.Errorf("new server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	scheme := "http://"
	if cfg.TLS.Enabled() {
		scheme = "https://"
	}
	var once sync.Once
	var stopErr error
	r := &Running{Server: srv, URL: scheme + ln.Addr().String(), Config: cfg}
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(cfg.ShutdownTimeout + 5*time.Second):
				stopErr = errors.New("server did not stop")
			}
		})
		return stopErr
	}
	return r, nil
}

// StartT is Start for a test: it fails the test when the server cannot start, and stops
// the server (reporting a failed shutdown) when the test ends.
func StartT(t testing.TB, cfg server.Config, o Options) *Running {
	t.Helper()
	r, err := Start(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	return r
}

// listenTURN opens a UDP and a TCP socket on one loopback port, as TURN URIs name one port
// for both.
func listenTURN() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen turn udp: %w", err)
		}
		ln, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		pc.Close()
	}
	return nil, nil, fmt.Errorf("listen turn tcp on the udp port: %w", lastErr)
}

// DropUDP is a WrapUDP firewall that drops every datagram that arrives.
func DropUDP(c net.PacketConn) net.PacketConn { return droppingConn{c} }

type droppingConn struct{ net.PacketConn }

func (d droppingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if n, addr, err := d.PacketConn.ReadFrom(p); err != nil {
			return n, addr, err
		}
	}
}

// RefuseTCP is a WrapTCP firewall that closes every connection at once, as a port behind
// a middlebox that resets them.
func RefuseTCP(l net.Listener) net.Listener { return refusingListener{l} }

type refusingListener struct{ net.Listener }

func (l refusingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c.Close()
	}
}
