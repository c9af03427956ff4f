package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// flow is what a probed peer's other side sends: every probe sees more bytes (steady), none
// (stopped), or more bytes only every sparseEvery (chat now and then); "sparse-stall" is
// sparse with the prober stalled once shortly before each growth, as a CPU-starved process
// is (the stall must not make a sparse flow look steady); "straggler" is stopped but for one
// growth stragglerAfter the stop (a busy tab's last packets, counted late).
type flow struct {
	mu      sync.Mutex
	mode    string // "steady", "stopped", "sparse", "sparse-stall", "straggler"
	n       uint64
	last    time.Time
	setAt   time.Time // when mode was set
	stalled bool      // this sparse period's stall happened
}

const (
	sparseEvery    = 300 * time.Millisecond
	stragglerAfter = 80 * time.Millisecond // past 3/4 of the tests' 100 ms timeout, within it
)

func (f *flow) set(mode string) { f.mu.Lock(); f.mode, f.setAt = mode, time.Now(); f.mu.Unlock() }

func (f *flow) received() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	since := time.Since(f.last)
	switch {
	case f.mode == "straggler" && time.Since(f.setAt) >= stragglerAfter && f.last.Before(f.setAt):
		f.n += 1200
		f.last = time.Now()
	case f.mode == "steady", (f.mode == "sparse" || f.mode == "sparse-stall") && since >= sparseEvery:
		f.n += 1200
		f.last = time.Now()
		f.stalled = false
	case f.mode == "sparse-stall" && !f.stalled && since >= sparseEvery-2*stallFor:
		f.stalled = true
		time.Sleep(stallFor)
	}
	return f.n
}

// stallFor is longer than half the test's silence timeout: the watch takes it for a stall of
// its own goroutine.
const stallFor = 60 * time.Millisecond

// probedPeer is a fakePeer that is a PathProbe; probedSettablePeer also takes fresh ICE
// servers, as a browser's does.
type probedPeer struct {
	*fakePeer
	f *flow
}

func (p probedPeer) ReceivedBytes(context.Context) (uint64, error) { return p.f.received(), nil }

type probedSettablePeer struct {
	settablePeer
	f *flow
}

func (p probedSettablePeer) ReceivedBytes(context.Context) (uint64, error) {
	return p.f.received(), nil
}

// probed makes a call's peers PathProbes of f, settable ones when settable is set.
func probed(f *flow, settable bool, timeout time.Duration) func(*Config) {
	return func(c *Config) {
		c.SilenceTimeout, c.RecoverAfter = timeout, time.Hour
		inner := c.NewPeer
		c.NewPeer = func(ctx context.Context, cfg PeerConfig) (Peer, error) {
			p, err := inner(ctx, cfg)
			if err != nil {
				return nil, err
			}
			if settable {
				return probedSettablePeer{settablePeer{p.(*fakePeer)}, f}, nil
			}
			return probedPeer{p.(*fakePeer), f}, nil
		}
	}
}

// A steady flow of packets that stops for SilenceTimeout is a dead path, whatever state the
// peer reports ("connected" here): the caller restarts ICE at once (a browser's peer) or
// starts over on a fresh peer (pion's); when packets arrive again the call says so. A few
// packets after the stop (a straggler) only delay that. A flow that was never steady, or a
// disabled watch, restarts nothing.
func TestSilentPathIsHandledAsFailed(t *testing.T) {
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name     string
		settable bool
		timeout  time.Duration
		before   string // the flow before it stops
		stop     string // how it stops
		silent   bool   // a's call reports the silence
		restarts int    // ICE restarts by a's first peer
		aPeers   int    // peers a made
	}{
		{"browser restarts ICE", true, timeout, "steady", "stopped", true, 1, 1},
		{"pion peer starts over", false, timeout, "steady", "stopped", true, 0, 2},
		{"straggler after the stop", true, timeout, "steady", "straggler", true, 1, 1},
		{"sparse flow not watched", true, timeout, "sparse", "stopped", false, 0, 1},
		{"sparse flow with stalls not watched", true, timeout, "sparse-stall", "stopped", false, 0, 1},
		{"watch disabled", true, -1, "steady", "stopped", false, 0, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := newFakeServer()
			room := fmt.Sprintf("room-silent-%d", i)
			fa, fb := &flow{mode: tt.before}, &flow{mode: tt.before}
			a := startCall(t, ctx, srv, room, "a", probed(fa, tt.settable, tt.timeout))
			b := startCall(t, ctx, srv, room, "b", probed(fb, tt.settable, tt.timeout))
			testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
			time.Sleep(3 * timeout) // long enough for a flow to count as steady
			first := a.peers.last()
			fa.set(tt.stop)
			if !tt.silent {
				// Ten times the timeout: a watch that fired would have restarted by now.
				time.Sleep(10 * timeout)
				if n := a.count(EventSilent, ""); n != 0 {
					t.Fatalf("%d silence events, want none", n)
				}
				if _, _, offers, _ := first.snapshot(); offers != 1 || a.peers.count() != 1 {
					t.Fatalf("offers %d, peers %d after the stop: want 1 and 1", offers, a.peers.count())
				}
				return
			}
			testsync.Eventually(t, 2*time.Second, "the caller's new offer answered", func() bool {
				return a.count(EventSilent, "") == 1 && b.count(EventSent, protocol.TypeAnswer) == 2
			})
			if _, _, _, restarts := first.snapshot(); restarts != tt.restarts || a.peers.count() != tt.aPeers {
				t.Fatalf("restarts %d, peers %d: want %d and %d", restarts, a.peers.count(), tt.restarts, tt.aPeers)
			}
			if tt.aPeers == 1 {
				fa.set("steady")
				testsync.Eventually(t, 2*time.Second, "packets reported flowing again", func() bool { return a.count(EventFlowing, "") == 1 })
			}
		})
	}
}

