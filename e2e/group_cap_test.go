//go:build !js

package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v2"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/shaper"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// cappedTURN is a TURN server of the test's own whose relay sockets receive through one
// shaper.Limit: a client that relays through it has its downlink capped at the limit, as
// behind a slow link, while the cap can be set and lifted during the call.
type cappedTURN struct {
	limit   *shaper.Limit
	servers []protocol.ICEServer
}

const (
	capUser  = "capped"
	capPass  = "capped-secret"
	capRealm = "cap.test"
)

func startCappedTURN(t *testing.T) *cappedTURN {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cappedTURN{limit: shaper.New(0, 0)}
	key := turn.GenerateAuthKey(capUser, capRealm, capPass)
	s, err := turn.NewServer(turn.ServerConfig{
		Realm: capRealm,
		AuthHandler: func(user, realm string, _ net.Addr) ([]byte, bool) {
			return key, user == capUser && realm == capRealm
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: pc, RelayAddressGenerator: &shapedRelays{
			RelayAddressGeneratorStatic: turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
			limit:                       c.limit,
		}}},
		LoggerFactory: client.PionLoggerFactory(testLogger().With("turn", "capped")),
	})
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("capped TURN: %v", err)
		}
	})
	c.servers = []protocol.ICEServer{{URLs: []string{"turn:" + pc.LocalAddr().String() + "?transport=udp"}, Username: capUser, Credential: capPass}}
	return c
}

// shapedRelays hands out loopback relay sockets that receive through the limit.
type shapedRelays struct {
	turn.RelayAddressGeneratorStatic
	limit *shaper.Limit
}

func (s *shapedRelays) AllocatePacketConn(network string, port int) (net.PacketConn, net.Addr, error) {
	pc, addr, err := s.RelayAddressGeneratorStatic.AllocatePacketConn(network, port)
	if err != nil {
		return nil, nil, err
	}
	return s.limit.Wrap(pc), addr, nil
}

// viaTURN is the server's transport with the ICE servers replaced: the bot relays through
// the given TURN server only.
type viaTURN struct {
	*client.HTTPTransport
	servers []protocol.ICEServer
}

func (v viaTURN) ICEServers(context.Context, string) ([]protocol.ICEServer, error) {
	return v.servers, nil
}

// layerOf is the layer r was last told it receives from the participant.
func layerOf(r *groupBot, id string) string { return r.gb.Remotes()[id].Layer }

