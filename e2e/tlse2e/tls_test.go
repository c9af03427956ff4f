//go:build !js

// Package tlse2e runs calls over HTTPS, WSS and TURN over TLS with real certificate
// verification: a CA made by the test is the system's only root (SSL_CERT_FILE is set before
// anything loads the roots), so the bots and pion's TURNS client verify the server for real.
package tlse2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/check"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var ca *testCA

func TestMain(m *testing.M) {
	var err error
	ca, err = newCA()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "onertc-tls-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Read once, lazily, by crypto/x509: before this, nothing in the process has asked.
	os.Setenv("SSL_CERT_FILE", caFile)
	os.Setenv("SSL_CERT_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newCA() (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "onertc test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue writes a leaf certificate for 127.0.0.1 and localhost with the given serial.
func (c *testCA) issue(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// Key first, then the certificate: a reload between the two writes sees a mismatched
	// pair, which must keep the old certificate rather than break.
	if err := os.WriteFile(keyFile+".new", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile+".new", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Rename(keyFile+".new", keyFile)
	os.Rename(certFile+".new", certFile)
}

type tlsServer struct {
	url string
	srv *server.Server
}

func startTLSServer(t *testing.T, tlsCfg server.TLSConfig) *tlsServer {
	t.Helper()
	cfg := servertest.Config()
	cfg.TLS = tlsCfg
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 64000, 64999 // apart from the other packages that run alongside
	r := servertest.StartT(t, cfg, servertest.Options{})
	return &tlsServer{url: r.URL, srv: r.Server}
}

func servedSerial(t *testing.T, url string) int64 {
	t.Helper()
	host := strings.TrimPrefix(url, "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestHTTPSWSSAndTURNSWithBots(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, certFile, keyFile, 100)
	ts := startTLSServer(t, server.TLSConfig{CertFile: certFile, KeyFile: keyFile})

	resp, err := http.Post(ts.url+"/join/tls-params", "", nil)
	if err != nil {
		t.Fatalf("join over https, verified against the test CA: %v", err)
	}
	var jr protocol.JoinResponse
	json.NewDecoder(resp.Body).Decode(&jr)
	resp.Body.Close()
	if !strings.HasPrefix(jr.Params.WSSURL, "wss://") || !strings.HasPrefix(jr.Params.WSSPostURL, "https://") || !strings.HasPrefix(jr.Params.ICEServerURL, "https://") {
		t.Fatalf("params over https: %q %q %q", jr.Params.WSSURL, jr.Params.WSSPostURL, jr.Params.ICEServerURL)
	}

	// Relay-only bot calls over each transport, TURN over TLS included, through a real
	// certificate check by pion.
	rep := check.Run(context.Background(), check.Options{Server: ts.url, Timeout: 10 * time.Second})
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	for _, res := range rep.Results {
		if !res.OK {
			t.Errorf("%s (%s): %s", res.Transport, res.URI, res.Error)
		}
		// TURN over TLS is checked where browsers behind 443-only firewalls use it.
		if res.Transport == "tls" && (!res.OnHTTPSPort || !strings.HasSuffix(strings.TrimSuffix(res.URI, "?transport=tcp"), ts.url[strings.LastIndexByte(ts.url, ':'):])) {
			t.Errorf("TURN over TLS checked at %s, not on the HTTPS port of %s", res.URI, ts.url)
		}
	}

	t.Run("certificate reload keeps a live call", func(t *testing.T) {
		if got := servedSerial(t, ts.url); got != 100 {
			t.Fatalf("serial %d, want 100", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		type outcome struct {
			sum bot.Summary
			err error
		}
		results := make(chan outcome, 2)
		var bots []*bot.Bot
		for i := range 2 {
			// No Duration: the call lasts until the test hangs up, after it has seen media
			// go on past the reload.
			b, err := bot.New(bot.Options{Server: ts.url, Room: "tls-reload", RelayOnly: true,
				Timeout: 15 * time.Second, StatsEvery: -1, Index: i})
			if err != nil {
				t.Fatal(err)
			}
			go func() { s, err := b.Run(ctx); results <- outcome{s, err} }()
			bots = append(bots, b)
		}
		videoIn := func() []int64 {
			var n []int64
			for _, b := range bots {
				v, _, _ := b.Totals()
				n = append(n, v.PacketsReceived)
			}
			return n
		}
		testsync.Eventually(t, 20*time.Second, "video both ways before the reload", func() bool { return slices.Min(videoIn()) > 0 })
		ca.issue(t, certFile, keyFile, 200)
		testsync.Eventually(t, 10*time.Second, "the renewed certificate served", func() bool { return servedSerial(t, ts.url) == 200 })
		// Media must go on after the reload, not merely have arrived at some point: each bot
		// receives a further 25 video packets, under 2 s of video (the bots send 15 frames a second).
		const more = 25
		before := videoIn()
		testsync.Eventually(t, 10*time.Second, fmt.Sprintf("%d more video packets in each bot after the reload (had %v)", more, before), func() bool {
			now := videoIn()
			for i := range now {
				if now[i] < before[i]+more {
					return false
				}
			}
			return true
		})
		for _, b := range bots {
			b.Call().Hangup()
		}
		for range 2 {
			o := <-results
			if o.err != nil || !o.sum.Connected {
				t.Fatalf("call across the reload: %+v, %v", o.sum, o.err)
			}
		}
	})
}

func TestSelfSigned(t *testing.T) {
	ts := startTLSServer(t, server.TLSConfig{SelfSigned: true})
	host := strings.TrimPrefix(ts.url, "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true}) // the point of self-signed: no CA
	if err != nil {
		t.Fatal(err)
	}
	der := conn.ConnectionState().PeerCertificates[0].Raw
	conn.Close()
	sum := sha256.Sum256(der)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Post(ts.url+"/join/selfsigned", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var jr protocol.JoinResponse
	json.NewDecoder(resp.Body).Decode(&jr)
	resp.Body.Close()
	msg := strings.ReplaceAll(strings.ToLower(jr.Params.HeaderMessage), ":", "")
	if !strings.Contains(msg, hex.EncodeToString(sum[:])) {
		t.Fatalf("header message %q does not carry the served certificate's fingerprint %x", jr.Params.HeaderMessage, sum)
	}
	if !strings.HasPrefix(jr.Params.WSSURL, "wss://") {
		t.Fatalf("wss_url %q", jr.Params.WSSURL)
	}
	// The pages show it too, so a person can compare it with what the browser's warning shows.
	for _, path := range []string{"/", "/r/selfsigned-page"} {
		resp, err := hc.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, shown, found := strings.Cut(string(body), `id="header-message">`)
		shown, _, _ = strings.Cut(shown, "</p>")
		if !found || !strings.Contains(strings.ReplaceAll(strings.ToLower(html.UnescapeString(shown)), ":", ""), hex.EncodeToString(sum[:])) {
			t.Fatalf("page %s does not show the served certificate's fingerprint %x (header message %q)", path, sum, shown)
		}
	}

	// Bots that accepted the certificate, as a person does at the browser's warning, call
	// relay-only over HTTPS and WSS.
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pinned := x509.NewCertPool()
	pinned.AddCert(leaf)
	bots := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pinned}}}
	rep := check.Run(context.Background(), check.Options{Server: ts.url, HTTP: bots, Timeout: 8 * time.Second})
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	for _, res := range rep.Results {
		if (res.Transport == "udp" || res.Transport == "tcp") && (!res.OK || res.Local != "relay") {
			t.Errorf("relay-only call over TURN %s behind self-signed HTTPS+WSS: %+v", res.Transport, res)
		}
	}
}

// TestCheckBehindA443OnlyFirewall: with UDP and TCP to the TURN port dropped, as on a
// network that lets only 443 out, check says so and finds the relay-only call working over
// TURN over TLS on the HTTPS port, verified against the certificate.
func TestCheckBehindA443OnlyFirewall(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, certFile, keyFile, 300)
	cfg := servertest.Config()
	cfg.TLS = server.TLSConfig{CertFile: certFile, KeyFile: keyFile}
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 64000, 64999
	r := servertest.StartT(t, cfg, servertest.Options{WrapUDP: servertest.DropUDP, WrapTCP: servertest.RefuseTCP})

	rep := check.Run(context.Background(), check.Options{Server: r.URL, Timeout: 6 * time.Second})
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	var table strings.Builder
	rep.Print(&table)
	t.Logf("\n%s", table.String())
	got := map[string]check.Result{}
	for _, res := range rep.Results {
		got[res.Transport] = res
	}
	if got["udp"].OK || got["tcp"].OK {
		t.Errorf("TURN over UDP or TCP worked through the firewall: %+v %+v", got["udp"], got["tcp"])
	}
	if tl := got["tls"]; !tl.OK || !tl.OnHTTPSPort || tl.Local != "relay" {
		t.Errorf("TURN over TLS on the HTTPS port: %+v", tl)
	}
	if !rep.CallWorks() || !strings.Contains(table.String(), "from here: tls on ") {
		t.Errorf("the report does not say the call works over TLS on the HTTPS port:\n%s", table.String())
	}
}
