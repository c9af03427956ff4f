package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/demux"
	"github.com/onertc/onertc/server/turn"
	"github.com/onertc/onertc/server/turnprobe"
)

// turnState is what the server keeps of its built-in TURN server: the resolved settings,
// the credential handlers, and, while serving, the server and its ports.
type turnState struct {
	realm, secret string
	publicIP      net.IP
	probe         *turnprobe.Prober // the self-test of /healthz/turn
	host          string            // put in URIs
	rest          struct{ turn, iceConfig http.Handler }
	srv           atomic.Pointer[turn.Server]
	udpPort       atomic.Int32
	tcpPort       atomic.Int32
	tlsPort       atomic.Int32 // a TURN-only TLS port (--turn-tls)
	httpsPort     atomic.Int32 // the HTTPS port, when it serves TURN too
	// peers are the other live instances' TURN URIs (shared mode; see runTURNDirectory).
	peers atomic.Pointer[[][]string]
}

// setupTURN resolves the TURN defaults that depend on the machine: realm (host name),
// secret (random per start, never logged), public address (the outbound interface's).
func (s *Server) setupTURN() error {
	t := &turnState{realm: s.cfg.TURN.Realm, secret: s.cfg.TURN.Secret}
	if t.realm == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "onertc"
		}
		t.realm = h
	}
	if t.secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		t.secret = hex.EncodeToString(b[:])
		s.log.Info("generated a random TURN secret for this run; set --turn-secret to keep credentials valid across restarts")
	}
	if s.cfg.TURN.PublicIP != "" {
		t.publicIP = net.ParseIP(s.cfg.TURN.PublicIP).To4()
		if t.publicIP == nil {
			return fmt.Errorf("--public-ip %q: want an IPv4 address (TURN relays over IPv4)", s.cfg.TURN.PublicIP)
		}
	} else {
		t.publicIP = outboundIPv4()
		s.log.Info("TURN public address detected; set --public-ip when behind NAT", "public_ip", t.publicIP.String())
	}
	t.host = s.cfg.TURN.Host
	if t.host == "" && len(s.cfg.TLS.ACMEDomains) > 0 {
		// turns: must name the host the certificate is for.
		t.host = s.cfg.TLS.ACMEDomains[0]
	}
	if t.host == "" {
		t.host = t.publicIP.String()
	}
	t.rest.turn, t.rest.iceConfig = turn.NewRESTHandlers(turn.RESTConfig{
		Secret: t.secret,
		TTL:    s.turnTTL(),
		APIKey: s.cfg.TURN.APIKey,
		URIs:   func(*http.Request) []string { return t.uris() },
	})
	t.probe = turnprobe.New(turnprobe.Config{
		PublicIP: t.publicIP, UDPPort: func() int { return int(t.udpPort.Load()) },
		Realm: t.realm, Secret: t.secret,
		RelayPortMin: int(s.cfg.TURN.RelayPortMin), RelayPortMax: int(s.cfg.TURN.RelayPortMax),
		AllowLoopback: s.cfg.TURN.AllowLoopback, Log: s.log,
	})
	s.turn = t
	return nil
}

// outboundIPv4 is the address of the interface the default route leaves by. Connecting a
// UDP socket only looks the route up; nothing is sent. With no route it is 127.0.0.1.
func outboundIPv4() net.IP {
	c, err := net.Dial("udp4", "192.0.2.1:3478") // TEST-NET-1: never a real destination
	if err != nil {
		return net.IPv4(127, 0, 0, 1).To4()
	}
	defer c.Close()
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && ua.IP.To4() != nil && !ua.IP.IsUnspecified() {
		return ua.IP.To4()
	}
	return net.IPv4(127, 0, 0, 1).To4()
}

// startTURN serves TURN on the listeners' TURN sockets and, when mux is set and TURN
// shares the HTTPS port, on the connections mux routes to TURN.
func (s *Server) startTURN(ls Listeners, mux *demux.Mux) error {
	t := s.turn
	shared := mux != nil && s.cfg.TURN.OnHTTPS
	if t == nil || (len(ls.TURNUDP) == 0 && len(ls.TURNTCP) == 0 && len(ls.TURNTLS) == 0 && !shared) {
		return nil
	}
	allow, err := turn.ParseCIDRs(s.cfg.TURN.AllowPeers)
	if err != nil {
		return fmt.Errorf("--turn-allow-peer: %w", err)
	}
	deny, err := turn.ParseCIDRs(s.cfg.TURN.DenyPeers)
	if err != nil {
		return fmt.Errorf("--turn-deny-peer: %w", err)
	}
	own := []int{portOf(ls.HTTP.Addr())}
	if len(ls.TURNUDP) > 0 {
		t.udpPort.Store(int32(portOf(ls.TURNUDP[0].LocalAddr())))
		own = append(own, int(t.udpPort.Load()))
	}
	if len(ls.TURNTCP) > 0 {
		t.tcpPort.Store(int32(portOf(ls.TURNTCP[0].Addr())))
		own = append(own, int(t.tcpPort.Load()))
	}
	if len(ls.TURNTLS) > 0 {
		t.tlsPort.Store(int32(portOf(ls.TURNTLS[0].Addr())))
		own = append(own, int(t.tlsPort.Load()))
	}
	tcpLns, tlsLns := ls.TURNTCP, ls.TURNTLS
	if shared {
		t.httpsPort.Store(int32(portOf(ls.HTTP.Addr())))
		tcpLns = append(append([]net.Listener(nil), tcpLns...), mux.TURN())
		tlsLns = append(append([]net.Listener(nil), tlsLns...), mux.TURNTLS())
	}
	srv, err := turn.New(turn.Config{
		Realm:         t.realm,
		Secret:        t.secret,
		OldSecret:     s.cfg.TURN.OldSecret,
		PublicIP:      t.publicIP,
		RelayPortMin:  s.cfg.TURN.RelayPortMin,
		RelayPortMax:  s.cfg.TURN.RelayPortMax,
		AllowPeers:    allow,
		DenyPeers:     deny,
		AllowLoopback: s.cfg.TURN.AllowLoopback,
		// A client that reaches nothing but TURN (UDP blocked, only 443 open) reaches the
		// SFU of group rooms through it, even on a private or loopback address.
		AllowPeerAddrs: s.sfuPeerAddrs(),
		UserQuota:      s.cfg.TURN.UserQuota,
		TotalQuota:     s.cfg.TURN.TotalQuota,
		PacketConns:    ls.TURNUDP,
		Listeners:      tcpLns,
		TLSListeners:   tlsLns,
		OwnPorts:       own,
		Logger:         s.log.With("component", "turn"),
	})
	if err != nil {
		return fmt.Errorf("start TURN: %w", err)
	}
	t.srv.Store(srv)
	s.log.Info("TURN serving", "udp", t.udpPort.Load(), "tcp", t.tcpPort.Load(), "tls", t.tlsPort.Load(),
		"tls_and_tcp_on_https_port", t.httpsPort.Load(),
		"public_ip", t.publicIP.String(), "realm", t.realm)
	return nil
}

