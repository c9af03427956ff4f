//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/internal/testkit/turntest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
	"github.com/onertc/onertc/server/turn"
)

// modes run a scenario on direct ICE (host candidates on loopback) and relay-only ICE
// through the server's own TURN.
var modes = []struct {
	name  string
	relay bool
	pair  string
}{
	{"direct", false, "host"},
	{"relay", true, "relay"},
}

func modeOpts(relay bool) []botOpt {
	if relay {
		return []botOpt{relayOnly}
	}
	return nil
}

// TestCallHangupReofferNewcomerFull: two bots connect, media and data flow both ways; one
// hangs up, the other sees bye and re-offers; a newcomer gets the stored offer at join and
// the call comes back; a further bot gets FULL.
func TestCallHangupReofferNewcomerFull(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startServer(t, nil)
			if m.relay {
				needRelay(t, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			room := "call-" + m.name
			a := startBot(t, ctx, s, room, "a", modeOpts(m.relay)...)
			b := startBot(t, ctx, s, room, "b", modeOpts(m.relay)...)
			if init := a.records("joined")[0].IsInitiator; init == nil || !*init {
				t.Fatal("first bot is not the initiator")
			}
			waitConnected(t, 1, 20*time.Second, a, b)
			checkPair(t, a, m.pair)
			checkPair(t, b, m.pair)
			waitMediaGrows(t, 10*time.Second, a, b)

			d := startBot(t, ctx, s, room, "d", modeOpts(m.relay)...)
			if err := d.wait(t, 10*time.Second); !errors.Is(err, client.ErrRoomFull) {
				t.Fatalf("third bot: %v, want ErrRoomFull", err)
			}

			// What the server has taken from b for a newcomer: b's re-offer goes out on
			// /message (b is the initiator now) or on its socket (stored, counted as queued).
			stored := func() float64 {
				n := 0.0
				for k, v := range metrics(t, s.URL+"/metrics") {
					if k == "onertc_relay_messages_queued_total" ||
						strings.HasPrefix(k, "onertc_http_requests_total{") && strings.Contains(k, "POST /message/") {
						n += v
					}
				}
				return n
			}
			before := stored()
			if err := a.stop(t); err != nil {
				t.Fatalf("a hung up with %v", err)
			}
			testsync.Eventually(t, 10*time.Second, "b sees bye and re-offers", func() bool {
				return b.count("bye") == 1 && len(b.callEvents(client.EventSent, protocol.TypeOffer)) == 1
			})
			// "sent" is b's side of it. Wait until the server has stored the offer for the
			// next joiner, or c could join before it arrives.
			testsync.Eventually(t, 10*time.Second, "b's re-offer stored by the server", func() bool {
				return stored() > before
			})
			c := startBot(t, ctx, s, room, "c", modeOpts(m.relay)...)
			msgs := c.joinParams().Messages
			if len(msgs) == 0 || !strings.Contains(msgs[0], `"type":"offer"`) {
				t.Fatalf("newcomer's join messages do not start with b's offer: %.120q", msgs)
			}
			waitConnected(t, 2, 20*time.Second, b)
			waitConnected(t, 1, 20*time.Second, c)
			checkPair(t, c, m.pair)
			waitMediaGrows(t, 10*time.Second, b, c)
		})
	}
}

// TestLateJoinerGetsStoredOffer: the initiator's offer and all its gathered candidates wait
// in the mailbox; a late joiner gets them in its join and connects from them alone.
func TestLateJoinerGetsStoredOffer(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := startServer(t, nil)
			if m.relay {
				needRelay(t, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			a := startBot(t, ctx, s, "late-"+m.name, "a", modeOpts(m.relay)...)
			time.Sleep(2 * time.Second) // a gathers everything while alone
			b := startBot(t, ctx, s, "late-"+m.name, "b", modeOpts(m.relay)...)
			msgs := b.joinParams().Messages
			var offers, cands int
			for _, raw := range msgs {
				sig, err := protocol.ParseSignal(raw)
				if err != nil {
					t.Fatalf("bad stored message %q: %v", raw, err)
				}
				switch sig.Type {
				case protocol.TypeOffer:
					offers++
				case protocol.TypeCandidate:
					cands++
					if sig.Label == nil || sig.ID == "" {
						t.Errorf("stored candidate without label/mid: %s", raw)
					}
					if m.relay && !strings.Contains(sig.Candidate, " typ relay") {
						t.Errorf("relay-only initiator stored a non-relay candidate: %s", sig.Candidate)
					}
				}
			}
			if offers != 1 || cands == 0 {
				t.Fatalf("join messages: %d offers, %d candidates; want 1 and some", offers, cands)
			}
			waitConnected(t, 1, 20*time.Second, a, b)
			checkPair(t, b, m.pair)
			waitMediaGrows(t, 10*time.Second, a, b)
		})
	}
}

// gatedTransport lets a test take a bot's relay socket down and keep it down.
type gatedTransport struct {
	client.Transport
	mu    sync.Mutex
	down  bool
	conns []client.RelayConn
}

