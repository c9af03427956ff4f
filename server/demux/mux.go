package demux

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout is Config.Timeout when zero.
const DefaultTimeout = 10 * time.Second

// Config configures a Mux.
type Config struct {
	// TLS terminates connections that start with a TLS handshake. Its NextProtos should
	// offer h2, http/1.1 and, when TURN is on, stun.turn (see NextProtos).
	TLS *tls.Config
	// TURN routes STUN and ChannelData to the TURN listeners; when false such connections
	// are closed.
	TURN bool
	// Timeout bounds everything before a connection is handed over: TLS handshake, first
	// bytes, and for TURN its first whole message. Default 10 s.
	Timeout time.Duration
	// MaxPendingPerIP and MaxPending cap connections still being classified, per client IP
	// and in total; a connection over a cap is closed at once. 0: no cap.
	MaxPendingPerIP, MaxPending int
	// Logger gets debug lines for dropped connections; nil discards.
	Logger *slog.Logger
}

// NextProtos is the ALPN list the HTTPS port offers: HTTP first (browsers and HTTP
// clients always send ALPN), then TURN's RFC 7443 ids.
func NextProtos(turn bool) []string {
	p := []string{ALPNHTTP2, ALPNHTTP11}
	if turn {
		p = append(p, ALPNTURN, ALPNSTUN)
	}
	return p
}

// preferTURN returns base adjusted so that a client offering a TURN ALPN id gets it even
// when it offers http/1.1 too (coTurn's clients offer both): crypto/tls picks by the
// server's order, and HTTP comes first in it for everyone else.
func preferTURN(base *tls.Config, turn bool) *tls.Config {
	if !turn {
		return base
	}
	cfg := base.Clone()
	forTURN := base.Clone()
	forTURN.NextProtos = []string{ALPNTURN, ALPNSTUN}
	prev := base.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		for _, p := range hello.SupportedProtos {
			if p == ALPNTURN || p == ALPNSTUN {
				return forTURN, nil
			}
		}
		if prev != nil {
			return prev(hello)
		}
		return nil, nil
	}
	return cfg
}

// Mux classifies the connections of one listener.
type Mux struct {
	cfg                        Config
	log                        *slog.Logger
	https, http, turn, turnTLS *chanListener
	iceTCP                     *chanListener
	iceOn                      atomic.Bool // EnableICETCP

	mu      sync.Mutex
	ln      net.Listener
	perIP   map[netip.Addr]int
	pending map[net.Conn]struct{}
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup

	stats struct {
		https, http, turn, turnTLS, acme atomic.Uint64
		iceTCP                           atomic.Uint64
		overCap, failed                  atomic.Uint64
	}
}

