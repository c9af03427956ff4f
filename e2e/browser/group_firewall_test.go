//go:build !js

package browser

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/server"
)

// TestGroupRelayOnlyTabBehindA443OnlyFirewall: a relay-only tab (?it=relay) on a network
// that lets only the HTTPS port out (UDP to the TURN port dropped, TCP to it and to TURN's
// own TLS port reset) joins two bots in a group room. Its up and down connections to the
// SFU both go through a relay over TURN over TLS on the HTTPS port, its two tiles play,
// and both bots receive its audio and video. The bots are pion peers, whose track readers
// end at the first packet they cannot parse: this is where the SFU forwarding Chromium's
// padding-only probes malformed showed (the bots got a tab's first packets, then none).
func TestGroupRelayOnlyTabBehindA443OnlyFirewall(t *testing.T) {
	ts := startGroupServerWith(t, func(c *server.Config) { c.TLS = server.TLSConfig{SelfSigned: true} },
		servertest.Options{WrapUDP: servertest.DropUDP, WrapTCP: servertest.RefuseTCP, WrapTLS: servertest.RefuseTCP})
	u, err := url.Parse(ts.url)
	if err != nil {
		t.Fatal(err)
	}
	httpsPort := u.Port()
	// The bots and the page accept the server's self-signed certificate; TURN over TLS
	// checks it the same way as the page.
	insecure := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	browser := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	tb := newTab(t, browser, "Fay")
	tb.logConsoleOnFailure()

	const roomID = "browser-group-firewall"
	var bots []*roomBot
	for _, n := range []string{"Gus", "Hal"} {
		tr, err := client.NewHTTPTransport(ts.url, insecure)
		if err != nil {
			t.Fatal(err)
		}
		bots = append(bots, startRoomBot(t, ts.url, roomID, n, tr))
	}
	tb.openGroupRoom(ts.url+"/r/"+roomID+"?it=relay", "Fay")
	start := time.Now()
	tb.join()
	tiles := tb.waitTilesPlaying(2, 90*time.Second)
	var names []string
	for _, tl := range tiles {
		names = append(names, tl.Name)
	}
	if got := strings.Join(sorted(names), " "); got != "Gus Hal" {
		t.Errorf("Fay's tiles %q, want Gus and Hal", got)
	}
	t.Logf("Fay's two tiles play %v after joining", time.Since(start).Round(time.Millisecond))

	for _, pc := range []string{"onertcUpPC", "onertcDownPC"} {
		p := tb.pairOf("window." + pc)
		t.Logf("%s: %+v", pc, p)
		if p.LocalType != "relay" || p.RelayProtocol != "tls" {
			t.Errorf("%s: selected local candidate %s over %q, want a relay over TURN over TLS", pc, p.LocalType, p.RelayProtocol)
		}
		if ru, err := url.Parse(strings.Replace(p.URL, "turns:", "turns://", 1)); err != nil || ru.Port() != httpsPort {
			t.Errorf("%s: relayed by TURN server %q, want the HTTPS port %s", pc, p.URL, httpsPort)
		}
	}

	ids := bots[0].waitIDs(t, []string{"Fay", "Gus", "Hal"}, 20*time.Second)
	for _, b := range bots {
		b.waitReceives(t, ids, []string{"Fay"}, 30*time.Second)
	}
}
