// Package turn is onertc's built-in TURN server: pion/turn v2 on sockets the caller creates,
// with coTurn-compatible TURN REST credentials (use-auth-secret, secret rotation, expiry
// checked at Allocate only), an SSRF-safe peer policy, coTurn-style quotas and error codes,
// and the HTTP handlers that mint credentials (GET /turn, POST /v1alpha/iceconfig).
//
// pion keeps its allocations private, so the package wraps the sockets it hands to pion:
// the listener sockets see each request before pion (authentication, policy, quotas) and
// each response after it (which allocations exist), and the relay sockets tell when an
// allocation ends and check every relayed datagram's destination.
package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v2"
)

// Server is a running TURN server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	auth   *authenticator
	policy *peerPolicy
	reg    *registry
	stats  counters
	pion   *pionturn.Server
	plane  *plane // the data plane; nil where the platform has none
	// skew moves the server's clock (credential expiry, allocation deadlines) ahead of the
	// wall clock, and noExpiryGrace switches off the rule that lets a live allocation's
	// requests through after its credential expired. Both exist for tests only: the first
	// spares them waiting for a credential to expire, the second proves a test can tell a
	// server that has the rule from one that has not.
	skew          atomic.Int64 // nanoseconds
	noExpiryGrace atomic.Bool

	connMu sync.Mutex
	conns  map[*guardedConn]struct{}
	closed bool

	stop     chan struct{}
	done     chan struct{}
	closeErr error
	closeOne sync.Once
}

// New validates cfg and starts serving on its sockets.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		auth:   newAuthenticator(cfg.Realm, cfg.Secret, cfg.OldSecret),
		policy: newPeerPolicy(&cfg),
		reg:    newRegistry(cfg.UserQuota, cfg.TotalQuota),
		conns:  make(map[*guardedConn]struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.stats.init()
	pl, err := newPlaneIfSupported(s)
	if err != nil {
		return nil, err
	}
	s.plane = pl
	gen := relayGen{s: s}
	pc := pionturn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.pionAuth,
		LoggerFactory: newLoggerFactory(s.log),
	}
	perm := func(_ net.Addr, ip net.IP) bool { return s.policy.allowedIP(ip) }
	for _, c := range cfg.PacketConns {
		g := newGuardedPacketConn(c, s)
		pc.PacketConnConfigs = append(pc.PacketConnConfigs, pionturn.PacketConnConfig{
			PacketConn:            g,
			RelayAddressGenerator: relayGen{s: s, lis: g},
			PermissionHandler:     perm,
		})
	}
	for _, l := range append(append([]net.Listener(nil), cfg.Listeners...), cfg.TLSListeners...) {
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{
			Listener:              &guardedListener{Listener: l, s: s},
			RelayAddressGenerator: gen,
			PermissionHandler:     perm,
		})
	}
	p, err := pionturn.NewServer(pc)
	if err != nil {
		if s.plane != nil {
			s.plane.closeLoops()
		}
		return nil, fmt.Errorf("starting pion TURN server: %w", err)
	}
	s.pion = p
	go s.janitor()
	s.log.Info("TURN server started", "realm", cfg.Realm, "public_ip", cfg.PublicIP.String(),
		"udp", len(cfg.PacketConns), "tcp", len(cfg.Listeners), "tls", len(cfg.TLSListeners),
		"relay_ports", fmt.Sprintf("%d-%d", cfg.RelayPortMin, cfg.RelayPortMax))
	return s, nil
}

// now is the server's clock: the wall clock, moved by skew in tests.
func (s *Server) now() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }

// pionAuth is pion's AuthHandler. The guard has already verified the request (pion calls
// this only for requests carrying MESSAGE-INTEGRITY, which the guard checks first) and left
// the key that verified it; a request the guard did not verify finds none and is refused.
func (s *Server) pionAuth(username, realm string, src net.Addr) ([]byte, bool) {
	if realm != s.cfg.Realm {
		return nil, false
	}
	return s.reg.key(addrKey(src), username)
}

// janitor expires pending reservations and stale keys and enforces allocation deadlines.
func (s *Server) janitor() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.now()
			if s.plane != nil {
				s.plane.tick(now)
			}
			for _, r := range s.reg.sweep(now) {
				s.log.Debug("TURN allocation past its lifetime closed", "relay_port", r.port)
				_ = r.Close()
			}
		}
	}
}

// trackConn adds or removes an accepted TCP/TLS connection; adding fails after Close.
func (s *Server) trackConn(c *guardedConn, add bool) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// Close stops the server: it closes the listener sockets, the accepted connections and
// every relay socket. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOne.Do(func() {
		close(s.stop)
		<-s.done
		var errs []error
		if err := s.pion.Close(); err != nil {
			errs = append(errs, err)
		}
		s.connMu.Lock()
		s.closed = true
		conns := make([]*guardedConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.connMu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		for _, r := range s.reg.all() {
			_ = r.Close()
		}
		if s.plane != nil {
			s.plane.closeLoops()
		}
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("closing TURN server: %w", errors.Join(errs...))
		}
	})
	return s.closeErr
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	AllocationsActive int               // allocations alive now
	AllocationsTotal  uint64            // allocations created since start
	AuthFailures      map[string]uint64 // refused credentials by Reason*
	PermissionDenied  uint64            // CreatePermission/ChannelBind refused by the peer policy (403)
	DataDenied        uint64            // relayed datagrams dropped by the peer policy
	QuotaRefused      uint64            // Allocates refused over quota (486)
	ToPeerPackets     uint64            // client → peer datagrams sent by relay sockets
	ToPeerBytes       uint64
	FromPeerPackets   uint64 // peer → relay socket datagrams received
	FromPeerBytes     uint64
}

type counters struct {
	allocationsTotal atomic.Uint64
	auth             map[string]*atomic.Uint64 // fixed key set, built once
	permissionDenied atomic.Uint64
	dataDenied       atomic.Uint64
	quotaRefused     atomic.Uint64
	toPeerPackets    atomic.Uint64
	toPeerBytes      atomic.Uint64
	fromPeerPackets  atomic.Uint64
	fromPeerBytes    atomic.Uint64
}

func (c *counters) init() {
	c.auth = make(map[string]*atomic.Uint64, len(authReasons))
	for _, r := range authReasons {
		c.auth[r] = new(atomic.Uint64)
	}
}

func (c *counters) authFailed(reason string) {
	if n, ok := c.auth[reason]; ok {
		n.Add(1)
	}
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	live, _ := s.reg.counts()
	st := Stats{
		AllocationsActive: live,
		AllocationsTotal:  s.stats.allocationsTotal.Load(),
		AuthFailures:      make(map[string]uint64, len(authReasons)),
		PermissionDenied:  s.stats.permissionDenied.Load(),
		DataDenied:        s.stats.dataDenied.Load(),
		QuotaRefused:      s.stats.quotaRefused.Load(),
		ToPeerPackets:     s.stats.toPeerPackets.Load(),
		ToPeerBytes:       s.stats.toPeerBytes.Load(),
		FromPeerPackets:   s.stats.fromPeerPackets.Load(),
		FromPeerBytes:     s.stats.fromPeerBytes.Load(),
	}
	for r, n := range s.stats.auth {
		st.AuthFailures[r] = n.Load()
	}
	return st
}