// New makes a Mux for connections accepted on addr's listener (Serve).
func New(addr net.Addr, cfg Config) (*Mux, error) {
	if cfg.TLS == nil {
		return nil, errors.New("demux: no TLS config")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.TLS = preferTURN(cfg.TLS, cfg.TURN)
	if !tlsPeekable {
		cfg.Logger.Warn("this Go's crypto/tls hides its plaintext: TLS connections without ALPN (browsers on turns:) go to HTTPS")
	}
	return &Mux{
		cfg: cfg, log: cfg.Logger,
		https: newChanListener(addr), http: newChanListener(addr),
		turn: newChanListener(addr), turnTLS: newChanListener(addr), iceTCP: newChanListener(addr),
		perIP: make(map[netip.Addr]int), pending: make(map[net.Conn]struct{}),
		stop: make(chan struct{}),
	}, nil
}

// HTTPS yields the *tls.Conn of HTTPS connections, handshake done, unwrapped.
func (m *Mux) HTTPS() net.Listener { return m.https }

// HTTP yields plain-HTTP connections.
func (m *Mux) HTTP() net.Listener { return m.http }

// TURN yields TURN-over-TCP connections.
func (m *Mux) TURN() net.Listener { return m.turn }

// TURNTLS yields TURN-over-TLS connections (TLS already terminated).
func (m *Mux) TURNTLS() net.Listener { return m.turnTLS }

// EnableICETCP routes ICE-over-TCP connections (ICETCPFrame) to ICETCP's listener, whose
// taker (the SFU) must accept them; call it before Serve. Without it they are closed.
func (m *Mux) EnableICETCP() { m.iceOn.Store(true) }

// ICETCP yields ICE-over-TCP connections, their first frame replayed.
func (m *Mux) ICETCP() net.Listener { return m.iceTCP }

// Stats counts connections by where they went.
type Stats struct {
	HTTPS, HTTP, TURN, TURNTLS, ACME, ICETCP uint64
	// OverCap were closed at accept for the pending caps; Failed were closed for silence,
	// a failed handshake or bytes that are no protocol of this port.
	OverCap, Failed uint64
	Pending         int
}

// Stats returns the counters.
func (m *Mux) Stats() Stats {
	m.mu.Lock()
	pending := len(m.pending)
	m.mu.Unlock()
	return Stats{
		HTTPS: m.stats.https.Load(), HTTP: m.stats.http.Load(), TURN: m.stats.turn.Load(),
		TURNTLS: m.stats.turnTLS.Load(), ACME: m.stats.acme.Load(), ICETCP: m.stats.iceTCP.Load(),
		OverCap: m.stats.overCap.Load(), Failed: m.stats.failed.Load(), Pending: pending,
	}
}

// Serve accepts on ln until it is closed (by Close). The accept loop only counts and
// starts a goroutine; all reading happens in that goroutine, under the deadline.
func (m *Mux) Serve(ln net.Listener) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return net.ErrClosed
	}
	m.ln = ln
	m.mu.Unlock()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// EMFILE and friends: wait rather than spin, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				m.log.Warn("HTTPS port: accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-m.stop:
					return net.ErrClosed
				}
			}
			return fmt.Errorf("HTTPS port accept: %w", err)
		}
		backoff = 0
		ip := remoteIP(c)
		if !m.admit(c, ip) {
			m.stats.overCap.Add(1)
			_ = c.Close()
			continue
		}
		go m.handle(c, ip)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// admit counts c as pending unless a cap is reached or the mux is closed.
func (m *Mux) admit(c net.Conn, ip netip.Addr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || over(len(m.pending), m.cfg.MaxPending) || over(m.perIP[ip], m.cfg.MaxPendingPerIP) {
		return false
	}
	m.perIP[ip]++
	m.pending[c] = struct{}{}
	m.wg.Add(1)
	return true
}

func over(n, limit int) bool { return limit > 0 && n >= limit }

func (m *Mux) release(c net.Conn, ip netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, c)
	if m.perIP[ip]--; m.perIP[ip] <= 0 {
		delete(m.perIP, ip)
	}
	m.wg.Done()
}

// Close stops accepting, closes the connections still being classified and waits for
// their goroutines. Connections already handed over belong to their servers.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	var err error
	if m.ln != nil {
		err = m.ln.Close()
	}
	for c := range m.pending {
		_ = c.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return err
}

// handle classifies c and hands it over, or closes it.
func (m *Mux) handle(raw net.Conn, ip netip.Addr) {
	defer m.release(raw, ip)
	_ = raw.SetDeadline(time.Now().Add(m.cfg.Timeout))
	to, c, err := m.classify(raw)
	if err != nil {
		m.stats.failed.Add(1)
		if !errors.Is(err, io.EOF) {
			m.log.Debug("HTTPS port: connection dropped", "remote", raw.RemoteAddr().String(), "err", err)
		}
		_ = raw.Close()
		return
	}
	if to == nil { // done here (ACME TLS-ALPN-01)
		_ = c.Close()
		return
	}
	// The servers set their own deadlines from here on.
	_ = raw.SetDeadline(time.Time{})
	if !to.deliver(c, m.stop) {
		_ = c.Close()
	}
}

// classify reads what it needs from raw and returns the listener c goes to (nil with no
// error: nothing more to do) and the connection that listener gets.
func (m *Mux) classify(raw net.Conn) (*chanListener, net.Conn, error) {
	var first [1]byte
	if _, err := io.ReadFull(raw, first[:]); err != nil {
		return nil, nil, err
	}
	switch Plain(first[0]) {
	case RouteTLS:
		return m.classifyTLS(&prefixConn{Conn: raw, pre: first[:]})
	case RouteTURN:
		return m.plainSTUN(raw, first[0])
	}
	m.stats.http.Add(1)
	return m.http, &prefixConn{Conn: raw, pre: first[:]}, nil
}

