package turn

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// guardedPacketConn is a UDP listener socket as pion sees it: reads pass the data plane and
// the guard first (pion gets only what they leave), responses are observed on their way out.
type guardedPacketConn struct {
	net.PacketConn
	s       *Server
	local   net.Addr
	localAP netip.AddrPort
	addrs   *addrCache   // sources, when PacketConn is a *net.UDPConn
	batch   *batchReader // recvmmsg, when PacketConn is a *net.UDPConn on Linux
	fs      listenerState
}

// listenerAddrCache is the number of client addresses each UDP listener socket remembers.
const listenerAddrCache = 4096

func newGuardedPacketConn(c net.PacketConn, s *Server) *guardedPacketConn {
	g := &guardedPacketConn{PacketConn: c, s: s, local: c.LocalAddr()}
	if uc, ok := c.(*net.UDPConn); ok {
		g.addrs = newAddrCache(listenerAddrCache)
		g.batch = newBatchReader(uc)
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
			g.localAP = ua.AddrPort()
		}
	}
	if g.batch != nil && s.plane != nil {
		g.attachPlane()
	}
	return g
}

// fast reports whether the data plane handles this socket's data (its relays are fast too).
func (c *guardedPacketConn) fast() bool { return c.batch != nil && c.s.plane != nil }

func (c *guardedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.batch == nil {
		return c.readFromEach(p)
	}
	b := c.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		// The data plane's messages never get here: fill relays them (see batchReader).
		slot, n, src, ok := b.take()
		if !ok {
			if err := b.fill(); err != nil {
				return 0, nil, err
			}
			continue
		}
		d := slot[slotHead : slotHead+n]
		addr := c.addrs.get(src)
		if !mayBeRequest(d) || c.s.inbound(d, addr, c.local, c.PacketConn) {
			return copy(p, d), addr, nil
		}
	}
}

// readFromEach is ReadFrom for sockets read one datagram at a time.
func (c *guardedPacketConn) readFromEach(p []byte) (int, net.Addr, error) {
	for {
		var n int
		var addr net.Addr
		var err error
		if c.addrs != nil {
			n, addr, err = readFromCached(c.PacketConn.(*net.UDPConn), c.addrs, p)
		} else {
			n, addr, err = c.PacketConn.ReadFrom(p)
		}
		if err != nil {
			return n, addr, err
		}
		if !mayBeRequest(p[:n]) || c.s.inbound(p[:n], addr, c.local, c.PacketConn) {
			return n, addr, nil
		}
	}
}

func (c *guardedPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if mayBeResponse(p) {
		if out := c.s.outbound(p, addr, c.local); len(out) != len(p) || &out[0] != &p[0] {
			_, err := c.PacketConn.WriteTo(out, addr)
			return len(p), err
		}
	}
	return c.PacketConn.WriteTo(p, addr)
}

// guardedListener wraps a TCP or TLS listener; it tracks accepted connections so Close
// can end them (pion does not).
type guardedListener struct {
	net.Listener
	s *Server
}

func (l *guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := &guardedConn{Conn: c, s: l.s, r: bufio.NewReaderSize(c, 4096), remote: c.RemoteAddr(), local: c.LocalAddr()}
	if !l.s.trackConn(g, true) {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	// Until its first message, a client has FirstFrameTimeout: the read deadline also
	// bounds a TLS handshake, which crypto/tls runs inside the first Read.
	_ = c.SetReadDeadline(time.Now().Add(l.s.cfg.FirstFrameTimeout))
	return g, nil
}

// guardedConn is one TURN-over-TCP/TLS connection. It splits the stream into frames (STUN
// messages and padded ChannelData, RFC 5766 §11.5) so the guard sees whole messages; pion's
// STUNConn reframes what it passes on.
type guardedConn struct {
	net.Conn
	s      *Server
	r      *bufio.Reader
	frame  []byte
	pend   []byte
	remote net.Addr
	local  net.Addr
	once   sync.Once
	seen   bool // a whole frame arrived: the first-frame deadline is lifted
}

func (c *guardedConn) Read(p []byte) (int, error) {
	for len(c.pend) == 0 {
		f, err := c.readFrame()
		if err != nil {
			return 0, err
		}
		if !mayBeRequest(f) || c.s.inbound(f, c.remote, c.local, streamReplier{c.Conn}) {
			c.pend = f
		}
	}
	n := copy(p, c.pend)
	c.pend = c.pend[n:]
	return n, nil
}

func (c *guardedConn) readFrame() ([]byte, error) {
	hdr, err := c.r.Peek(4)
	if err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(hdr[2:4]))
	switch {
	case hdr[0]&0xC0 == 0: // STUN
		size += 20
	case hdr[0]&0xC0 == 0x40: // ChannelData, padded to 4 over streams
		size = 4 + (size+3)&^3
	default:
		return nil, fmt.Errorf("TURN over TCP from %s: not a STUN or ChannelData frame (0x%02x)", c.remote, hdr[0])
	}
	if cap(c.frame) < size {
		c.frame = make([]byte, size)
	}
	c.frame = c.frame[:size]
	if _, err := io.ReadFull(c.r, c.frame); err != nil {
		return nil, err
	}
	if !c.seen {
		c.seen = true
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	return c.frame, nil
}

func (c *guardedConn) Write(p []byte) (int, error) {
	if mayBeResponse(p) {
		if out := c.s.outbound(p, c.remote, c.local); len(out) != len(p) || &out[0] != &p[0] {
			_, err := c.Conn.Write(out)
			return len(p), err
		}
	}
	return c.Conn.Write(p)
}

// Close ends the connection and, unlike pion, the allocations made over it: nothing can
// reach their client any more.
func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.trackConn(c, false)
		for _, r := range c.s.reg.relaysOf(addrKey(c.remote)) {
			_ = r.Close()
		}
	})
	return err
}

