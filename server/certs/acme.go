package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// LetsEncrypt is the default ACME directory: Let's Encrypt production.
const LetsEncrypt = autocert.DefaultACMEDirectory

// ACMEConfig configures certificates from an ACME CA.
type ACMEConfig struct {
	// Domains are the only names a certificate is requested for; a
	// handshake for any other name fails without contacting the CA.
	Domains []string
	// Email is the contact the CA writes to about expiring certificates. Optional.
	Email string
	// CacheDir holds the account key and the certificates, so a restart
	// does not request them again (CAs rate-limit issuance). Required.
	CacheDir string
	// DirectoryURL is the CA's ACME directory; empty means LetsEncrypt.
	DirectoryURL string
	// RootCAs, when set, are the roots trusted for the CA's own HTTPS
	// (a private CA, or a test CA); nil means the system roots.
	RootCAs *x509.CertPool
	// HTTPClient, when set, is used to talk to the CA instead of a client
	// built from RootCAs. Set at most one of the two.
	HTTPClient *http.Client
	// Log receives issuance failures; nil discards them.
	Log *slog.Logger
}

// Validate reports the first problem with c. It does not contact the CA.
func (c ACMEConfig) Validate() error {
	if len(c.Domains) == 0 {
		return ErrNoDomains
	}
	for _, d := range c.Domains {
		d = normalizeHost(d)
		// autocert refuses server names without a dot, and ACME DNS
		// identifiers cannot be IP addresses or carry a port.
		if !strings.Contains(d, ".") || net.ParseIP(strings.Trim(d, "[]")) != nil ||
			strings.ContainsAny(d, ":/ ") {
			return fmt.Errorf("%w: %q", ErrBadDomain, d)
		}
	}
	if c.CacheDir == "" {
		return ErrNoCacheDir
	}
	if c.RootCAs != nil && c.HTTPClient != nil {
		return ErrTwoClients
	}
	return nil
}

// ACME obtains and renews certificates from an ACME CA with autocert. The
// CA proves control of a domain through one of two challenges:
//   - TLS-ALPN-01 on port 443, answered by GetCertificate when the listener
//     uses TLSConfig (its NextProtos offer "acme-tls/1");
//   - HTTP-01 on port 80, answered by HTTPHandler, tried when TLS-ALPN-01
//     fails, and only once HTTPHandler has been called.
//
// The first handshake for a domain waits while the certificate is issued.
type ACME struct {
	m       *autocert.Manager
	domains []string
	log     *slog.Logger
}

// NewACME validates cfg and returns an ACME. By using it the operator accepts
// the CA's terms of service. No request is sent before the first handshake.
func NewACME(cfg ACMEConfig) (*ACME, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	domains := make([]string, 0, len(cfg.Domains))
	for _, d := range cfg.Domains {
		if d = normalizeHost(d); !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := cfg.DirectoryURL
	if dir == "" {
		dir = LetsEncrypt
	}
	hc := cfg.HTTPClient
	if cfg.RootCAs != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
		hc = &http.Client{Transport: t}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(domains...),
		Email:      cfg.Email,
		Client:     &acme.Client{DirectoryURL: dir, HTTPClient: hc, UserAgent: "onertc"},
	}
	return &ACME{m: m, domains: domains, log: log}, nil
}

// GetCertificate implements tls.Config.GetCertificate: a cached certificate,
// a new one from the CA, or a TLS-ALPN-01 challenge answer.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert, err := a.m.GetCertificate(hello)
	if err != nil {
		// A name outside Domains is a scanner or a typo, not our failure.
		if slices.Contains(a.domains, normalizeHost(hello.ServerName)) {
			a.log.Error("tls: acme certificate unavailable", "server_name", hello.ServerName, "err", err)
		} else {
			a.log.Debug("tls: handshake for a name not in the acme domains",
				"server_name", hello.ServerName, "remote", remoteAddr(hello), "err", err)
		}
		return nil, fmt.Errorf("certs: acme %q: %w", hello.ServerName, err)
	}
	return cert, nil
}

// TLSConfig returns a config for the HTTPS listener: GetCertificate, and
// NextProtos h2, http/1.1 and acme-tls/1 (for TLS-ALPN-01). TLS-ALPN-01 only
// works when this listener is the one the CA reaches on port 443.
func (a *ACME) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: a.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1", acme.ALPNProto},
		MinVersion:     tls.VersionTLS12,
	}
}

// HTTPHandler answers HTTP-01 challenges under /.well-known/acme-challenge/
// and passes every other request to fallback; a nil fallback redirects GET
// and HEAD to https on port 443. Serve it on port 80. Calling it enables
// HTTP-01 as the second choice after TLS-ALPN-01.
func (a *ACME) HTTPHandler(fallback http.Handler) http.Handler {
	h := a.m.HTTPHandler(fallback)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert checks the Host header against the domains as it is;
		// a CA or client that writes "example.org:80" must still match.
		if host, _, err := net.SplitHostPort(r.Host); err == nil &&
			strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			r = r.Clone(r.Context())
			r.Host = host
		}
		h.ServeHTTP(w, r)
	})
}

func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

func remoteAddr(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil {
		return ""
	}
	return hello.Conn.RemoteAddr().String()
}
