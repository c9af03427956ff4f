//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/bot"
	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/internal/testkit/servertest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// maxVideoGap is the longest a group test lets video stop for a participant that stays.
const maxVideoGap = time.Second

// startGroupServer runs a server with group rooms (its SFU on a loopback UDP socket) and
// TURN, until the test ends.
func startGroupServer(t *testing.T) string {
	t.Helper()
	r := servertest.StartT(t, testConfig(), servertest.Options{Log: testLogger(), Group: true})
	if why := relayStatus(r); why != "" {
		t.Fatal("the server offers no TURN relay: " + why)
	}
	return r.URL
}

// groupBot is a group-capable bot running in the test process.
type groupBot struct {
	gb   *bot.GroupBot
	name string
	done chan struct{}
	err  error

	mu         sync.Mutex
	events     []client.GroupEvent
	callEvents []client.Event // of the 1:1 call
}

// groupBotOpt adjusts a group bot's options.
type groupBotOpt func(*bot.Options, *bot.GroupOptions)

func startGroupBot(t *testing.T, ctx context.Context, url, room, name string, relay bool, opts ...groupBotOpt) *groupBot {
	t.Helper()
	g := &groupBot{name: name, done: make(chan struct{})}
	o := bot.Options{Server: url, Room: room, IncludeLoopback: true, RelayOnly: relay, Timeout: 30 * time.Second,
		StatsEvery: -1, RecoverAfter: 2 * time.Second, Logger: testLogger().With("bot", name)}
	gopts := bot.GroupOptions{Name: name, ViewWidth: 320, ViewHeight: 240,
		OnGroupEvent: func(ev client.GroupEvent) {
			g.mu.Lock()
			g.events = append(g.events, ev)
			g.mu.Unlock()
		}}
	o.OnCallEvent = func(ev client.Event) {
		g.mu.Lock()
		g.callEvents = append(g.callEvents, ev)
		g.mu.Unlock()
	}
	for _, f := range opts {
		f(&o, &gopts)
	}
	gb, err := bot.NewGroup(o, gopts)
	if err != nil {
		t.Fatalf("bot %s: %v", name, err)
	}
	g.gb = gb
	go func() {
		defer close(g.done)
		_, g.err = gb.Run(ctx)
	}()
	t.Cleanup(func() {
		gb.Hangup()
		<-g.done
	})
	return g
}

// id is the bot's participant id in the group ("" before its welcome).
func (g *groupBot) id() string {
	if s := g.gb.GroupCall().Session(); s != nil {
		return s.ID()
	}
	return ""
}

func (g *groupBot) stop(t *testing.T) {
	t.Helper()
	g.gb.Hangup()
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("bot %s did not stop", g.name)
	}
	if g.err != nil {
		t.Errorf("bot %s: %v", g.name, g.err)
	}
}

// waitIDs waits for every bot's welcome and returns their participant ids.
func waitIDs(t *testing.T, bots ...*groupBot) map[*groupBot]string {
	t.Helper()
	ids := map[*groupBot]string{}
	for _, b := range bots {
		testsync.Eventually(t, 20*time.Second, b.name+" welcomed in the group", func() bool { return b.id() != "" })
		ids[b] = b.id()
	}
	return ids
}

// waitReceivesFrom waits until every bot in to receives audio and video from every other
// bot of from, and both keep rising.
func waitReceivesFrom(t *testing.T, timeout time.Duration, ids map[*groupBot]string, to, from []*groupBot) {
	t.Helper()
	for _, r := range to {
		for _, s := range from {
			if r == s {
				continue
			}
			key := ids[s]
			before := r.gb.Remotes()[key]
			testsync.Eventually(t, timeout, fmt.Sprintf("%s receives audio and video from %s", r.name, s.name), func() bool {
				now := r.gb.Remotes()[key]
				return now.VideoPackets > before.VideoPackets+10 && now.AudioPackets > before.AudioPackets+10 &&
					now.VideoFrames > before.VideoFrames && now.VideoBytes > before.VideoBytes
			})
		}
	}
}