func (g *gatedTransport) DialRelay(ctx context.Context, url string) (client.RelayConn, error) {
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	if down {
		return nil, errTransportDown
	}
	c, err := g.Transport.DialRelay(ctx, url)
	if err == nil {
		g.mu.Lock()
		g.conns = append(g.conns, c)
		g.mu.Unlock()
	}
	return c, err
}

// cut closes the sockets and refuses new ones until restore.
func (g *gatedTransport) cut() {
	g.mu.Lock()
	g.down = true
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (g *gatedTransport) restore() {
	g.mu.Lock()
	g.down = false
	g.mu.Unlock()
}

// TestSocketCutReconnectsWithinGrace: the callee's relay socket is cut; while it is down the
// initiator restarts ICE (its offer is queued by the relay); the callee re-registers within
// the grace period, gets the queued offer, answers, and the media keeps flowing.
func TestSocketCutReconnectsWithinGrace(t *testing.T) {
	s := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ht, err := client.NewHTTPTransport(s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	gate := &gatedTransport{Transport: ht}
	a := startBot(t, ctx, s, "cut", "a")
	b := startBot(t, ctx, s, "cut", "b", func(o *bot.Options) { o.Transport = gate })
	waitConnected(t, 1, 20*time.Second, a, b)

	gate.cut()
	testsync.Eventually(t, 5*time.Second, "b notices the lost socket", func() bool { return b.count(string(client.EventRelayLost)) == 1 })
	a.b.Call().RestartICE()
	testsync.Eventually(t, 5*time.Second, "a sends its restart offer", func() bool {
		return len(a.callEvents(client.EventSent, protocol.TypeOffer)) == 2
	})
	time.Sleep(500 * time.Millisecond) // well inside the 3 s grace
	gate.restore()
	testsync.Eventually(t, 5*time.Second, "b re-registers", func() bool { return b.count(string(client.EventRelayRestore)) == 1 })
	testsync.Eventually(t, 10*time.Second, "b answers the queued restart offer", func() bool {
		return len(b.callEvents(client.EventReceived, protocol.TypeOffer)) == 2 &&
			len(a.callEvents(client.EventReceived, protocol.TypeAnswer)) == 2
	})
	waitMediaGrows(t, 10*time.Second, a, b)
	if a.count("bye")+b.count("bye") != 0 {
		t.Fatal("a socket loss within grace ended the call")
	}
}

// TestCallOutlivesTURNCredential: a relay-only call keeps its media flowing well past the
// expiry of the TURN credential it started with.
func TestCallOutlivesTURNCredential(t *testing.T) {
	const ttl = 3 * time.Second
	s := startServer(t, func(c *server.Config) { c.TURN.TTL = ttl })
	needRelay(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := startBot(t, ctx, s, "ttl", "a", relayOnly)
	b := startBot(t, ctx, s, "ttl", "b", relayOnly)
	// Beside the call, a client holding a credential of the same life allocates now and
	// sends, after the expiry, the requests a call sends over time (pion's bots refresh only
	// at half the allocation's lifetime, minutes away). These are what a server without the
	// grace rule refuses (server/turn's TestLongCallOutlivesCredential shows the difference).
	cred, turnAddr := turnCredential(t, s)
	c := turntest.Dial(t, turnAddr, cred.Username, cred.Password, s.Config.TURN.Realm)
	if _, rc := c.Allocate(turntest.Lifetime(10 * time.Minute)); rc != 0 {
		t.Fatalf("Allocate with a fresh credential: code %d", rc)
	}
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9} // permissions need no listener
	waitConnected(t, 1, 20*time.Second, a, b)
	checkPair(t, a, "relay")
	expiry, _, err := turn.ParseUsername(cred.Username)
	if err != nil {
		t.Fatal(err)
	}
	// The credentials of the bots were minted no later than this one's and have the same life.
	testsync.Eventually(t, ttl+5*time.Second, "the credentials expire", func() bool { return time.Now().After(expiry) })
	if r, p, b := c.KeepCall(peer, 0x4000, 10*time.Minute); r != 0 || p != 0 || b != 0 {
		t.Fatalf("after the credential expired: Refresh %d, CreatePermission %d, ChannelBind %d; want 0 each", r, p, b)
	}
	waitMediaGrows(t, 5*time.Second, a, b)
	if a.connectedCount() != 1 || b.connectedCount() != 1 {
		t.Fatalf("call reconnected after the credential expired (a %d, b %d connections)", a.connectedCount(), b.connectedCount())
	}
}

// turnCredential fetches a credential from the server's TURN REST API and returns it with the
// address of its UDP TURN URI.
func turnCredential(t *testing.T, s *testServer) (protocol.TURNCredentials, string) {
	t.Helper()
	resp, err := http.Get(s.URL + "/turn?service=turn&username=e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cred protocol.TURNCredentials
	if err := json.NewDecoder(resp.Body).Decode(&cred); err != nil {
		t.Fatal(err)
	}
	for _, u := range cred.URIs {
		if hp, ok := strings.CutPrefix(u, "turn:"); ok && strings.HasSuffix(hp, "?transport=udp") {
			return cred, strings.TrimSuffix(hp, "?transport=udp")
		}
	}
	t.Fatalf("/turn offers no UDP TURN URI: %v", cred.URIs)
	return cred, ""
}