type streamReplier struct{ c net.Conn }

func (w streamReplier) WriteTo(p []byte, _ net.Addr) (int, error) { return w.c.Write(p) }

// relayConn is a relay socket handed to pion. Its Close tells the registry the allocation
// is over; its WriteTo applies the peer policy per destination (permissions are per IP, so
// ports, own listener ports above all, are checked here) and counts relayed traffic.
type relayConn struct {
	*net.UDPConn
	s    *Server
	port int
	rec  *allocRec // guarded by s.reg.mu
	once sync.Once
	// okPeer is the last destination the policy allowed. pion relays ChannelData to the
	// *net.UDPAddr its channel binding holds, the same pointer for every datagram and never
	// modified, and the policy's admitted verdict does not change: a hit skips the per-datagram check (the
	// address conversion and, for public peers, the walk of the special-purpose ranges).
	okPeer atomic.Pointer[net.UDPAddr]
	addrs  *addrCache // peers heard from
	// fast is set when the data plane reads the socket (its allocation is on a UDP listener
	// socket it serves): pion's reader then waits in ReadFrom until the socket closes.
	fast   *fastAlloc
	rc     syscall.RawConn
	closed chan struct{}
}

// relayAddrCache is the number of peer addresses each relay socket remembers.
const relayAddrCache = 4

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		c.s.stats.dataDenied.Add(1)
		return len(p), nil
	}
	if c.okPeer.Load() != ua {
		ap := ua.AddrPort()
		v := c.s.policy.judge(ap)
		if !c.s.policy.admits(v, ap.Port()) {
			c.s.stats.dataDenied.Add(1)
			return len(p), nil // dropped quietly, like a permission-less packet
		}
		if v == admitted {
			c.okPeer.Store(ua)
		}
	}
	n, err := c.UDPConn.WriteTo(p, addr)
	if err == nil {
		c.s.stats.toPeerPackets.Add(1)
		c.s.stats.toPeerBytes.Add(uint64(n))
	}
	return n, err
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.fast != nil {
		<-c.closed
		return 0, nil, net.ErrClosed
	}
	n, addr, err := readFromCached(c.UDPConn, c.addrs, p)
	if err == nil {
		c.s.stats.fromPeerPackets.Add(1)
		c.s.stats.fromPeerBytes.Add(uint64(n))
	}
	return n, addr, err
}

func (c *relayConn) Close() error {
	c.once.Do(func() {
		c.s.policy.relayPorts.remove(uint16(c.port)) // before the port is free for others
		c.s.reg.relayClosed(c)
		if c.fast != nil {
			c.s.plane.remove(c.fast)
			c.s.plane.loopFor(c.port).del(c)
			close(c.closed)
		}
	})
	return c.UDPConn.Close()
}

// relayGen is the pion RelayAddressGenerator: udp4 sockets on random ports of the range,
// advertised at PublicIP. lis is the UDP listener socket whose requests it serves (pion asks
// for a relay while handling an Allocate, in that socket's read goroutine), nil for TCP/TLS.
type relayGen struct {
	s   *Server
	lis *guardedPacketConn
}

func (g relayGen) Validate() error { return nil }

const relayPortTries = 32

func (g relayGen) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	cfg := &g.s.cfg
	span := int(cfg.RelayPortMax) - int(cfg.RelayPortMin) + 1
	var lastErr error
	for try := 0; try < relayPortTries; try++ {
		port := requestedPort
		if port == 0 {
			port = int(cfg.RelayPortMin) + rand.IntN(span)
		}
		pc, err := net.ListenPacket(network, net.JoinHostPort(cfg.RelayAddress, strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			if requestedPort != 0 {
				break
			}
			continue
		}
		c := &relayConn{UDPConn: pc.(*net.UDPConn), s: g.s, port: port, addrs: newAddrCache(relayAddrCache)}
		g.s.policy.relayPorts.add(uint16(port))
		if g.lis != nil && g.lis.fast() {
			g.makeFast(c)
		}
		g.s.reg.addRelay(c)
		return c, &net.UDPAddr{IP: cfg.PublicIP, Port: port}, nil
	}
	g.s.log.Warn("TURN relay port allocation failed", "err", lastErr)
	return nil, nil, fmt.Errorf("%w in %d-%d: %v", ErrNoRelayPort, cfg.RelayPortMin, cfg.RelayPortMax, lastErr)
}

// makeFast hands c to the data plane; if that fails, pion reads it as before.
func (g relayGen) makeFast(c *relayConn) {
	rc, err := relaySyscallConn(c.UDPConn)
	if err != nil {
		return
	}
	c.rc, c.closed = rc, make(chan struct{})
	c.fast = g.s.plane.newAlloc(c, g.lis)
	if err := g.s.plane.loopFor(c.port).add(c); err != nil {
		g.s.log.Warn("TURN relay socket left to pion", "err", err, "relay_port", c.port)
		g.s.plane.remove(c.fast)
		c.fast = nil
	}
}

func (g relayGen) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, ErrTCPRelay
}
