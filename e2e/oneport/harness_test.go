//go:build !js

// Package oneport tests the HTTPS port that also serves TURN over TLS and TCP (server/demux)
// from outside, with real clients: coTurn's turnutils_uclient relays through it while curl
// and Go's HTTP/2 client load pages from it, and floods of connections that say nothing
// useful leave it responsive with no goroutine or memory left behind.
package oneport

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

// startShared runs a server with a self-signed certificate: its HTTPS port serves TURN
// too, by default.
func startShared(t *testing.T, opts ...server.Option) (*servertest.Running, string) {
	t.Helper()
	cfg := servertest.Config()
	cfg.TLS = server.TLSConfig{SelfSigned: true}
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 63500, 63999 // apart from most packages running alongside
	r := servertest.StartT(t, cfg, servertest.Options{ServerOptions: opts})
	_, port, err := net.SplitHostPort(strings.TrimPrefix(r.URL, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	return r, port
}

// h2Client is Go's HTTP client speaking HTTP/2 over TLS (ALPN h2), from the local address
// from (empty: any).
func h2Client(t *testing.T, from string) *http.Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // self-signed: the point is the port, not the CA
		ForceAttemptHTTP2: true,
		DialContext:       d.DialContext,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// getH2 loads a page over HTTP/2 and returns an error unless it is a 200 over HTTP/2.
func getH2(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("GET %s: body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || resp.TLS == nil {
		return fmt.Errorf("GET %s: %s over %s", url, resp.Status, resp.Proto)
	}
	return nil
}

// curl loads a page with curl (HTTP/2 over TLS, or HTTP/1.1 when http1 is set) and returns
// an error unless it is a 200.
func curl(ctx context.Context, url string, http1 bool) error {
	p, err := exec.LookPath("curl")
	if err != nil {
		return fmt.Errorf("curl not found: run `make deps` (installs Debian's curl)")
	}
	version := "--http2"
	if http1 {
		version = "--http1.1"
	}
	out, err := exec.CommandContext(ctx, p, "-sk", version, "--max-time", "10", "-o", "/dev/null",
		"-w", "%{http_code} %{http_version}", url).CombinedOutput()
	want := "200 2"
	if http1 {
		want = "200 1.1"
	}
	if err != nil || string(out) != want {
		return fmt.Errorf("curl %s %s: %q, %v (want %q)", version, url, out, err, want)
	}
	return nil
}

// credentials fetches TURN credentials from GET /turn, as a deployment hands them out.
func credentials(t *testing.T, hc *http.Client, base string) protocol.TURNCredentials {
	t.Helper()
	resp, err := hc.Get(base + "/turn?service=turn&username=oneport")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c protocol.TURNCredentials
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /turn: %s, %v", resp.Status, err)
	}
	return c
}

// portMetric reads onertc_https_port_connections_total{route} from /metrics.
func portMetric(t *testing.T, hc *http.Client, base, route string) float64 {
	t.Helper()
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^onertc_https_port_connections_total\{route="` + route + `"\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no onertc_https_port_connections_total{route=%q} in /metrics", route)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
