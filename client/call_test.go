package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// testCall is one running Call against the fake server.
type testCall struct {
	call  *Call
	peers *peerLog
	errc  chan error

	mu     sync.Mutex
	events []Event
}

func (tc *testCall) record(ev Event) {
	tc.mu.Lock()
	tc.events = append(tc.events, ev)
	tc.mu.Unlock()
}

func (tc *testCall) count(kind EventKind, signal string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	n := 0
	for _, ev := range tc.events {
		if ev.Kind == kind && (signal == "" || ev.Signal == signal) {
			n++
		}
	}
	return n
}

func (tc *testCall) initiator() bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, ev := range tc.events {
		if ev.Kind == EventJoined {
			return ev.Initiator
		}
	}
	return false
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func startCall(t *testing.T, ctx context.Context, tr Transport, room, name string, tweak func(*Config)) *testCall {
	t.Helper()
	tc := &testCall{peers: &peerLog{name: name}, errc: make(chan error, 1)}
	cfg := Config{Room: room, Transport: tr, NewPeer: tc.peers.newPeer, OnEvent: tc.record,
		Logger: testLogger(t).With("who", name), ReconnectWindow: 2 * time.Second, RecoverAfter: 200 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tc.call = c
	go func() { tc.errc <- c.Run(ctx) }()
	// Join in the order the test starts the calls (a join refused for now is tried again a
	// second later, joinTries in all).
	testsync.Eventually(t, joinTries*time.Second+time.Second, name+" joined or ended", func() bool {
		return tc.count(EventJoined, "") > 0 || tc.count(EventClosed, "") > 0
	})
	return tc
}

func (tc *testCall) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-tc.errc:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call did not end")
		return nil
	}
}

func connected(tc *testCall) func() bool {
	return func() bool {
		p := tc.peers.last()
		if p == nil {
			return false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.connected
	}
}

func TestNewValidates(t *testing.T) {
	srv := newFakeServer()
	log := &peerLog{}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"bad room", Config{Room: "a/b", Transport: srv, NewPeer: log.newPeer}},
		{"empty room", Config{Room: "", Transport: srv, NewPeer: log.newPeer}},
		{"no transport", Config{Room: "r", NewPeer: log.newPeer}},
		{"no peer factory", Config{Room: "r", Transport: srv}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, ErrBadConfig) {
				t.Fatalf("New = %v, want ErrBadConfig", err)
			}
		})
	}
}

func TestCallOfferAnswerAndCandidates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room1", "a", nil)
	// A is alone: its offer and candidates go to the mailbox by POST /message.
	testsync.Eventually(t, 2*time.Second, "offer and 2 candidates in A's mailbox", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.mailbox[a.call.ClientID()]) == 3
	})
	if !a.initiator() {
		t.Fatal("first client is not the initiator")
	}
	b := startCall(t, ctx, srv, "room1", "b", nil)
	testsync.Eventually(t, 2*time.Second, "both connected", func() bool { return connected(a)() && connected(b)() })
	if b.initiator() {
		t.Fatal("second client is the initiator")
	}
	remotesB, candsB, _, _ := b.peers.last().snapshot()
	if len(remotesB) != 1 || remotesB[0].Type != protocol.TypeOffer {
		t.Fatalf("callee remote descriptions = %+v, want one offer", remotesB)
	}
	testsync.Eventually(t, 2*time.Second, "A has B's candidates", func() bool {
		_, c, _, _ := a.peers.last().snapshot()
		return len(c) == 2
	})
	_, candsA, _, _ := a.peers.last().snapshot()
	for name, cands := range map[string][]Candidate{"a": candsA, "b": candsB} {
		if len(cands) != 2 {
			t.Fatalf("%s got %d candidates, want 2", name, len(cands))
		}
		var lines []string
		for _, c := range cands {
			if c.SDPMid == nil || *c.SDPMid != "0" || c.SDPMLineIndex == nil || *c.SDPMLineIndex != 0 {
				t.Errorf("%s: candidate lost mid/label: %+v", name, c)
			}
			lines = append(lines, c.Candidate)
		}
		if !slices.Contains(lines, "candidate:2 1 tcp 1518280447 2001:db8::1 9 typ host tcptype active generation 0") {
			t.Errorf("%s: IPv6 tcptype candidate altered: %q", name, lines)
		}
	}
	// The callee answers on the socket, the initiator keeps posting to /message.
	posted := srv.postedTypes()
	if slices.Contains(posted, protocol.TypeAnswer) {
		t.Errorf("callee's answer went by /message: %v", posted)
	}
	a.call.Hangup()
	if err := a.wait(t); err != nil {
		t.Fatalf("A Run = %v", err)
	}
	b.call.Hangup()
	if err := b.wait(t); err != nil {
		t.Fatalf("B Run = %v", err)
	}
	if got := len(srv.deleted); got != 2 {
		t.Errorf("DELETE /collider sent %d times, want 2", got)
	}
}

