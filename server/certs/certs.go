// Package certs provides the TLS certificates onertc serves on its HTTPS
// listener and its TURN-over-TLS listener: PEM files that are re-read when
// they change (Files), a generated certificate for a LAN (SelfSigned), and
// certificates from an ACME CA such as Let's Encrypt (ACME). It also holds the
// plain-HTTP handler that sends browsers to https (RedirectHandler).
//
// Every source exposes a GetCertificate method for tls.Config, so both
// listeners share one certificate and pick up a renewed one without a restart.
package certs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Sentinel errors; callers match them with errors.Is.
var (
	// ErrNoCertificate means a PEM file held no usable certificate or key.
	ErrNoCertificate = errors.New("certs: no certificate")
	// ErrNoDomains means ACMEConfig.Domains is empty.
	ErrNoDomains = errors.New("certs: acme: no domains")
	// ErrBadDomain means an ACME domain is not a DNS name a public CA can issue for.
	ErrBadDomain = errors.New("certs: acme: bad domain")
	// ErrNoCacheDir means ACMEConfig.CacheDir is empty.
	ErrNoCacheDir = errors.New("certs: acme: no cache directory")
	// ErrTwoClients means both ACMEConfig.RootCAs and ACMEConfig.HTTPClient are set.
	ErrTwoClients = errors.New("certs: acme: set RootCAs or HTTPClient, not both")
)

// Fingerprint returns the SHA-256 fingerprint of a DER certificate the way
// browsers display it: upper-case hex bytes separated by colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	b.Grow(len(h) + len(h)/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}