// TestGroupCappedDownlinkGetsTheLowLayer: a simulcast publisher and two subscribers; one
// subscriber relays through a TURN server whose relay sockets are rate-limited (a token
// bucket that drops what exceeds it). Its loss makes the SFU send it the publisher's low
// layer while the uncapped one keeps the top layer; once the cap is lifted it climbs back
// to the top layer. Its video from the publisher never stops for more than a second (two
// while the link has just halved) or, where the machine is so loaded that its video from
// the other subscriber, on the same path with no switch, stops as long, for more than half
// a second longer than that.
func TestGroupCappedDownlinkGetsTheLowLayer(t *testing.T) {
	url := startGroupServer(t)
	capped := startCappedTURN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const room = "group-cap"
	// No view size: the layer follows the bandwidth alone.
	anyView := func(_ *bot.Options, g *bot.GroupOptions) { g.ViewWidth, g.ViewHeight = 0, 0 }
	pub := startGroupBot(t, ctx, url, room, "pub", false, anyView, func(_ *bot.Options, g *bot.GroupOptions) { g.Simulcast = true })
	testsync.Eventually(t, 10*time.Second, "pub joined", func() bool { return pub.gb.GroupCall().Call().ClientID() != "" })
	free := startGroupBot(t, ctx, url, room, "free", false, anyView)
	testsync.Eventually(t, 20*time.Second, "pub and free connected 1:1", func() bool { return connected(pub) && connected(free) })
	tr, err := client.NewHTTPTransport(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow := startGroupBot(t, ctx, url, room, "slow", true, anyView, func(o *bot.Options, _ *bot.GroupOptions) {
		o.Transport = viaTURN{HTTPTransport: tr, servers: capped.servers}
	})
	all := []*groupBot{pub, free, slow}
	ids := waitIDs(t, all...)
	// A minute: at load 28 on two cores, with -race, 30 s fell short once in six runs.
	waitReceivesFrom(t, time.Minute, ids, all, all)
	checkRelayed(t, slow)
	if passed, _ := capped.limit.Counts(); passed < 100 {
		t.Fatalf("%d datagrams relayed by the capped TURN server: slow's media does not go through it", passed)
	}
	p := ids[pub]
	s := &capWatch{t: t, limit: capped.limit, slow: slow, free: free, pub: p}
	s.until("before the cap", time.Minute, func() bool { return s.layers("f", "f") })

	// The cap: slow's video from pub on "q" (with free's video and both audios) is about
	// 340 kbit/s at the relay, on "h" about 430 kbit/s, on "f" about 720 kbit/s.
	slow.gb.ResetGaps()
	capped.limit.Set(capBPS, capBurst)
	s.until("slow down to the low layer", time.Minute, func() bool { return s.layers("q", "f") })
	down := gaps(slow, p, ids[free])
	slow.gb.ResetGaps()
	// It stays there but for rarer and rarer tries of the next layer (estimate.go): 70 % of
	// 30 s on an idle machine. Not asserted: on a loaded one the starved senders send less,
	// the next layer fits the cap at times, and the share fell to 40 %.
	s.share("slow held on the low layer", 30*time.Second, func() bool { return s.layers("q", "f") })
	s.until("slow ending on the low layer", time.Minute, func() bool { return s.layers("q", "f") })
	if _, dropped := capped.limit.Counts(); dropped == 0 {
		t.Fatal("the cap dropped nothing: it did not limit slow")
	}

	capped.limit.Set(0, 0)
	s.until("slow back on the top layer", 90*time.Second, func() bool { return s.layers("f", "f") })
	up := gaps(slow, p, ids[free])
	t.Logf("slow's longest video gap from pub (and from free, no switches, same path): %v (%v) from the cap to the low layer, %v (%v) from there to the top layer after the lift; longest stretch without a new frame from pub %v (sampled every 0.5 s)",
		down[0], down[1], up[0], up[1], s.frozen)
	// free's video reaches slow over the same capped relay with no layer switch: a gap
	// there too is the machine (a test machine at load 20 stalls the relay for a second at
	// times), not a switch.
	for _, g := range []struct {
		what   string
		gaps   [2]time.Duration
		within time.Duration
	}{
		// The link has just halved: pub's top layer loses half its packets until the SFU
		// switches down.
		{"from the cap to the low layer", down, 2 * maxVideoGap},
		{"from the low layer to the top one", up, maxVideoGap},
	} {
		if g.gaps[0] > max(g.within, g.gaps[1]+maxVideoGap/2) {
			t.Errorf("%s, slow's video from pub stopped for %v (more than %v; %v from free on the same path)", g.what, g.gaps[0], g.within, g.gaps[1])
		}
	}
	if s.frozen > 2*maxVideoGap {
		t.Errorf("slow received no new frame of pub's video for %v", s.frozen)
	}
}

// gaps returns the longest gaps in the video slow received from pub and from free.
func gaps(slow *groupBot, pub, free string) [2]time.Duration {
	r := slow.gb.Remotes()
	return [2]time.Duration{time.Duration(r[pub].MaxVideoGapMS) * time.Millisecond, time.Duration(r[free].MaxVideoGapMS) * time.Millisecond}
}

// The cap sits between what slow receives with pub's low layer and with the middle one,
// with a bottleneck queue's worth of burst.
const (
	capBPS   = 370_000
	capBurst = 500 * time.Millisecond
)

// capWatch samples, twice a second, the layers slow and free receive from pub, what the
// capped relay passes, and how long slow goes without a new frame of pub's video.
type capWatch struct {
	t          *testing.T
	limit      *shaper.Limit
	slow, free *groupBot
	pub        string

	lastLog     time.Time
	lastBytes   int64
	lastDropped int64
	frames      int64
	frameAt     time.Time
	frozen      time.Duration // the longest time without a new frame
}

func (s *capWatch) layers(slow, free string) bool {
	return layerOf(s.slow, s.pub) == slow && layerOf(s.free, s.pub) == free
}

// sample updates the frame stretch and logs once a second.
func (s *capWatch) sample(what string) {
	now := time.Now()
	if f := s.slow.gb.Remotes()[s.pub].VideoFrames; f != s.frames || s.frameAt.IsZero() {
		s.frames, s.frameAt = f, now
	}
	s.frozen = max(s.frozen, now.Sub(s.frameAt))
	if now.Sub(s.lastLog) < time.Second {
		return
	}
	_, dropped := s.limit.Counts()
	b := s.limit.PassedBytes()
	if !s.lastLog.IsZero() {
		s.t.Logf("%s: slow on %q, free on %q; the capped relay passed %d kbit/s and dropped %d datagrams/s", what,
			layerOf(s.slow, s.pub), layerOf(s.free, s.pub),
			int64(float64(b-s.lastBytes)*8/1000/now.Sub(s.lastLog).Seconds()), dropped-s.lastDropped)
	}
	s.lastLog, s.lastBytes, s.lastDropped = now, b, dropped
}

// until samples until cond holds, failing the test after d.
func (s *capWatch) until(what string, d time.Duration, cond func() bool) {
	s.t.Helper()
	start := time.Now()
	for {
		s.sample(what)
		if cond() {
			s.t.Logf("%s after %v", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > d {
			s.t.Fatalf("%s: not within %v (slow on %q, free on %q)", what, d, layerOf(s.slow, s.pub), layerOf(s.free, s.pub))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// share samples for d and logs the share of the samples where cond held.
func (s *capWatch) share(what string, d time.Duration, cond func() bool) {
	yes, n := 0, 0
	for start := time.Now(); time.Since(start) < d; n++ {
		s.sample(what)
		if cond() {
			yes++
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.t.Logf("%s: %d of %d samples", what, yes, n)
}