func TestCallByeReofferAndNewcomer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room2", "a", nil)
	b := startCall(t, ctx, srv, "room2", "b", nil)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })

	a.call.Hangup()
	if err := a.wait(t); err != nil {
		t.Fatalf("A Run = %v", err)
	}
	testsync.Eventually(t, 2*time.Second, "B sees bye and re-offers on a new peer", func() bool {
		return b.count(EventBye, "") == 1 && b.peers.count() == 2 && b.count(EventSent, protocol.TypeOffer) == 1
	})
	// The re-offer sits in B's mailbox; a newcomer gets it at join and the call comes back.
	c := startCall(t, ctx, srv, "room2", "c", nil)
	testsync.Eventually(t, 2*time.Second, "B and C connected", func() bool { return connected(b)() && connected(c)() })
	if c.initiator() {
		t.Fatal("newcomer is initiator")
	}
	remotes, _, _, _ := c.peers.last().snapshot()
	if len(remotes) != 1 || !hasType(remotes[0].SDP, "offer") {
		t.Fatalf("newcomer remote descriptions = %+v", remotes)
	}
	// A third client is refused.
	d := startCall(t, ctx, srv, "room2", "d", nil)
	if err := d.wait(t); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("third client Run = %v, want ErrRoomFull", err)
	}
}

func TestCallSurvivesBadInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room3", "a", nil)
	b := startCall(t, ctx, srv, "room3", "b", nil)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
	remotesBefore, _, _, _ := a.peers.last().snapshot()

	bad := []string{
		``,
		`not json`,
		`{"type":"offer"}`,
		`{"type":"answer","sdp":"v=0 unexpected"}`, // no offer pending
		`{"type":"candidate"}`,
		`{"type":"candidate","label":"x","candidate":"candidate:1"}`,
		`{"type":"whatever"}`,
		`[1,2,3]`,
		string(make([]byte, protocol.MaxMessageBytes+1)),
	}
	for _, m := range bad {
		srv.inject(a.call.ClientID(), m)
	}
	// A good candidate after the junk still gets through: the loop is alive.
	srv.inject(a.call.ClientID(), `{"type":"candidate","label":0,"id":"0","candidate":"candidate:9 1 udp 1 198.51.100.7 9 typ relay"}`)
	testsync.Eventually(t, 2*time.Second, "candidate after junk applied", func() bool {
		_, c, _, _ := a.peers.last().snapshot()
		return len(c) == 3
	})
	remotesAfter, _, _, _ := a.peers.last().snapshot()
	if len(remotesAfter) != len(remotesBefore) {
		t.Fatalf("unexpected answer was applied: %d → %d remote descriptions", len(remotesBefore), len(remotesAfter))
	}
	if a.peers.count() != 1 {
		t.Fatalf("bad input made a new peer (%d peers)", a.peers.count())
	}
}