// The callee's path goes silent too when a relay dies, but only the caller offers: the
// callee waits for its offer (RecoverAfter) instead of offering across it.
func TestSilentCalleeWaitsForTheOffer(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	fa, fb := &flow{mode: "steady"}, &flow{mode: "steady"}
	a := startCall(t, ctx, srv, "room-silent-callee", "a", probed(fa, true, timeout))
	b := startCall(t, ctx, srv, "room-silent-callee", "b", probed(fb, true, timeout))
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
	time.Sleep(3 * timeout)
	fb.set("stopped")
	testsync.Eventually(t, 2*time.Second, "the callee reports the silence", func() bool { return b.count(EventSilent, "") == 1 })
	time.Sleep(5 * timeout)
	if n := b.count(EventSent, protocol.TypeOffer); n != 0 {
		t.Fatalf("the callee offered %d times, want none", n)
	}
	if _, _, offers, _ := a.peers.last().snapshot(); offers != 1 {
		t.Fatalf("the caller offered %d times while its own path flowed, want 1", offers)
	}
}

// aheadServer is a fakeServer whose ICE server lists are numbered, each noted with whether
// the call it serves had reported a silence when it was fetched.
type aheadServer struct {
	*fakeServer
	mu       sync.Mutex
	n        int
	call     *testCall
	afterSil map[string]bool // by URL
}

func (s *aheadServer) ICEServers(context.Context, string) ([]protocol.ICEServer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	url := fmt.Sprintf("turn:fake:%d", s.n)
	s.afterSil[url] = s.call != nil && s.call.count(EventSilent, "") > 0
	return []protocol.ICEServer{{URLs: []string{url}, Username: "u", Credential: "p"}}, nil
}

// The restart after a silence does not wait for its ICE servers (through a load balancer
// that still sends requests to the dead instance, that took up to 450 ms): they are fetched
// once the steady flow has paused for half of SilenceTimeout, and the restart uses them.
func TestRestartUsesServersFetchedAhead(t *testing.T) {
	// Long enough that the fetch made at half of it is back before the silence, on a
	// loaded machine under -race.
	const timeout = 400 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	ahead := &aheadServer{fakeServer: srv, afterSil: map[string]bool{}}
	fa, fb := &flow{mode: "steady"}, &flow{mode: "steady"}
	a := startCall(t, ctx, ahead, "room-ahead", "a", probed(fa, true, timeout))
	ahead.mu.Lock()
	ahead.call = a
	ahead.mu.Unlock()
	b := startCall(t, ctx, srv, "room-ahead", "b", probed(fb, true, timeout))
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
	time.Sleep(timeout) // long enough for the flow to count as steady
	first := a.peers.last()
	fa.set("stopped")
	testsync.Eventually(t, 5*time.Second, "the caller's restart answered", func() bool {
		return a.count(EventSilent, "") == 1 && b.count(EventSent, protocol.TypeAnswer) == 2
	})
	if _, _, _, restarts := first.snapshot(); restarts != 1 || a.peers.count() != 1 {
		t.Fatalf("restarts %d, peers %d: want an ICE restart of the first peer", restarts, a.peers.count())
	}
	first.mu.Lock()
	set := first.lastSet
	first.mu.Unlock()
	ahead.mu.Lock()
	defer ahead.mu.Unlock()
	if len(set) != 1 || len(set[0].URLs) != 1 {
		t.Fatalf("the restart's ICE servers %+v, want one fetched list", set)
	}
	if after, ok := ahead.afterSil[set[0].URLs[0]]; !ok || after {
		t.Fatalf("the restart's ICE servers %v were fetched after the silence was reported (fetches: %v)", set[0].URLs, ahead.afterSil)
	}
}

// Once its offer is answered, the initiator signals on its relay socket, not /message: an ICE
// restart's offer and candidates are not a load-balanced request each. Before the answer
// it posts, as AppRTC's initiator does (its first offer may wait in the mailbox).
func TestRestartSignalsOnTheSocket(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := newFakeServer()
	tweak := func(c *Config) { settable(c); c.RecoverAfter = time.Hour }
	a := startCall(t, ctx, srv, "room-restart-socket", "a", tweak)
	b := startCall(t, ctx, srv, "room-restart-socket", "b", tweak)
	testsync.Eventually(t, 2*time.Second, "connected", func() bool { return connected(a)() && connected(b)() })
	if !slices.Contains(srv.postedTypes(), protocol.TypeOffer) {
		t.Fatalf("the first offer was not posted: %v", srv.postedTypes())
	}
	before := len(srv.postedTypes())
	a.call.RestartICE()
	testsync.Eventually(t, 2*time.Second, "the restart answered", func() bool { return b.count(EventSent, protocol.TypeAnswer) == 2 })
	if _, _, _, restarts := a.peers.last().snapshot(); restarts != 1 {
		t.Fatalf("restarts %d, want 1", restarts)
	}
	if after := srv.postedTypes(); len(after) != before {
		t.Fatalf("posted after the answer: %v (was %d bodies)", after[before:], before)
	}
}
