//go:build !js

package certs

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// testLogger returns a logger writing into a buffer that is printed when the test fails.
func testLogger(t *testing.T) (*slog.Logger, *testsync.Buffer) {
	t.Helper()
	buf := &testsync.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// selfSigned is SelfSigned for tests that need a certificate and its pool.
func selfSigned(t *testing.T, hosts ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, _, err := SelfSigned(hosts, time.Now())
	if err != nil {
		t.Fatalf("SelfSigned(%q): %v", hosts, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return cert, pool
}