func TestCandidatesBeforeOfferAreQueued(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	// An initiator that is not our Call: its mailbox holds candidates first, then the offer
	// and a later candidate; only the last offer's tail is used when there are several.
	msgs := []string{
		`{"type":"candidate","label":0,"id":"0","candidate":"candidate:0 1 udp 1 192.0.2.9 1 typ host"}`,
		`{"type":"offer","sdp":"v=0\r\na=fingerprint:sha-256 OLD\r\na=mid:0\r\n"}`,
		`{"type":"candidate","label":0,"id":"0","candidate":"candidate:old 1 udp 1 192.0.2.9 2 typ host"}`,
		`{"type":"candidate","label":0,"id":"0","candidate":"candidate:1 1 udp 1 192.0.2.9 3 typ host"}`,
		`{"type":"offer","sdp":"v=0\r\na=fingerprint:sha-256 NEW\r\na=mid:0\r\n"}`,
		`{"type":"candidate","label":0,"id":"0","candidate":"candidate:2 1 udp 1 192.0.2.9 4 typ host"}`,
	}
	tests := []struct {
		name      string
		msgs      []string
		wantCands []string
		wantFP    string
	}{
		{"candidate before offer", msgs[:2], []string{"candidate:0 1 udp 1 192.0.2.9 1 typ host"}, "OLD"},
		{"later offer supersedes", msgs, []string{"candidate:2 1 udp 1 192.0.2.9 4 typ host"}, "NEW"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			room := fmt.Sprintf("room4-%d", i)
			r, _ := srv.Join(ctx, room, "")
			first := r.Params.ClientID
			for _, m := range tt.msgs {
				if err := srv.Message(ctx, room, first, m); err != nil {
					t.Fatal(err)
				}
			}
			b := startCall(t, ctx, srv, room, "b", nil)
			testsync.Eventually(t, 2*time.Second, "answer", func() bool { return b.count(EventSent, protocol.TypeAnswer) == 1 })
			remotes, cands, _, _ := b.peers.last().snapshot()
			if len(remotes) != 1 || sdpFingerprint(remotes[0].SDP) != "sha-256 "+tt.wantFP {
				t.Fatalf("remote descriptions = %+v", remotes)
			}
			var got []string
			for _, c := range cands {
				got = append(got, c.Candidate)
			}
			if !slices.Equal(got, tt.wantCands) {
				t.Fatalf("candidates = %q, want %q", got, tt.wantCands)
			}
		})
	}
}

func TestCallReconnectsRelayWithoutLoss(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room5", "a", nil)
	b := startCall(t, ctx, srv, "room5", "b", nil)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })

	// Cut B's socket and keep it down; meanwhile a candidate and A's ICE-restart offer
	// wait in the relay queue until B re-registers.
	srv.mu.Lock()
	srv.noDial = true
	bid := b.call.ClientID()
	conn := srv.conns[bid]
	delete(srv.conns, bid)
	srv.queue[bid] = append(srv.queue[bid], `{"type":"candidate","label":0,"id":"0","candidate":"candidate:q 1 udp 1 192.0.2.3 7 typ host"}`)
	srv.mu.Unlock()
	conn.Close()
	testsync.Eventually(t, 2*time.Second, "B notices the loss", func() bool { return b.count(EventRelayLost, "") == 1 })
	a.call.RestartICE()
	testsync.Eventually(t, 2*time.Second, "A sent the restart offer", func() bool { return a.count(EventSent, protocol.TypeOffer) == 2 })
	time.Sleep(100 * time.Millisecond) // B retries and fails at least once
	srv.mu.Lock()
	srv.noDial = false
	srv.mu.Unlock()
	testsync.Eventually(t, 3*time.Second, "B re-registered", func() bool { return b.count(EventRelayRestore, "") == 1 })
	testsync.Eventually(t, 2*time.Second, "queued candidate delivered and restart answered", func() bool {
		remotes, _, _, _ := a.peers.last().snapshot()
		_, c, _, _ := b.peers.last().snapshot()
		return len(remotes) == 2 && b.count(EventSent, protocol.TypeAnswer) == 2 &&
			slices.ContainsFunc(c, func(c Candidate) bool { return c.Candidate == "candidate:q 1 udp 1 192.0.2.3 7 typ host" })
	})
}

func TestCallGivesUpWhenRelayStaysDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room8", "a", func(c *Config) { c.ReconnectWindow = 200 * time.Millisecond })
	var conn *fakeConn
	testsync.Eventually(t, 2*time.Second, "a registered", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		conn = srv.conns[a.call.ClientID()]
		return conn != nil
	})
	srv.mu.Lock()
	srv.noDial = true
	srv.mu.Unlock()
	conn.Close()
	if err := a.wait(t); !errors.Is(err, ErrRelayLost) {
		t.Fatalf("Run = %v, want ErrRelayLost", err)
	}
}

// A peer that takes fresh ICE servers (a browser's) restarts ICE on failure, with fresh
// servers, on the same peer.
func TestCallRestartsICEOnFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room6", "a", settable)
	b := startCall(t, ctx, srv, "room6", "b", settable)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })

	a.peers.last().setState(PeerStateFailed)
	testsync.Eventually(t, 2*time.Second, "restart offer answered", func() bool {
		_, _, offers, restarts := a.peers.last().snapshot()
		return offers == 2 && restarts == 1 && b.count(EventSent, protocol.TypeAnswer) == 2
	})
	if a.peers.count() != 1 || b.peers.count() != 1 {
		t.Fatalf("ICE restart made new peers: a=%d b=%d", a.peers.count(), b.peers.count())
	}
	for name, c := range map[string]*testCall{"caller": a, "callee": b} {
		p := c.peers.last()
		p.mu.Lock()
		sets := p.serverSets
		p.mu.Unlock()
		if sets != 1 {
			t.Fatalf("%s: fresh ICE servers given %d times before the restart, want 1", name, sets)
		}
	}
	// A callee whose connection stays failed without a new offer starts over as offerer.
	b.peers.last().setState(PeerStateFailed)
	testsync.Eventually(t, 2*time.Second, "callee re-offers on a fresh peer", func() bool {
		return b.peers.count() == 2 && b.count(EventSent, protocol.TypeOffer) == 1
	})
}

// A peer that keeps the ICE servers it was made with (pion's) would restart through the
// one that failed, e.g. a dead instance's TURN server: on failure the caller starts over at
// once on a fresh peer, with servers fetched again, and the callee answers on a fresh one.
func TestCallStartsOverWhenPeerKeepsItsServers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room6b", "a", func(c *Config) { c.RecoverAfter = time.Hour })
	b := startCall(t, ctx, srv, "room6b", "b", func(c *Config) { c.RecoverAfter = time.Hour })
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
	first, bFirst := a.peers.last(), b.peers.last()

	// Both sides see the path fail (b's report may come after a's new offer made b a fresh
	// peer: it is then the old peer's, and ignored).
	first.setState(PeerStateFailed)
	bFirst.setState(PeerStateFailed)
	testsync.Eventually(t, 5*time.Second, "fresh peers connected", func() bool {
		return a.peers.count() == 2 && b.peers.count() == 2 && connected(a)() && connected(b)()
	})
	for _, p := range []*fakePeer{a.peers.last(), b.peers.last()} {
		if _, _, _, restarts := p.snapshot(); restarts != 0 {
			t.Fatalf("peer %s restarted ICE %d times, want a fresh session", p.id, restarts)
		}
	}
	testsync.Eventually(t, 2*time.Second, "the failed peer closed", func() bool {
		first.mu.Lock()
		defer first.mu.Unlock()
		return first.closed
	})
	a.peers.mu.Lock()
	fresh := a.peers.cfgs[1].ICEServers
	a.peers.mu.Unlock()
	if len(fresh) != 1 || fresh[0].URLs[0] != "turn:fake:3478" {
		t.Fatalf("the fresh peer got ICE servers %+v, want those fetched again", fresh)
	}
}