// plainSTUN tells ICE over TCP from TURN over TCP and reads the first frame of either.
func (m *Mux) plainSTUN(raw net.Conn, first byte) (*chanListener, net.Conn, error) {
	hdr := make([]byte, ICETCPHeader, 160)
	hdr[0] = first
	if _, err := io.ReadFull(raw, hdr[1:]); err != nil {
		return nil, nil, fmt.Errorf("first STUN bytes: %w", err)
	}
	if size, ok := ICETCPFrame([ICETCPHeader]byte(hdr)); ok {
		if !m.iceOn.Load() {
			return nil, nil, errors.New("ICE over TCP is not served on this port")
		}
		buf := append(hdr, make([]byte, size-len(hdr))...)
		if _, err := io.ReadFull(raw, buf[len(hdr):]); err != nil {
			return nil, nil, fmt.Errorf("first ICE-TCP frame: %w", err)
		}
		m.stats.iceTCP.Add(1)
		return m.iceTCP, &prefixConn{Conn: raw, pre: buf}, nil
	}
	c, err := m.firstFrame(raw, hdr)
	if err != nil {
		return nil, nil, err
	}
	m.stats.turn.Add(1)
	return m.turn, c, nil
}

func (m *Mux) classifyTLS(raw net.Conn) (*chanListener, net.Conn, error) {
	tc := tls.Server(raw, m.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		return nil, nil, fmt.Errorf("tls handshake: %w", err)
	}
	switch p := tc.ConnectionState().NegotiatedProtocol; p {
	case ALPNHTTP2, ALPNHTTP11:
		m.stats.https.Add(1)
		return m.https, tc, nil
	case ALPNTURN, ALPNSTUN:
		return m.tlsTURN(tc, nil)
	case ALPNACMETLS1:
		// The certificate in the handshake was the answer (RFC 8737 §3); the CA closes.
		m.stats.acme.Add(1)
		return nil, tc, nil
	case "":
	default:
		return nil, nil, fmt.Errorf("ALPN %q is not served here", p)
	}
	b, err := peekDecrypted(tc)
	switch {
	case errors.Is(err, errNoPeek):
		m.stats.https.Add(1)
		return m.https, tc, nil
	case err != nil:
		return nil, nil, fmt.Errorf("first bytes after TLS: %w", err)
	case Decrypted(b) == RouteTURN:
		return m.tlsTURN(tc, nil)
	}
	m.stats.https.Add(1)
	return m.https, tc, nil
}

func (m *Mux) tlsTURN(tc *tls.Conn, pre []byte) (*chanListener, net.Conn, error) {
	c, err := m.firstFrame(tc, pre)
	if err != nil {
		return nil, nil, err
	}
	m.stats.turnTLS.Add(1)
	return m.turnTLS, c, nil
}

// firstFrame reads the rest of the first TURN frame (pre holds what was read already) and
// returns c replaying it.
func (m *Mux) firstFrame(c net.Conn, pre []byte) (net.Conn, error) {
	if !m.cfg.TURN {
		return nil, errors.New("TURN is not served on this port")
	}
	// pre may hold more than the 4 header bytes (plainSTUN reads ICETCPHeader), never
	// more than a frame: the smallest STUN message is 20 bytes.
	buf := append(make([]byte, 0, 128), pre...)
	if len(buf) < 4 {
		buf = buf[:4]
		if _, err := io.ReadFull(c, buf[len(pre):]); err != nil {
			return nil, fmt.Errorf("first TURN frame header: %w", err)
		}
	}
	size, err := FrameSize([4]byte(buf[:4]))
	if err != nil {
		return nil, err
	}
	if size < len(buf) {
		return nil, fmt.Errorf("%w: first frame of %d bytes, shorter than its header", ErrNotTURN, size)
	}
	have := len(buf)
	buf = append(buf, make([]byte, size-have)...)
	if _, err := io.ReadFull(c, buf[have:]); err != nil {
		return nil, fmt.Errorf("first TURN frame: %w", err)
	}
	return &prefixConn{Conn: c, pre: buf}, nil
}