// TestGroupFourRelayOnlyBotsThenTwoLeaveTwoJoin: four relay-only bots (the first two start
// as a 1:1 call, the third turns the room into a group) each receive the three others'
// audio and video through the SFU; then two leave and two others join, and the video the
// two that stay receive from each other never stops for a second.
func TestGroupFourRelayOnlyBotsThenTwoLeaveTwoJoin(t *testing.T) {
	url := startGroupServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const room = "group-four"
	a := startGroupBot(t, ctx, url, room, "a", true)
	testsync.Eventually(t, 10*time.Second, "a joined", func() bool { return a.gb.GroupCall().Call().ClientID() != "" })
	b := startGroupBot(t, ctx, url, room, "b", true)
	testsync.Eventually(t, 20*time.Second, "a and b connected 1:1", func() bool {
		return connected(a) && connected(b)
	})
	c := startGroupBot(t, ctx, url, room, "c", true)
	d := startGroupBot(t, ctx, url, room, "d", true)
	four := []*groupBot{a, b, c, d}
	ids := waitIDs(t, four...)
	waitReceivesFrom(t, 30*time.Second, ids, four, four)
	for _, g := range four {
		checkRelayed(t, g)
	}

	a.gb.ResetGaps()
	b.gb.ResetGaps()
	c.stop(t)
	d.stop(t)
	e := startGroupBot(t, ctx, url, room, "e", true)
	f := startGroupBot(t, ctx, url, room, "f", true)
	for k, v := range waitIDs(t, e, f) {
		ids[k] = v
	}
	now := []*groupBot{a, b, e, f}
	waitReceivesFrom(t, 30*time.Second, ids, now, now)
	for _, pair := range [][2]*groupBot{{a, b}, {b, a}} {
		r := pair[0].gb.Remotes()[ids[pair[1]]]
		t.Logf("%s from %s: longest video gap %d ms during the leaves and joins", pair[0].name, pair[1].name, r.MaxVideoGapMS)
		if r.MaxVideoGapMS > maxVideoGap.Milliseconds() {
			t.Errorf("%s's video from %s stopped for %d ms (more than %v)", pair[0].name, pair[1].name, r.MaxVideoGapMS, maxVideoGap)
		}
	}
}

// connected reports whether the bot's 1:1 peer is connected.
func connected(g *groupBot) bool {
	p := g.gb.Bot().Peer()
	if p == nil {
		return false
	}
	_, _, ok := p.SelectedPair()
	return ok
}

// checkRelayed checks that the bot's group connections go through TURN.
func checkRelayed(t *testing.T, g *groupBot) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, ev := range g.events {
		if ev.Kind != client.GroupEventPeer {
			continue
		}
		p, ok := ev.Peer.(*client.PionPeer)
		if !ok {
			t.Fatalf("%s: group peer %T", g.name, ev.Peer)
		}
		local, _, ok := p.SelectedPair()
		if !ok {
			t.Errorf("%s: %s peer has no selected pair", g.name, ev.PC)
			continue
		}
		if local != "relay" {
			t.Errorf("%s: %s peer's local candidate is %s, want relay", g.name, ev.PC, local)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%s: %d group peers, want up and down", g.name, n)
	}
}

