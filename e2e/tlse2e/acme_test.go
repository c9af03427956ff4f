//go:build !js

package tlse2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/onertc/onertc/check"
	"github.com/onertc/onertc/internal/testkit/pebbletest"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

// TestACMEWithBots: the server gets its certificate from Pebble (a real ACME CA in this
// process, validating over TLS-ALPN-01 on the server's own HTTPS port, which TURN shares),
// and bots call
// relay-only through it over HTTPS and WSS, trusting only Pebble's root.
func TestACMEWithBots(t *testing.T) {
	const domain = "meet.onertc.test"
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, portText, _ := net.SplitHostPort(ln.Addr().String())
	httpsPort, _ := strconv.Atoi(portText)
	ca := pebbletest.Start(t, 0, httpsPort, pebbletest.ServeDNS(t, domain))

	cfg := servertest.Config()
	cfg.TLS = server.TLSConfig{ACMEDomains: []string{domain}, ACMEDir: t.TempDir(), ACMECA: ca.Dir}
	// pion resolves TURN host names itself, and this one exists only in the test's DNS.
	cfg.TURN.Host = "127.0.0.1"
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 64000, 64999
	servertest.StartT(t, cfg, servertest.Options{HTTP: ln, ServerOptions: []server.Option{server.WithACMERoots(ca.WFERoots)}})

	// The bots reach https://meet.onertc.test:port on 127.0.0.1 and trust only Pebble.
	var d net.Dialer
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, ln.Addr().String())
		},
	}}
	base := "https://" + domain + ":" + portText

	resp, err := hc.Post(base+"/join/acme-params", "", nil) // the first handshake waits for issuance
	if err != nil {
		t.Fatalf("join over https with a Pebble-issued certificate: %v", err)
	}
	var jr protocol.JoinResponse
	json.NewDecoder(resp.Body).Decode(&jr)
	resp.Body.Close()
	if jr.Params.WSSURL != "wss://"+domain+":"+portText+"/ws" {
		t.Fatalf("wss_url %q", jr.Params.WSSURL)
	}
	if leaf := resp.TLS.PeerCertificates[0]; len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != domain {
		t.Fatalf("served certificate for %v", leaf.DNSNames)
	}

	// TLS-ALPN-01 was answered on the HTTPS port that TURN shares, and TURN over TLS is
	// offered there.
	mresp, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !regexp.MustCompile(`(?m)^onertc_https_port_connections_total\{route="acme"\} [1-9]`).Match(metrics) {
		t.Errorf("no TLS-ALPN-01 validation counted on the shared HTTPS port:\n%s", regexp.MustCompile(`(?m)^onertc_https_port.*$`).FindAll(metrics, -1))
	}

	rep := check.Run(context.Background(), check.Options{Server: base, HTTP: hc, Timeout: 8 * time.Second})
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	for _, res := range rep.Results {
		switch res.Transport {
		case "udp", "tcp":
			if !res.OK || res.Local != "relay" {
				t.Errorf("relay-only call over TURN %s behind HTTPS+WSS from ACME: %+v", res.Transport, res)
			}
		case "tls":
			// turns:127.0.0.1 with a certificate for the domain must not verify.
			if res.OK || res.URI != "turns:127.0.0.1:"+portText+"?transport=tcp" || !res.OnHTTPSPort {
				t.Errorf("TURN over TLS to an IP the certificate does not name: %+v", res)
			}
		}
	}
}
