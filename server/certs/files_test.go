//go:build !js

package certs

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// pemPair returns cert's certificate and key as PEM.
func pemPair(t *testing.T, cert tls.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return certPEM, keyPEM
}

// replaceFile writes data next to path and renames it over path, the way
// certbot and most deploy tools replace a certificate.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestNewFilesErrors(t *testing.T) {
	a, _ := selfSigned(t, "a.test")
	b, _ := selfSigned(t, "b.test")
	aCert, aKey := pemPair(t, a)
	_, bKey := pemPair(t, b)
	tests := []struct {
		name       string
		cert, key  []byte // nil: file absent
		wantErr    error
		wantInText string
	}{
		{name: "good", cert: aCert, key: aKey},
		{name: "missing cert", key: aKey, wantErr: fs.ErrNotExist, wantInText: "certificate file"},
		{name: "missing key", cert: aCert, wantErr: fs.ErrNotExist, wantInText: "key file"},
		{name: "garbage cert", cert: []byte("not a certificate"), key: aKey, wantErr: ErrNoCertificate},
		{name: "empty key", cert: aCert, key: []byte{}, wantErr: ErrNoCertificate},
		{name: "key of another certificate", cert: aCert, key: bKey, wantErr: ErrNoCertificate, wantInText: "does not match"},
		{name: "swapped", cert: aKey, key: aCert, wantErr: ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if tt.cert != nil {
				replaceFile(t, certFile, tt.cert)
			}
			if tt.key != nil {
				replaceFile(t, keyFile, tt.key)
			}
			f, err := NewFiles(certFile, keyFile, nil)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewFiles: %v", err)
				}
				if got := Fingerprint(f.Certificate().Certificate[0]); got != Fingerprint(a.Certificate[0]) {
					t.Errorf("serving %s, want certificate a", got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NewFiles error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantInText) {
				t.Errorf("NewFiles error %q does not say %q", err, tt.wantInText)
			}
		})
	}
}

// TestFilesReload serves Files on a real TLS listener and replaces the files
// under it step by step, checking what new handshakes see and that a
// connection opened before the first change keeps working.
func TestFilesReload(t *testing.T) {
	a, _ := selfSigned(t, "a.test")
	b, _ := selfSigned(t, "b.test")
	c, _ := selfSigned(t, "c.test")
	roots := x509.NewCertPool()
	for _, x := range []tls.Certificate{a, b, c} {
		roots.AddCert(x.Leaf)
	}
	aCert, aKey := pemPair(t, a)
	bCert, bKey := pemPair(t, b)
	cCert, cKey := pemPair(t, c)

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replaceFile(t, certFile, aCert)
	replaceFile(t, keyFile, aKey)
	log, logs := testLogger(t)
	f, err := NewFiles(certFile, keyFile, log)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveEcho(t, &tls.Config{GetCertificate: f.GetCertificate})

	dial := func() *tls.Conn {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	seen := func() string {
		t.Helper()
		conn := dial()
		defer conn.Close()
		return Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw)
	}
	fp := func(x tls.Certificate) string { return Fingerprint(x.Certificate[0]) }

	old := dial()
	if got := Fingerprint(old.ConnectionState().PeerCertificates[0].Raw); got != fp(a) {
		t.Fatalf("first handshake saw %s, want certificate a", got)
	}

	steps := []struct {
		name      string
		cert, key []byte // new file contents; nil leaves the file alone
		reload    bool   // call Reload instead of waiting for the recheck
		want      tls.Certificate
		wantLog   string // a message that must appear in the log
		wantErr   bool   // Reload fails
	}{
		{name: "renewed to b", cert: bCert, key: bKey, want: b, wantLog: "b.test]"},
		{name: "corrupt cert keeps b", cert: []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), want: b,
			wantLog: "do not load"},
		{name: "cert c with key b keeps b", cert: cCert, want: b, wantLog: "does not match"},
		{name: "key c completes c", key: cKey, want: c, wantLog: "c.test]"},
		{name: "explicit reload of a", cert: aCert, key: aKey, reload: true, want: a},
		{name: "explicit reload of a missing key", key: []byte{}, reload: true, want: a, wantErr: true},
	}
	for _, st := range steps {
		logged := len(logs.String())
		if st.cert != nil {
			replaceFile(t, certFile, st.cert)
		}
		if st.key != nil {
			replaceFile(t, keyFile, st.key)
		}
		if st.reload {
			if err := f.reload(); (err != nil) != st.wantErr {
				t.Fatalf("%s: Reload error %v, want error %v", st.name, err, st.wantErr)
			}
			// Reload swaps at once, without waiting for a handshake.
			if got := Fingerprint(f.Certificate().Certificate[0]); got != fp(st.want) {
				t.Fatalf("%s: after Reload serving %s, want %s", st.name, got, fp(st.want))
			}
		} else {
			// The files are looked at on a handshake, at most once per
			// recheck interval: keep shaking hands until the log says so.
			testsync.Eventually(t, 5*time.Second, st.name+": "+st.wantLog, func() bool {
				seen()
				return strings.Contains(logs.String()[logged:], st.wantLog)
			})
		}
		if got := seen(); got != fp(st.want) {
			t.Fatalf("%s: handshake saw %s, want %s", st.name, got, fp(st.want))
		}
	}

	// The connection made with a before any change still works and still
	// carries a.
	if _, err := io.WriteString(old, "still there?\n"); err != nil {
		t.Fatalf("old connection write: %v", err)
	}
	line, err := bufio.NewReader(old).ReadString('\n')
	if err != nil || line != "still there?\n" {
		t.Fatalf("old connection echoed %q, %v", line, err)
	}
	if got := Fingerprint(old.ConnectionState().PeerCertificates[0].Raw); got != fp(a) {
		t.Errorf("old connection now reports %s", got)
	}
}

// serveEcho runs a TLS echo server with cfg on a loopback port until the test ends.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_, _ = io.Copy(conn, conn)
			}()
		}
	}()
	return ln.Addr().String()
}