// TestGroupThirdJoinMovesTheCallWithinASecond: two bots in a 1:1 call; a third joins; the
// first two move to the SFU and the video each receives from the other stops for less
// than a second (from the last packet of the 1:1 call to the first through the SFU, and
// within each); the third receives both.
func TestGroupThirdJoinMovesTheCallWithinASecond(t *testing.T) {
	url := startGroupServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const room = "group-move"
	a := startGroupBot(t, ctx, url, room, "a", false)
	testsync.Eventually(t, 10*time.Second, "a joined", func() bool { return a.gb.GroupCall().Call().ClientID() != "" })
	b := startGroupBot(t, ctx, url, room, "b", false)
	p2p := map[*groupBot]string{a: "onertc-bot-0", b: "onertc-bot-0"} // both bots are index 0
	testsync.Eventually(t, 20*time.Second, "a and b receive each other's video 1:1", func() bool {
		return a.gb.Remotes()[p2p[b]].VideoPackets > 30 && b.gb.Remotes()[p2p[a]].VideoPackets > 30
	})
	c := startGroupBot(t, ctx, url, room, "c", false)
	ids := waitIDs(t, a, b, c)
	all := []*groupBot{a, b, c}
	waitReceivesFrom(t, 30*time.Second, ids, all, all)
	// The 1:1 calls have ended: nothing arrives on them any more.
	testsync.Eventually(t, 10*time.Second, "the 1:1 calls ended", func() bool {
		return a.gb.Bot().Peer() != nil && !connected(a) && !connected(b)
	})
	// The state a participant sends reaches the others' participant lists.
	c.gb.GroupCall().Session().SetState(true, true)
	testsync.Eventually(t, 10*time.Second, "a sees c muted with the camera off", func() bool {
		evs := a.eventsOf(client.GroupEventParticipants)
		if len(evs) == 0 {
			return false
		}
		for _, p := range evs[len(evs)-1].Participants {
			if p.ID == ids[c] {
				return p.Muted && p.CameraOff && p.Name == "c"
			}
		}
		return false
	})
	// Each left the 1:1 call only once both said the group's media played (group-ready).
	for _, g := range []*groupBot{a, b} {
		if said, heard := g.saidAndHeardGroupReady(); !said || !heard {
			t.Errorf("%s: group-ready said %v, heard %v; want both", g.name, said, heard)
		}
	}
	for _, pair := range [][2]*groupBot{{a, b}, {b, a}} {
		rem := pair[0].gb.Remotes()
		old, sfu := rem[p2p[pair[1]]], rem[ids[pair[1]]]
		switchGap := sfu.FirstVideo.Sub(old.LastVideo)
		// The picture froze only while neither stream brought video: a gap of the 1:1
		// stream (a stall of a loaded machine) while the SFU's already arrived is none.
		worst := bot.LongestStop(old, sfu)
		t.Logf("%s from %s: 1:1 video until %s, SFU video from %s (switch gap %v, overlap if negative); longest gap within: 1:1 %d ms, SFU %d ms; longest stop %v",
			pair[0].name, pair[1].name, old.LastVideo.Format("15:04:05.000"), sfu.FirstVideo.Format("15:04:05.000"),
			switchGap.Round(time.Millisecond), old.MaxVideoGapMS, sfu.MaxVideoGapMS, worst.Round(time.Millisecond))
		if worst > maxVideoGap {
			t.Errorf("%s's video from %s stopped for %v in the move (more than %v)", pair[0].name, pair[1].name, worst, maxVideoGap)
		}
	}
}

// TestGroupBadURLOrRefusedSocketFailsClearly: a group session on a URL that is not a group
// socket, on a client id the server did not admit, or on a port nobody listens on ends at
// once with ErrGroupRefused, not a hang.
func TestGroupBadURLOrRefusedSocketFailsClearly(t *testing.T) {
	url := startGroupServer(t)
	ws := "ws" + strings.TrimPrefix(url, "http")
	dead, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "ws://" + dead.Addr().String() + "/group/r/c"
	dead.Close()
	tr, err := client.NewHTTPTransport(url, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	down := func(context.Context, client.PeerConfig) (client.Peer, error) {
		return client.NewPionPeer(nil, client.PeerConfig{})
	}
	for _, tt := range []struct {
		name, url, want string
	}{
		{"not admitted", ws + "/group/some-room/not-a-ticket", "HTTP 4"},
		{"not a group route", ws + "/nothing-here", "HTTP 404"},
		{"nobody listening", deadURL, "refused"},
		{"not a websocket URL", url + "/group/r/c", "scheme"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := client.NewGroupSession(client.GroupConfig{URL: tt.url, Dialer: tr, NewDown: down})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			err = s.Run(ctx)
			took := time.Since(start)
			if !errors.Is(err, client.ErrGroupRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v; want ErrGroupRefused saying %q", err, tt.want)
			}
			if took > 5*time.Second {
				t.Errorf("Run took %v to fail", took)
			}
			t.Logf("error: %v (after %v)", err, took.Round(time.Millisecond))
		})
	}
}