// A browser reports "failed" only ~10 s after "disconnected" when its relay died: a
// connection "disconnected" for longer than DisconnectedGrace is handled as failed at once
// (a browser's ICE restart, a pion peer's fresh start), and one that comes back in time, or a
// call that waits for "failed" (negative grace, as bots), does nothing.
func TestCallHandlesLongDisconnectAsFailed(t *testing.T) {
	const grace = 50 * time.Millisecond
	tests := []struct {
		name     string
		settable bool
		grace    time.Duration
		back     bool // connected again right after the disconnect
		restarts int  // ICE restarts by a's peer
		aPeers   int  // peers a made
	}{
		{"browser restarts ICE", true, grace, false, 1, 1},
		{"pion peer starts over", false, grace, false, 0, 2},
		{"back in time", true, grace, true, 0, 1},
		{"grace disabled", true, -1, false, 0, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := newFakeServer()
			room := fmt.Sprintf("room-disc-%d", i)
			tweak := func(c *Config) {
				c.DisconnectedGrace, c.RecoverAfter = tt.grace, time.Hour
				if tt.settable {
					settable(c)
				}
			}
			a := startCall(t, ctx, srv, room, "a", tweak)
			b := startCall(t, ctx, srv, room, "b", tweak)
			testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
			first := a.peers.last()
			first.setState(PeerStateDisconnected)
			if tt.back {
				first.setState(PeerStateConnected)
			}
			if tt.restarts == 0 && tt.aPeers == 1 {
				// Nothing may happen: watch for 10 graces.
				time.Sleep(10 * grace)
			}
			testsync.Eventually(t, 2*time.Second, "the failure handled", func() bool {
				_, _, _, restarts := first.snapshot()
				// Still disconnected only when the call waits for "failed".
				return restarts == tt.restarts && a.peers.count() == tt.aPeers && connected(a)() == (tt.grace > 0) && connected(b)()
			})
			if tt.restarts > 0 {
				testsync.Eventually(t, 2*time.Second, "the restart answered", func() bool { return b.count(EventSent, protocol.TypeAnswer) == 2 })
				if first.serverSets != 1 {
					t.Errorf("fresh ICE servers given %d times before the restart, want 1", first.serverSets)
				}
			}
		})
	}
}

func TestGlareResolvesToOneOffer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room7", "a", nil)
	b := startCall(t, ctx, srv, "room7", "b", nil)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
	// Both sides lose the connection and start over as offerers at about the same time.
	a.peers.last().setState(PeerStateFailed) // a: ICE restart first
	b.peers.last().setState(PeerStateFailed)
	a.peers.last().setState(PeerStateFailed)
	testsync.Eventually(t, 3*time.Second, "connected again", func() bool { return connected(a)() && connected(b)() })
}

