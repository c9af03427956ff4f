//go:build !js

// Package pebbletest runs Let's Encrypt's test CA, Pebble, inside a test process, with a
// small DNS server, so ACME issuance is tested for real (its validation authority connects
// to the test's listeners for HTTP-01 and TLS-ALPN-01).
package pebbletest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// loopbackCert makes a self-signed certificate for 127.0.0.1 (this package cannot use
// certs.SelfSigned: certs' own tests import it).
func loopbackCert(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble front end"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// CA is pebble's CA, validation authority and ACME front end, served
// over HTTPS on a loopback port.
type CA struct {
	Dir      string         // ACME directory URL
	WFERoots *x509.CertPool // trust for the front end's own HTTPS
	Roots    *x509.CertPool // pebble's root: issued certificates chain to it
}

// Start wires pebble the way its cmd/pebble does. Its validation
// authority connects to httpPort for HTTP-01 and tlsPort for TLS-ALPN-01 on
// whatever dnsAddr resolves the domain to.
func Start(t *testing.T, httpPort, tlsPort int, dnsAddr string) *CA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // validate at once, not after up to 5 s
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no random badNonce errors
	logs := &testsync.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", logs)
		}
	})
	plog := log.New(logs, "pebble ", log.Lmicroseconds)
	store := db.NewMemoryStore()
	authority := ca.New(plog, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(plog, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(plog, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	cert, leaf := loopbackCert(t) // the test reaches the front end on 127.0.0.1
	wfeRoots := x509.NewCertPool()
	wfeRoots.AddCert(leaf)
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = plog
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	return &CA{Dir: srv.URL + wfe.DirectoryPath, WFERoots: wfeRoots, Roots: roots}
}

// ServeDNS answers DNS over TCP (what pebble's resolver speaks) on a
// loopback port: domain has the A record 127.0.0.1 and no AAAA; every
// other name does not exist. It returns the address.
func ServeDNS(t *testing.T, domain string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for answerDNS(c, domain) == nil {
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// answerDNS reads one length-prefixed query from c and writes the answer.
func answerDNS(c net.Conn, domain string) error {
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return err
	}
	q := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, q); err != nil {
		return err
	}
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return err
	}
	question, err := p.Question()
	if err != nil {
		return err
	}
	known := strings.EqualFold(question.Name.String(), domain+".")
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 2, 512), rh) // room for the TCP length prefix
	if err := b.StartQuestions(); err != nil {
		return err
	}
	if err := b.Question(question); err != nil {
		return err
	}
	if err := b.StartAnswers(); err != nil {
		return err
	}
	if known && question.Type == dnsmessage.TypeA {
		err := b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
		if err != nil {
			return err
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	_, err = c.Write(msg)
	return err
}
