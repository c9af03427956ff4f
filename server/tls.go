package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onertc/onertc/server/certs"
	"github.com/onertc/onertc/server/demux"
)

// TLSConfig selects where the certificate of the HTTPS port (and of TURN over TLS) comes
// from: files, an ACME CA, or a self-signed certificate. At most one of the three.
type TLSConfig struct {
	CertFile, KeyFile string
	SelfSigned        bool
	ACMEDomains       []string
	ACMEEmail         string
	ACMEDir           string // certificate cache
	ACMECA            string // ACME directory URL; empty: Let's Encrypt
	// HTTPRedirect, when set, is a plain-HTTP listen address (":80") that redirects to
	// https and answers ACME HTTP-01 challenges.
	HTTPRedirect string
}

// Enabled reports whether the HTTP port serves HTTPS.
func (c TLSConfig) Enabled() bool {
	return c.CertFile != "" || c.SelfSigned || len(c.ACMEDomains) > 0
}

func (c TLSConfig) validate() error {
	n := 0
	if c.CertFile != "" || c.KeyFile != "" {
		n++
		if c.CertFile == "" || c.KeyFile == "" {
			return errors.New("--tls-cert and --tls-key go together")
		}
	}
	if c.SelfSigned {
		n++
	}
	if len(c.ACMEDomains) > 0 {
		n++
	}
	if n > 1 {
		return errors.New("choose one of --tls-cert/--tls-key, --tls-self-signed and --acme-domain")
	}
	if c.HTTPRedirect != "" && n == 0 {
		return errors.New("--http-redirect needs HTTPS (--tls-cert, --tls-self-signed or --acme-domain)")
	}
	return nil
}

// tlsState is the server's TLS: the config every TLS listener uses, and what made it.
type tlsState struct {
	config      *tls.Config
	turnConfig  *tls.Config // of a TURN-only TLS port (--turn-tls): RFC 7443 ALPN ids
	acme        *certs.ACME
	fingerprint string // of a self-signed certificate
}

// setupTLS builds the TLS configuration. Certificate files are read here, so a wrong path
// stops start-up with a clear error.
func (s *Server) setupTLS() error {
	c := s.cfg.TLS
	st := &tlsState{}
	switch {
	case c.CertFile != "":
		files, err := certs.NewFiles(c.CertFile, c.KeyFile, s.log.With("component", "tls"))
		if err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
		st.config = &tls.Config{GetCertificate: files.GetCertificate}
	case c.SelfSigned:
		hosts := []string{}
		if h, err := os.Hostname(); err == nil {
			hosts = append(hosts, h)
		}
		if s.turn != nil {
			hosts = append(hosts, s.turn.host, s.turn.publicIP.String())
		}
		cert, fp, err := certs.SelfSigned(hosts, time.Now())
		if err != nil {
			return fmt.Errorf("self-signed certificate: %w", err)
		}
		st.config = &tls.Config{Certificates: []tls.Certificate{cert}}
		st.fingerprint = fp
		s.log.Warn("serving HTTPS with a self-signed certificate: browsers warn once; compare this fingerprint",
			"sha256", fp, "hosts", hosts)
	case len(c.ACMEDomains) > 0:
		dir := c.ACMEDir
		if dir == "" {
			dir = "data/acme"
		}
		a, err := certs.NewACME(certs.ACMEConfig{
			Domains: c.ACMEDomains, Email: c.ACMEEmail, CacheDir: dir, DirectoryURL: c.ACMECA,
			RootCAs: s.acmeRoots, Log: s.log.With("component", "acme"),
		})
		if err != nil {
			return fmt.Errorf("acme: %w", err)
		}
		st.acme = a
		st.config = a.TLSConfig()
	default:
		return nil
	}
	st.config.MinVersion = tls.VersionTLS12
	st.turnConfig = st.config.Clone()
	// What coTurn offers on its TLS port, http/1.1 included for clients that ask for it.
	st.turnConfig.NextProtos = []string{demux.ALPNTURN, demux.ALPNSTUN, demux.ALPNHTTP11}
	s.tls = st
	return nil
}

// newMux makes the demultiplexer of the HTTPS port ln: HTTPS, plain HTTP (redirected) and,
// unless TURN is off or not shared, TURN over TLS and TCP.
func (s *Server) newMux(ln net.Listener) (*demux.Mux, error) {
	share := s.turn != nil && s.cfg.TURN.OnHTTPS
	cfg := s.tls.config.Clone()
	cfg.NextProtos = demux.NextProtos(share)
	if s.tls.acme != nil {
		cfg.NextProtos = append(cfg.NextProtos, demux.ALPNACMETLS1)
	}
	m, err := demux.New(ln.Addr(), demux.Config{
		TLS: cfg, TURN: share, Timeout: s.firstBytes,
		MaxPending: s.cfg.MaxPending, MaxPendingPerIP: s.cfg.MaxPendingPerIP,
		Logger: s.log.With("component", "https-port"),
	})
	if err != nil {
		return nil, fmt.Errorf("shared HTTPS port: %w", err)
	}
	s.mux.Store(m)
	return m, nil
}

// redirectHandler is what the plain-HTTP redirect port serves: ACME HTTP-01 answers when
// ACME is on, a redirect to the HTTPS port for everything else.
func (s *Server) redirectHandler(httpsLn net.Listener) http.Handler {
	h := certs.RedirectHandler(portOf(httpsLn.Addr()))
	if s.tls.acme != nil {
		h = s.tls.acme.HTTPHandler(h)
	}
	return h
}

var (
	descPortConns   = prometheus.NewDesc("onertc_https_port_connections_total", "Connections on the HTTPS port by where they went: https, http (redirected), turn_tcp, turn_tls, acme (TLS-ALPN-01), ice_tcp (the SFU), over_cap (closed at accept for the pending caps), failed (silent, bad handshake or unknown bytes).", []string{"route"}, nil)
	descPortPending = prometheus.NewDesc("onertc_https_port_pending", "HTTPS-port connections still in their TLS handshake or first bytes.", nil, nil)
)

// collectHTTPSPort adds the HTTPS port's demultiplexer counters to a scrape.
func (s *Server) collectHTTPSPort(ch chan<- prometheus.Metric) {
	m := s.mux.Load()
	if m == nil {
		return
	}
	st := m.Stats()
	for route, n := range map[string]uint64{"https": st.HTTPS, "http": st.HTTP, "turn_tcp": st.TURN,
		"turn_tls": st.TURNTLS, "acme": st.ACME, "ice_tcp": st.ICETCP, "over_cap": st.OverCap, "failed": st.Failed} {
		ch <- prometheus.MustNewConstMetric(descPortConns, prometheus.CounterValue, float64(n), route)
	}
	ch <- prometheus.MustNewConstMetric(descPortPending, prometheus.GaugeValue, float64(st.Pending))
}