// sfuPeerAddrs are the SFU's addresses as a TURN relay sends to them: the public IP, and
// the address its socket is bound to when that is a specific one, on the SFU's port.
func (s *Server) sfuPeerAddrs() []netip.AddrPort {
	f := s.sfu.Load()
	if f == nil || s.sfuPort == 0 || s.turn == nil {
		return nil
	}
	var out []netip.AddrPort
	if a, ok := netip.AddrFromSlice(s.turn.publicIP); ok {
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(s.sfuPort)))
	}
	if s.sfuIP.IsValid() && !s.sfuIP.IsUnspecified() && !slices.ContainsFunc(out, func(a netip.AddrPort) bool { return a.Addr() == s.sfuIP }) {
		out = append(out, netip.AddrPortFrom(s.sfuIP, uint16(s.sfuPort)))
	}
	return out
}

func (s *Server) stopTURN() error {
	if s.turn == nil {
		return nil
	}
	if srv := s.turn.srv.Swap(nil); srv != nil {
		if err := srv.Close(); err != nil {
			return fmt.Errorf("stop TURN: %w", err)
		}
	}
	return nil
}

func portOf(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

var (
	descTURNAlloc      = prometheus.NewDesc("onertc_turn_allocations", "TURN allocations alive now.", nil, nil)
	descTURNAllocTotal = prometheus.NewDesc("onertc_turn_allocations_total", "TURN allocations created.", nil, nil)
	descTURNAuthFail   = prometheus.NewDesc("onertc_turn_auth_failures_total", "TURN requests refused for their credentials, by reason.", []string{"reason"}, nil)
	descTURNDenied     = prometheus.NewDesc("onertc_turn_permission_denials_total", "TURN permissions and channel binds refused by the peer policy.", nil, nil)
	descTURNDataDenied = prometheus.NewDesc("onertc_turn_denied_datagrams_total", "Relayed datagrams dropped by the peer policy.", nil, nil)
	descTURNQuota      = prometheus.NewDesc("onertc_turn_quota_refusals_total", "TURN allocations refused over quota (486).", nil, nil)
	descTURNPackets    = prometheus.NewDesc("onertc_turn_relayed_packets_total", "Datagrams relayed, by direction.", []string{"direction"}, nil)
	descTURNBytes      = prometheus.NewDesc("onertc_turn_relayed_bytes_total", "Bytes relayed, by direction.", []string{"direction"}, nil)
)

// collectTURN adds the TURN server's counters to a scrape.
func (s *Server) collectTURN(ch chan<- prometheus.Metric) {
	if s.turn == nil {
		return
	}
	srv := s.turn.srv.Load()
	if srv == nil {
		return
	}
	st := srv.Stats()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(descTURNAlloc, gauge, float64(st.AllocationsActive))
	ch <- prometheus.MustNewConstMetric(descTURNAllocTotal, counter, float64(st.AllocationsTotal))
	for reason, n := range st.AuthFailures {
		ch <- prometheus.MustNewConstMetric(descTURNAuthFail, counter, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(descTURNDenied, counter, float64(st.PermissionDenied))
	ch <- prometheus.MustNewConstMetric(descTURNDataDenied, counter, float64(st.DataDenied))
	ch <- prometheus.MustNewConstMetric(descTURNQuota, counter, float64(st.QuotaRefused))
	ch <- prometheus.MustNewConstMetric(descTURNPackets, counter, float64(st.ToPeerPackets), "to_peer")
	ch <- prometheus.MustNewConstMetric(descTURNPackets, counter, float64(st.FromPeerPackets), "from_peer")
	ch <- prometheus.MustNewConstMetric(descTURNBytes, counter, float64(st.ToPeerBytes), "to_peer")
	ch <- prometheus.MustNewConstMetric(descTURNBytes, counter, float64(st.FromPeerBytes), "from_peer")
}

// turnTTL is the lifetime of the TURN credentials this server mints: --turn-ttl, or in
// password mode the shorter --access-turn-ttl, so a credential that leaves the people
// admitted is of little use. Calls outlive it: the TURN server goes on refreshing an
// allocation whose credential was valid when it was made (server/turn's expiry rule).
func (s *Server) turnTTL() time.Duration {
	if s.cfg.Access.Mode == string(access.Password) {
		return s.cfg.Access.TURNTTL
	}
	return s.cfg.TURN.TTL
}
