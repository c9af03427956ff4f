//go:build !js

package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// TestGroupOverICETCPOnTheHTTPSPort: participants whose ICE may use TCP only (a firewall
// that passes nothing but the HTTPS port) reach the SFU through the HTTPS port's
// demultiplexer and receive each other's media.
func TestGroupOverICETCPOnTheHTTPSPort(t *testing.T) {
	ts, _ := startGroupServer(t, false, func(c *Config) { c.TLS.SelfSigned = true })
	insecure := &tls.Config{InsecureSkipVerify: true} // the server's self-signed certificate
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}, Timeout: 10 * time.Second}
	base := "https://" + ts.host
	join := func() protocol.JoinResponse {
		t.Helper()
		resp, err := client.Post(base+"/join/tcponly?group=1", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var jr protocol.JoinResponse
		if err := json.Unmarshal(b, &jr); err != nil || jr.Result != protocol.ResultSuccess {
			t.Fatalf("join: %s (%v)", b, err)
		}
		return jr
	}
	join()
	join()
	c := join()
	if !strings.HasPrefix(c.Params.GroupURL, "wss://"+ts.host+"/group/tcponly/") {
		t.Fatalf("group_url %q: want wss on the HTTPS port", c.Params.GroupURL)
	}
	d := join()
	// sfutest dials with gorilla's default dialer: it must accept the test certificate.
	// No test of this package runs in parallel, so changing it here races with nothing.
	saved := websocket.DefaultDialer.TLSClientConfig
	websocket.DefaultDialer.TLSClientConfig = insecure
	t.Cleanup(func() { websocket.DefaultDialer.TLSClientConfig = saved })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := sfutest.Options{Audio: true, Layers: groupVideo, FPS: 15, TCPOnly: true}
	var clients []*sfutest.Client
	for _, u := range []string{c.Params.GroupURL, d.Params.GroupURL} {
		cl, err := sfutest.Dial(ctx, u, opts)
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		t.Cleanup(cl.Close)
		if err := cl.Publish(ctx); err != nil {
			t.Fatalf("publish: %v", err)
		}
		clients = append(clients, cl)
	}
	for i, cl := range clients {
		other := clients[1-i]
		testsync.Eventually(t, 30*time.Second, cl.ID+" receives "+other.ID+" over ICE-TCP", func() bool {
			r := cl.Received(other.ID)
			return r.AudioPackets > 20 && r.VideoPackets > 20
		})
	}
	if n := ts.mux.Load().Stats().ICETCP; n < 2 {
		t.Fatalf("the HTTPS port routed %d ICE-TCP connections, want one per participant at least", n)
	}
}
