//go:build !js

package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/pebbletest"
)

func TestACMEConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  ACMEConfig
		want error
	}{
		{"ok", ACMEConfig{Domains: []string{"Example.org."}, CacheDir: "d"}, nil},
		{"no domains", ACMEConfig{CacheDir: "d"}, ErrNoDomains},
		{"single label", ACMEConfig{Domains: []string{"localhost"}, CacheDir: "d"}, ErrBadDomain},
		{"ip", ACMEConfig{Domains: []string{"192.0.2.1"}, CacheDir: "d"}, ErrBadDomain},
		{"port", ACMEConfig{Domains: []string{"example.org:443"}, CacheDir: "d"}, ErrBadDomain},
		{"second bad", ACMEConfig{Domains: []string{"example.org", "https://example.org"}, CacheDir: "d"}, ErrBadDomain},
		{"no cache", ACMEConfig{Domains: []string{"example.org"}}, ErrNoCacheDir},
		{"two clients", ACMEConfig{Domains: []string{"example.org"}, CacheDir: "d",
			RootCAs: x509.NewCertPool(), HTTPClient: &http.Client{}}, ErrTwoClients},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewACME(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewACME error %v, want %v", err, tt.want)
			}
		})
	}
}

// testDomain is the name certificates are issued for; the test's DNS server
// resolves it to 127.0.0.1 for pebble's validation authority.
const testDomain = "meet.onertc.test"

// TestACME issues real certificates from pebble, letsencrypt's ACME test CA,
// running in this process. Its validation authority really connects to this
// test's listeners: once through TLS-ALPN-01 on the HTTPS listener, once
// through HTTP-01 on the plain-HTTP listener after TLS-ALPN-01 failed, as it
// does when port 443 is not reachable.
func TestACME(t *testing.T) {
	if testing.Short() {
		t.Skip("issues certificates from an in-process ACME CA")
	}
	tests := []struct {
		name     string
		http01   bool // serve HTTPHandler and let TLS-ALPN-01 fail
		wantALPN bool // TLS-ALPN-01 challenge handshakes expected
	}{
		{name: "tls-alpn-01", wantALPN: true},
		{name: "http-01 after tls-alpn-01 fails", http01: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, _ := testLogger(t)
			httpsLn := listen(t)
			httpLn := listen(t)
			refuser := listen(t) // accepts and hangs up: a blocked port
			go func() {
				for {
					c, err := refuser.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			vaTLS, vaHTTP := port(httpsLn), port(refuser)
			if tt.http01 {
				vaTLS, vaHTTP = port(refuser), port(httpLn)
			}
			p := pebbletest.Start(t, vaHTTP, vaTLS, pebbletest.ServeDNS(t, testDomain))

			cacheDir := t.TempDir()
			a, err := NewACME(ACMEConfig{Domains: []string{testDomain}, Email: "ops@onertc.test",
				CacheDir: cacheDir, DirectoryURL: p.Dir, RootCAs: p.WFERoots, Log: logger})
			if err != nil {
				t.Fatal(err)
			}
			var alpnHellos, http01Hits atomic.Int64
			tlsCfg := a.TLSConfig()
			inner := tlsCfg.GetCertificate
			tlsCfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if slices.Contains(h.SupportedProtos, "acme-tls/1") {
					alpnHellos.Add(1)
				}
				return inner(h)
			}
			serveHTTPS(t, httpsLn, tlsCfg)
			if tt.http01 {
				h := a.HTTPHandler(RedirectHandler(port(httpsLn)))
				serveHTTP(t, httpLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
						http01Hits.Add(1)
					}
					h.ServeHTTP(w, r)
				}))
			}

			// The first handshake waits for issuance.
			first := fetch(t, httpsLn, p.Roots)
			if got := alpnHellos.Load() > 0; got != tt.wantALPN {
				t.Errorf("TLS-ALPN-01 handshakes seen: %v, want %v", got, tt.wantALPN)
			}
			if got := http01Hits.Load() > 0; got != tt.http01 {
				t.Errorf("HTTP-01 requests seen: %v, want %v", got, tt.http01)
			}

			// A second ACME on the same cache serves the same certificate
			// without a single request to the CA.
			var caRequests atomic.Int64
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: p.WFERoots}
			a2, err := NewACME(ACMEConfig{Domains: []string{testDomain}, CacheDir: cacheDir, DirectoryURL: p.Dir,
				HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					caRequests.Add(1)
					return tr.RoundTrip(r)
				})}, Log: logger})
			if err != nil {
				t.Fatal(err)
			}
			ln2 := listen(t)
			serveHTTPS(t, ln2, a2.TLSConfig())
			second := fetch(t, ln2, p.Roots)
			if !first.Equal(second) {
				t.Errorf("second manager served serial %v, want the cached %v", second.SerialNumber, first.SerialNumber)
			}
			// A name outside Domains is refused, also without asking the CA.
			conn, err := tls.Dial("tcp", ln2.Addr().String(), &tls.Config{RootCAs: p.Roots, ServerName: "other.onertc.test"})
			if err == nil {
				conn.Close()
				t.Errorf("handshake for a name outside Domains succeeded")
			}
			if n := caRequests.Load(); n != 0 {
				t.Errorf("second manager sent %d requests to the CA, want 0", n)
			}
		})
	}
}

// fetch makes an HTTPS request for testDomain to ln, trusting only roots,
// and returns the verified leaf certificate.
func fetch(t *testing.T, ln net.Listener, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, ln.Addr().String())
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+testDomain+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET over the ACME listener: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "hello" {
		t.Errorf("body %q", body)
	}
	chain := resp.TLS.VerifiedChains[0] // verified against pebble's root only
	leaf, root := chain[0], chain[len(chain)-1]
	if !slices.Equal(leaf.DNSNames, []string{testDomain}) {
		t.Errorf("certificate names %v, want [%s]", leaf.DNSNames, testDomain)
	}
	if len(chain) < 3 || !roots.Equal(poolOf(root)) {
		t.Errorf("chain of %d up to %q, want leaf, pebble intermediate, pebble root", len(chain), root.Subject)
	}
	return leaf
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func port(ln net.Listener) int {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// serveHTTPS serves "hello" over TLS with cfg on ln until the test ends.
func serveHTTPS(t *testing.T, ln net.Listener, cfg *tls.Config) {
	t.Helper()
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }),
		TLSConfig: cfg,
		ErrorLog:  log.New(io.Discard, "", 0), // the refused challenge handshakes
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

func serveHTTP(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}