func TestCandidateEncoding(t *testing.T) {
	mid, idx := "audio", 1
	tests := []struct {
		name string
		in   Candidate
		want string
	}{
		{"mid and label", Candidate{Candidate: "candidate:1 1 udp 1 ::1 5 typ host", SDPMid: &mid, SDPMLineIndex: &idx},
			`{"type":"candidate","label":1,"id":"audio","candidate":"candidate:1 1 udp 1 ::1 5 typ host"}`},
		{"no mid", Candidate{Candidate: "candidate:x"},
			`{"type":"candidate","label":0,"candidate":"candidate:x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeCandidate(tt.in)
			if got != tt.want {
				t.Fatalf("encode = %s, want %s", got, tt.want)
			}
			s, err := parseSignal(got)
			if err != nil {
				t.Fatal(err)
			}
			back := candidateFromSignal(s)
			if back.Candidate != tt.in.Candidate || (tt.in.SDPMid != nil) != (back.SDPMid != nil) {
				t.Fatalf("round trip = %+v", back)
			}
		})
	}
}

func TestPCConfig(t *testing.T) {
	tests := []struct {
		cfg      string
		relay    bool
		nServers int
	}{
		{`{"iceServers":[],"bundlePolicy":"max-bundle"}`, false, 0},
		{`{"iceServers":[{"urls":["stun:x"]},{"urls":[]}],"iceTransports":"relay"}`, true, 1},
		{`garbage`, false, 0},
	}
	for _, tt := range tests {
		if got := pcConfigRelayOnly(tt.cfg); got != tt.relay {
			t.Errorf("relayOnly(%s) = %v", tt.cfg, got)
		}
		if got := len(pcConfigServers(tt.cfg)); got != tt.nServers {
			t.Errorf("servers(%s) = %d, want %d", tt.cfg, got, tt.nServers)
		}
	}
}

// A client away longer than the server's grace period is forgotten: its re-register is
// refused, and the call joins again as a new client instead of ending.
func TestCallRejoinsWhenForgotten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	a := startCall(t, ctx, srv, "room9", "a", nil)
	b := startCall(t, ctx, srv, "room9", "b", nil)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })

	// B's socket drops and stays down past the grace period: the server removes it.
	srv.mu.Lock()
	srv.noDial = true
	oldB := b.call.ClientID()
	conn := srv.conns[oldB]
	srv.removeLocked("room9", oldB)
	delete(srv.conns, oldB)
	srv.mu.Unlock()
	conn.Close()
	testsync.Eventually(t, 2*time.Second, "B notices the loss", func() bool { return b.count(EventRelayLost, "") == 1 })
	srv.mu.Lock()
	srv.noDial = false
	srv.mu.Unlock()

	testsync.Eventually(t, 3*time.Second, "B joined again", func() bool { return b.count(EventJoined, "") == 2 })
	newB := b.call.ClientID()
	if newB == oldB || newB == "" {
		t.Fatalf("B rejoined as %q (was %q), want a new client", newB, oldB)
	}
	testsync.Eventually(t, 2*time.Second, "new B registered", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		c := srv.conns[newB]
		return c != nil && !c.isClosed() && slices.Contains(srv.rooms["room9"], newB)
	})
	select {
	case err := <-b.errc:
		t.Fatalf("B's call ended: %v", err)
	default:
	}
}

// A server that forgets the client every time ends the call after a few joins.
func TestCallGivesUpWhenAlwaysForgotten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	srv.forgetOnJoin = true
	a := startCall(t, ctx, srv, "room10", "a", nil)
	if err := a.wait(t); !errors.Is(err, ErrForgotten) || !errors.Is(err, ErrRelayRefused) {
		t.Fatalf("Run = %v, want ErrForgotten", err)
	}
	if n := a.count(EventJoined, ""); n != 1+maxRejoins {
		t.Fatalf("joined %d times, want %d", n, 1+maxRejoins)
	}
}

// A join the server refuses for now (503: it handed its port to a new process, or lost its
// database a moment) is tried again, a second apart, up to joinTries in all; other failures
// and the last refusal end the call.
func TestJoinTriedAgainWhenRefusedForNow(t *testing.T) {
	unavailable := fmt.Errorf("POST /join/r: %w", statusError(503))
	refused := errors.New("connection refused")
	tests := []struct {
		name      string
		errs      []error
		wantJoins int
		wantErr   error // nil: the call joins
	}{
		{"one refusal", []error{unavailable}, 2, nil},
		{"two refusals", []error{unavailable, unavailable}, 3, nil},
		{"refused every time", []error{unavailable, unavailable, unavailable}, 3, ErrUnavailable},
		{"other status not tried again", []error{fmt.Errorf("POST /join/r: %w", statusError(500))}, 1, ErrHTTPStatus},
		{"network error not tried again", []error{refused}, 1, refused},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := newFakeServer()
			srv.joinErrs = tt.errs
			a := startCall(t, ctx, srv, fmt.Sprintf("room-refused-%d", i), "a", nil)
			if tt.wantErr == nil {
				testsync.Eventually(t, 5*time.Second, "joined", func() bool { return a.count(EventJoined, "") == 1 })
			} else if err := a.wait(t); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tt.wantErr)
			}
			srv.mu.Lock()
			joins := srv.joins
			srv.mu.Unlock()
			if joins != tt.wantJoins {
				t.Fatalf("%d joins, want %d", joins, tt.wantJoins)
			}
		})
	}
	if !errors.Is(statusError(503), ErrHTTPStatus) || errors.Is(statusError(502), ErrUnavailable) {
		t.Fatal("statusError: 503 must be ErrHTTPStatus and ErrUnavailable, others only ErrHTTPStatus")
	}
}
