package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// selfSignedValidity is how long a generated certificate is valid.
const selfSignedValidity = 365 * 24 * time.Hour

// SelfSigned makes an ECDSA P-256 certificate for hosts (DNS names or IP
// addresses; localhost, 127.0.0.1 and ::1 are always included), valid for one
// year from now, and returns it with its SHA-256 fingerprint (see Fingerprint)
// so the log and the page can tell users what their browser will show.
// The certificate signs itself: browsers warn about it until a user accepts it.
func SelfSigned(hosts []string, now time.Time) (tls.Certificate, string, error) {
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		switch ip := net.ParseIP(strings.Trim(h, "[]")); {
		case h == "":
		case ip != nil:
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		case strings.ContainsAny(h, ":/ "):
			return tls.Certificate{}, "", fmt.Errorf("certs: self-signed: %q is not a host name or IP address", h)
		case !slices.Contains(dns, h):
			dns = append(dns, h)
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("certs: self-signed: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("certs: self-signed: serial number: %w", err)
	}
	name := dns[0]
	if len(dns) > 1 {
		name = dns[1] // the first name given
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"onertc self-signed"}},
		// An hour back so a client whose clock is a little behind accepts it.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("certs: self-signed: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("certs: self-signed: parse certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return cert, Fingerprint(der), nil
}