// cuttableTransport is the HTTP transport whose group sockets the test can cut.
type cuttableTransport struct {
	*client.HTTPTransport
	mu    sync.Mutex
	conns []client.GroupConn
}

func (c *cuttableTransport) DialGroup(ctx context.Context, url string) (client.GroupConn, error) {
	conn, err := c.HTTPTransport.DialGroup(ctx, url)
	if err == nil {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}
	return conn, err
}

// cut closes every group socket dialed so far, as a network that drops them.
func (c *cuttableTransport) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// events returns the bot's group events of kind.
// saidAndHeardGroupReady reports whether the bot's 1:1 call sent group-ready to the other
// side and received it from there.
func (g *groupBot) saidAndHeardGroupReady() (said, heard bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ev := range g.callEvents {
		said = said || ev.Kind == client.EventSent && ev.Signal == protocol.TypeGroupReady
		heard = heard || ev.Kind == client.EventGroupReady
	}
	return said, heard
}

func (g *groupBot) eventsOf(kind client.GroupEventKind) []client.GroupEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []client.GroupEvent
	for _, ev := range g.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// TestGroupSocketLossResumes: a participant whose group socket drops dials again with
// resume within the grace period: it keeps its id and its connections (the video it
// receives does not stop for a second), and the signaling goes on (a newcomer's media
// reaches it).
func TestGroupSocketLossResumes(t *testing.T) {
	url := startGroupServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const room = "group-resume"
	tr, err := client.NewHTTPTransport(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ct := &cuttableTransport{HTTPTransport: tr}
	a := startGroupBot(t, ctx, url, room, "a", false)
	testsync.Eventually(t, 10*time.Second, "a joined", func() bool { return a.gb.GroupCall().Call().ClientID() != "" })
	b := startGroupBot(t, ctx, url, room, "b", false)
	testsync.Eventually(t, 20*time.Second, "a and b connected 1:1", func() bool { return connected(a) && connected(b) })
	c := startGroupBot(t, ctx, url, room, "c", false, func(o *bot.Options, _ *bot.GroupOptions) { o.Transport = ct })
	ids := waitIDs(t, a, b, c)
	waitReceivesFrom(t, 30*time.Second, ids, []*groupBot{c}, []*groupBot{a, b})
	c.gb.ResetGaps()
	ct.cut()
	testsync.Eventually(t, 10*time.Second, "c resumed", func() bool {
		for _, ev := range c.eventsOf(client.GroupEventWelcome) {
			if ev.Resumed {
				return true
			}
		}
		return false
	})
	if n := len(c.eventsOf(client.GroupEventSocketLost)); n != 1 {
		t.Errorf("c lost its socket %d times, want 1", n)
	}
	if c.id() != ids[c] {
		t.Errorf("c is %q after the resume, was %q", c.id(), ids[c])
	}
	d := startGroupBot(t, ctx, url, room, "d", false)
	ids[d] = waitIDs(t, d)[d]
	waitReceivesFrom(t, 30*time.Second, ids, []*groupBot{c}, []*groupBot{a, b, d})
	for _, from := range []*groupBot{a, b} {
		r := c.gb.Remotes()[ids[from]]
		t.Logf("c from %s: longest video gap %d ms across the socket loss", from.name, r.MaxVideoGapMS)
		if r.MaxVideoGapMS > maxVideoGap.Milliseconds() {
			t.Errorf("c's video from %s stopped for %d ms across its socket loss", from.name, r.MaxVideoGapMS)
		}
	}
}

// TestGroupBotCommandOneRoom: `onertc bot --count 3 --group-size 3` puts three bots in one
// room, which becomes a group; each bot's closing line reports what it received from the
// two others, per participant: packets, frames, bytes and, from simulcast publishers, the
// layer.
func TestGroupBotCommandOneRoom(t *testing.T) {
	url := startGroupServer(t)
	tests := []struct {
		name  string
		flags []string
		// layers are the layers a bot may report receiving ("": one-layer publishers).
		layers []string
	}{
		{"one layer", nil, []string{""}},
		{"simulcast", []string{"--simulcast"}, []string{"q", "h", "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, errOut := &syncWriter{w: &strings.Builder{}}, &syncWriter{w: &strings.Builder{}}
			args := append([]string{"--server", url, "--room", "group-cmd-" + strings.ReplaceAll(tt.name, " ", "-"),
				"--count", "3", "--group-size", "3", "--loopback", "--duration", "6s", "--stats", "1s", "--view", "320x240"}, tt.flags...)
			if code := bot.Command(ctx, args, out, errOut); code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
			}
			checkGroupBotLines(t, out.String(), tt.layers)
		})
	}
}

