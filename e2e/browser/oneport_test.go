//go:build !js

package browser

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

// relayOnlyJS starts, in the page, a relay-only call between two RTCPeerConnections whose
// only ICE server is the given one: fake camera video one way, and window.oneport is set to
// the outcome ({error} or the selected local candidate and packets received).
const relayOnlyJS = `(async (url, username, credential) => {
	window.oneport = null;
	try {
		const cfg = {iceServers: [{urls: [url], username, credential}], iceTransportPolicy: "relay"};
		const a = new RTCPeerConnection(cfg), b = new RTCPeerConnection(cfg);
		a.onicecandidate = e => { if (e.candidate) b.addIceCandidate(e.candidate); };
		b.onicecandidate = e => { if (e.candidate) a.addIceCandidate(e.candidate); };
		const media = await navigator.mediaDevices.getUserMedia({video: true});
		media.getTracks().forEach(t => a.addTrack(t, media));
		await a.setLocalDescription();
		await b.setRemoteDescription(a.localDescription);
		await b.setLocalDescription();
		await a.setRemoteDescription(b.localDescription);
		const deadline = Date.now() + 30000;
		for (;;) {
			const sa = await a.getStats(), sb = await b.getStats();
			let pair, packets = 0;
			sa.forEach(s => { if (s.type === "transport" && s.selectedCandidatePairId) pair = sa.get(s.selectedCandidatePairId); });
			sb.forEach(s => { if (s.type === "inbound-rtp" && s.kind === "video") packets = s.packetsReceived; });
			if (pair && packets > 20) {
				const l = sa.get(pair.localCandidateId);
				window.oneport = {type: l.candidateType, relayProtocol: l.relayProtocol, url: l.url || "", packets};
				return;
			}
			if (Date.now() > deadline) {
				window.oneport = {error: "no relayed video after 30 s: ice " + a.iceConnectionState + ", packets " + packets};
				return;
			}
			await new Promise(r => setTimeout(r, 200));
		}
	} catch (e) {
		window.oneport = {error: String(e)};
	}
})`

// TestRelayOnlyThroughTheHTTPSPort: real Chromium calls relay-only with one ICE server on
// the HTTPS port — turns: (TLS, what a browser behind a 443-only firewall uses), then
// turn:…?transport=tcp — and no UDP to the TURN server at all: the selected local
// candidate is a relay whose relay protocol is tls, then tcp.
func TestRelayOnlyThroughTheHTTPSPort(t *testing.T) {
	ts := startServer(t, func(c *server.Config) { c.TLS = server.TLSConfig{SelfSigned: true} })
	hostPort := strings.TrimPrefix(ts.url, "https://")
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get(ts.url + "/turn?service=turn&username=browser-oneport")
	if err != nil {
		t.Fatal(err)
	}
	var creds protocol.TURNCredentials
	err = json.NewDecoder(resp.Body).Decode(&creds)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The page is served with a self-signed certificate; TURN over TLS checks it the same way.
	browser := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	for _, tc := range []struct{ url, protocol string }{
		{"turns:" + hostPort + "?transport=tcp", "tls"},
		{"turn:" + hostPort + "?transport=tcp", "tcp"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			tb := newTab(t, browser, "tab "+tc.protocol).in(t)
			tb.navigate(ts.url + "/healthz")
			arg := func(s string) string { b, _ := json.Marshal(s); return string(b) }
			tb.eval(fmt.Sprintf("(%s)(%s, %s, %s), true", relayOnlyJS, arg(tc.url), arg(creds.Username), arg(creds.Password)), nil)
			tb.waitFor("the relay-only call's outcome", "window.oneport", 40*time.Second)
			var out struct {
				Error, Type, RelayProtocol, URL string
				Packets                         int
			}
			tb.eval("window.oneport", &out)
			if out.Error != "" {
				t.Fatalf("relay-only call via %s: %s", tc.url, out.Error)
			}
			if out.Type != "relay" || out.RelayProtocol != tc.protocol {
				t.Fatalf("selected local candidate %+v; want a relay over %s", out, tc.protocol)
			}
			t.Logf("via %s: local relay candidate over %s (%s), %d video packets relayed", tc.url, out.RelayProtocol, out.URL, out.Packets)
		})
	}
}
