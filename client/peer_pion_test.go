//go:build !js

package client

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// loopbackAPI is a pion API whose candidates include loopback (tests on one machine).
func loopbackAPI() *webrtc.API {
	se := webrtc.SettingEngine{}
	se.LoggerFactory = PionLoggerFactory(nil)
	se.SetIncludeLoopbackCandidate(true)
	se.SetICETimeouts(2*time.Second, 4*time.Second, 500*time.Millisecond)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// TestPionCallOverFakeServer runs two real pion peers through the call state machine and
// the in-memory server: they connect on direct ICE and a negotiated data channel carries
// data both ways; after a bye the survivor's re-offer reaches a newcomer.
func TestPionCallOverFakeServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := newFakeServer()
	var got [3]atomic.Int64
	var candLines atomic.Value
	factory := func(i int) PeerFactory {
		return PionFactory(loopbackAPI(), func(p *PionPeer) error {
			neg, id := true, uint16(0)
			dc, err := p.PC().CreateDataChannel("data", &webrtc.DataChannelInit{Negotiated: &neg, ID: &id})
			if err != nil {
				return err
			}
			dc.OnOpen(func() { _ = dc.SendText("hello") })
			dc.OnMessage(func(webrtc.DataChannelMessage) { got[i].Add(1) })
			return nil
		})
	}
	start := func(i int, name string) (*testCall, *pionEvents) {
		ev := &pionEvents{}
		tc := &testCall{peers: &peerLog{name: name}, errc: make(chan error, 1)}
		c, err := New(Config{Room: "pion", Transport: srv, NewPeer: factory(i), Logger: testLogger(t).With("who", name),
			OnEvent: func(e Event) {
				tc.record(e)
				ev.record(e)
			}})
		if err != nil {
			t.Fatal(err)
		}
		tc.call = c
		go func() { tc.errc <- c.Run(ctx) }()
		testsync.Eventually(t, 5*time.Second, name+" joined", func() bool { return tc.count(EventJoined, "") == 1 })
		return tc, ev
	}
	a, aev := start(0, "a")
	b, bev := start(1, "b")
	testsync.Eventually(t, 15*time.Second, "pion peers connected", func() bool { return aev.connected() && bev.connected() })
	testsync.Eventually(t, 10*time.Second, "data both ways", func() bool { return got[0].Load() > 0 && got[1].Load() > 0 })
	// A direct pair: no relay on either side. The remote end is "prflx" rather than "host"
	// when the peer's connectivity check arrives before its candidate does (a race that
	// trickle ICE allows); it is the same host address.
	direct := func(typ string) bool { return typ == "host" || typ == "prflx" }
	for name, ev := range map[string]*pionEvents{"a": aev, "b": bev} {
		l, r, ok := ev.peer().SelectedPair()
		if !ok || l != "host" || !direct(r) {
			t.Errorf("%s: selected pair %q/%q ok=%v, want host/host or host/prflx", name, l, r, ok)
		}
	}
	srv.mu.Lock()
	for _, m := range srv.posted {
		if strings.Contains(m, `"candidate"`) && !strings.Contains(m, `"id":"0"`) {
			candLines.Store(m)
		}
	}
	srv.mu.Unlock()
	if v := candLines.Load(); v != nil {
		t.Errorf("candidate sent without its mid: %s", v)
	}

	a.call.Hangup()
	if err := a.wait(t); err != nil {
		t.Fatalf("a: %v", err)
	}
	testsync.Eventually(t, 5*time.Second, "b re-offers after bye", func() bool { return b.count(EventBye, "") == 1 && b.count(EventSent, "offer") == 1 })
	_, cev := start(2, "c")
	testsync.Eventually(t, 15*time.Second, "b and newcomer connected", func() bool { return bev.connected() && cev.connected() })
	testsync.Eventually(t, 10*time.Second, "data to the newcomer", func() bool { return got[2].Load() > 0 })
}

// pionEvents tracks the latest pion peer of a call and whether it is connected.
type pionEvents struct {
	p    atomic.Pointer[PionPeer]
	conn atomic.Bool
}

func (e *pionEvents) record(ev Event) {
	switch ev.Kind {
	case EventPeer:
		e.p.Store(ev.Peer.(*PionPeer))
		e.conn.Store(false)
	case EventState:
		e.conn.Store(ev.State == PeerStateConnected)
	}
}

func (e *pionEvents) peer() *PionPeer { return e.p.Load() }
func (e *pionEvents) connected() bool { return e.conn.Load() }
