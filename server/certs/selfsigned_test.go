//go:build !js

package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	tests := []struct {
		name    string
		hosts   []string
		good    []string // server names a client verifies the certificate for
		bad     []string // server names it must refuse
		names   int      // distinct names the certificate carries
		wantErr bool
	}{
		{name: "defaults", good: []string{"localhost", "127.0.0.1", "::1"}, bad: []string{"example.org", "192.168.1.2"}, names: 3},
		{name: "lan name and ip", hosts: []string{"Box.LAN.", " 192.168.1.2 ", "", "[fd00::1]"},
			good: []string{"localhost", "127.0.0.1", "box.lan", "192.168.1.2", "fd00::1"}, bad: []string{"other.lan", "192.168.1.3"}, names: 6},
		{name: "duplicates", hosts: []string{"localhost", "127.0.0.1", "a.test", "a.test"}, good: []string{"a.test", "localhost"}, names: 4},
		{name: "host with port", hosts: []string{"box.lan:8443"}, wantErr: true},
		{name: "url", hosts: []string{"https://box.lan"}, wantErr: true},
	}
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, fp, err := SelfSigned(tt.hosts, now)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SelfSigned(%q) succeeded, want error", tt.hosts)
				}
				return
			}
			if err != nil {
				t.Fatalf("SelfSigned(%q): %v", tt.hosts, err)
			}
			leaf := cert.Leaf
			if fp != Fingerprint(cert.Certificate[0]) || len(fp) != 32*3-1 {
				t.Errorf("fingerprint %q does not match the certificate", fp)
			}
			if k, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
				t.Errorf("key is %T, want ECDSA P-256", cert.PrivateKey)
			}
			if d := leaf.NotAfter.Sub(now); d < 364*24*time.Hour || d > 366*24*time.Hour {
				t.Errorf("valid for %v, want a year", d)
			}
			if n := len(leaf.DNSNames) + len(leaf.IPAddresses); n != tt.names {
				t.Errorf("certificate has %d names (%v %v), want no duplicates", n, leaf.DNSNames, leaf.IPAddresses)
			}
			pool := x509.NewCertPool()
			pool.AddCert(leaf)
			for _, name := range tt.good {
				if err := handshake(t, cert, &tls.Config{RootCAs: pool, ServerName: name}); err != nil {
					t.Errorf("handshake for %q: %v", name, err)
				}
			}
			for _, name := range tt.bad {
				if err := handshake(t, cert, &tls.Config{RootCAs: pool, ServerName: name}); err == nil {
					t.Errorf("handshake for %q verified, want a name mismatch", name)
				}
			}
		})
	}
}

// handshake runs a real TLS handshake over loopback TCP between a server
// presenting cert and a client with cfg, and returns the client's error.
func handshake(t *testing.T, cert tls.Certificate, cfg *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.(*tls.Conn).Handshake() // fails too when the client refuses; the client's error is the one we want
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		return err
	}
	return conn.Close()
}