// checkGroupBotLines checks the JSON lines of three bots in one group room: each closed
// its call well, saw the three participants, and received video and audio from the two
// others through the SFU, on one of layers.
func checkGroupBotLines(t *testing.T, out string, layers []string) {
	t.Helper()
	closed := map[int]bot.GroupRecord{}
	most := map[int]int{} // the most participants a bot's lines reported
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r bot.GroupRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if r.Event == "closed" {
			closed[r.Bot] = r
		}
		most[r.Bot] = max(most[r.Bot], r.Participants)
	}
	if len(closed) != 3 {
		t.Fatalf("%d closing lines, want 3:\n%s", len(closed), out)
	}
	for i, r := range closed {
		if r.OK == nil || !*r.OK {
			t.Errorf("bot %d: %+v", i, r.Record)
		}
		if most[i] != 3 {
			t.Errorf("bot %d saw at most %d participants, want 3", i, most[i])
		}
		// Keyed by participant id (and, for the two that started 1:1, the peer's stream id).
		from := 0
		for key, s := range r.Remotes {
			if strings.HasPrefix(key, "onertc-bot-") {
				continue
			}
			if s.VideoPackets == 0 || s.AudioPackets == 0 || s.VideoFrames == 0 || s.VideoBytes == 0 || s.AudioBytes == 0 {
				t.Errorf("bot %d from %s: %+v", i, key, s)
			}
			if !slices.Contains(layers, s.Layer) {
				t.Errorf("bot %d from %s: layer %q, want one of %q", i, key, s.Layer, layers)
			}
			from++
		}
		if from != 2 {
			t.Errorf("bot %d received from %d participants through the SFU, want 2: %+v", i, from, r.Remotes)
		}
	}
}

// syncWriter serialises writes of several bots to one builder.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// TestGroupSimulcastBots: bots publishing three simulcast layers are received by each other,
// and each subscriber is told which layer it gets.
func TestGroupSimulcastBots(t *testing.T) {
	url := startGroupServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const room = "group-simulcast"
	sim := func(_ *bot.Options, g *bot.GroupOptions) { g.Simulcast = true }
	a := startGroupBot(t, ctx, url, room, "a", false, sim)
	testsync.Eventually(t, 10*time.Second, "a joined", func() bool { return a.gb.GroupCall().Call().ClientID() != "" })
	b := startGroupBot(t, ctx, url, room, "b", false, sim)
	testsync.Eventually(t, 20*time.Second, "a and b connected 1:1", func() bool { return connected(a) && connected(b) })
	c := startGroupBot(t, ctx, url, room, "c", false, sim)
	all := []*groupBot{a, b, c}
	ids := waitIDs(t, all...)
	waitReceivesFrom(t, 30*time.Second, ids, all, all)
	for _, r := range all {
		for _, s := range all {
			if r == s {
				continue
			}
			testsync.Eventually(t, 10*time.Second, r.name+" told the layer of "+s.name, func() bool {
				return r.gb.Remotes()[ids[s]].Layer != ""
			})
			t.Logf("%s receives %s's layer %q", r.name, s.name, r.gb.Remotes()[ids[s]].Layer)
		}
	}
}
