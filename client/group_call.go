package client

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/onertc/onertc/internal/wrap"
)

// GroupCall is a call that can become a group call: it joins with group=1; a join answered
// with room_mode "group" starts the group session at once, and a 1:1 call whose room
// becomes a group (the "group" payload) starts the group session beside its peer-to-peer
// connection, and leaves the 1:1 call once the group's media plays on both of its sides
// (see WaitMedia), so the switch costs no gap in either's video.
type GroupCall struct {
	cfg  GroupCallConfig
	call *Call

	urls      chan groupStart
	media     chan struct{} // MediaArrived
	peerReady chan struct{} // the other side of the 1:1 call said group-ready, or left

	mu      sync.Mutex
	session *GroupSession
	left    bool
}

// GroupCallConfig configures a GroupCall.
type GroupCallConfig struct {
	// Call is the 1:1 call's configuration; "group=1" is added to its JoinQuery.
	Call Config
	// Group configures the group session; URL, Dialer (default: Call.Transport when it is
	// a GroupDialer) and Peer (the join's ICE servers) are filled in.
	Group GroupConfig
	// WaitMedia: this side is ready to leave the 1:1 call when the caller reports, by
	// MediaArrived, that the group's media plays (the first frame of every other
	// participant's video), or MediaWait after the down connection connected. Without it,
	// once the down connection is connected and a track is announced, which is early when
	// the SFU waits for a key frame.
	//
	// The 1:1 call ends when both of its sides are ready: each tells the other (a
	// group-ready payload, docs/protocol.md section 10), so neither stops sending its video
	// over the 1:1 call before the other receives it through the SFU.
	WaitMedia bool
	// MediaWait bounds the wait for MediaArrived, and then for the other side's group-ready
	// (default DefaultMediaWait).
	MediaWait time.Duration
	// Linger keeps the 1:1 call this long once both sides are ready (default 250 ms;
	// negative: none), for frames already in flight on it.
	Linger time.Duration
}

// DefaultMediaWait is GroupCallConfig.MediaWait's default. It is a safety net, not a
// delay: the 1:1 call ends as soon as the group's media plays on both sides. A side that
// gives up waiting stops the other's picture before the group's replaces it, so the wait
// must outlast the slower side's start on the SFU: on a loaded machine (three Chromium
// tabs, TestGroupCallThreeTabs) one side's media played 3.1 s after the other's, past the
// 3 s this wait used to be.
const DefaultMediaWait = 10 * time.Second

type groupStart struct {
	url    string
	params *Event
}

// NewGroupCall checks cfg.
func NewGroupCall(cfg GroupCallConfig) (*GroupCall, error) {
	if cfg.Group.Dialer == nil {
		d, ok := cfg.Call.Transport.(GroupDialer)
		if !ok {
			return nil, wrap.Error(ErrBadConfig, ": the transport cannot open group sockets")
		}
		cfg.Group.Dialer = d
	}
	if cfg.Group.NewDown == nil {
		return nil, wrap.Error(ErrBadConfig, ": Group.NewDown is required")
	}
	if cfg.Call.JoinQuery == "" {
		cfg.Call.JoinQuery = "group=1"
	} else {
		cfg.Call.JoinQuery += "&group=1"
	}
	if cfg.MediaWait <= 0 {
		cfg.MediaWait = DefaultMediaWait
	}
	if cfg.Linger == 0 {
		cfg.Linger = 250 * time.Millisecond
	}
	g := &GroupCall{cfg: cfg, urls: make(chan groupStart, 1), media: make(chan struct{}), peerReady: make(chan struct{})}
	var joined *Event
	var moving bool
	var jmu sync.Mutex
	user := cfg.Call.OnEvent
	cfg.Call.OnEvent = func(ev Event) {
		switch ev.Kind {
		case EventJoined:
			jmu.Lock()
			e := ev
			joined = &e
			jmu.Unlock()
		case EventGroupReady:
			closeOnce(&g.mu, g.peerReady)
		case EventBye:
			// The other side left the 1:1 call after the move: nothing to wait for.
			jmu.Lock()
			m := moving
			jmu.Unlock()
			if m {
				closeOnce(&g.mu, g.peerReady)
			}
		case EventGroup:
			jmu.Lock()
			j := joined
			moving = true
			jmu.Unlock()
			select {
			case g.urls <- groupStart{url: ev.GroupURL, params: j}:
			default: // a group session starts once
			}
		}
		if user != nil {
			user(ev)
		}
	}
	call, err := New(cfg.Call)
	if err != nil {
		return nil, err
	}
	g.call = call
	return g, nil
}

// Call is the 1:1 call (its ClientID, RestartICE).
func (g *GroupCall) Call() *Call { return g.call }

// Session is the group session once the room is a group (nil before).
func (g *GroupCall) Session() *GroupSession {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.session
}

// MediaArrived tells a GroupCall with WaitMedia that the group's media plays: the 1:1
// call can end. It may be called any number of times, from any goroutine.
func (g *GroupCall) MediaArrived() { closeOnce(&g.mu, g.media) }

// closeOnce closes ch unless it is closed already; mu guards it.
func closeOnce(mu *sync.Mutex, ch chan struct{}) {
	mu.Lock()
	defer mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// Hangup leaves the call, 1:1 or group.
func (g *GroupCall) Hangup() {
	g.mu.Lock()
	g.left = true
	s := g.session
	g.mu.Unlock()
	if s != nil {
		s.Leave()
	}
	g.call.Hangup()
}

// Run runs the call until ctx ends, Hangup, or it fails; it returns the group session's
// error once there is one, the 1:1 call's otherwise.
func (g *GroupCall) Run(ctx context.Context) error {
	callErr := make(chan error, 1)
	go func() { callErr <- g.call.Run(ctx) }()
	var sessErr chan error
	callDone := false
	for {
		select {
		case err := <-callErr:
			callDone = true
			if sessErr == nil {
				return err
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				g.call.log.Warn("the 1:1 call ended with an error after the move", "err", err)
			}
		case st := <-g.urls:
			s, err := g.start(ctx, st)
			if err != nil {
				g.call.Hangup()
				if !callDone {
					<-callErr
				}
				return err
			}
			sessErr = make(chan error, 1)
			go func() { sessErr <- s.Run(ctx) }()
		case err := <-sessErr:
			g.call.Hangup()
			if !callDone {
				<-callErr
			}
			return err
		}
	}
}

// start makes the group session, with the ICE servers of the join.
func (g *GroupCall) start(ctx context.Context, st groupStart) (*GroupSession, error) {
	cfg := g.cfg.Group
	cfg.URL = st.url
	relayOnly := g.cfg.Call.RelayOnly
	var servers = cfg.Peer.ICEServers
	if st.params != nil && st.params.Params != nil {
		p := st.params.Params
		relayOnly = relayOnly || pcConfigRelayOnly(p.PCConfig)
		servers = append(servers, pcConfigServers(p.PCConfig)...)
		if p.ICEServerURL != "" {
			fetched, err := g.cfg.Call.Transport.ICEServers(ctx, p.ICEServerURL)
			if err != nil {
				g.call.log.Warn("fetching ICE servers for the group failed", "err", err)
			}
			for _, s := range fetched {
				if len(s.URLs) > 0 {
					servers = append(servers, s)
				}
			}
		}
	}
	cfg.Peer = PeerConfig{ICEServers: servers, RelayOnly: relayOnly || cfg.Peer.RelayOnly}
	// The 1:1 call ends once the group's media is there.
	var downUp, track bool
	var once sync.Once
	user := cfg.OnEvent
	cfg.OnEvent = func(ev GroupEvent) {
		switch {
		case ev.Kind == GroupEventState && ev.PC == "down" && ev.State == PeerStateConnected:
			downUp = true
		case ev.Kind == GroupEventTrack && ev.Added:
			track = true
		}
		if downUp && track {
			once.Do(func() { go g.leaveOneToOne(ctx) })
		}
		if user != nil {
			user(ev)
		}
	}
	s, err := NewGroupSession(cfg)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.left {
		return nil, errors.New("hung up before the group session started")
	}
	g.session = s
	return s, nil
}

// leaveOneToOne ends the 1:1 call once the move is safe for both of its sides: the group's
// media plays here and the other side has said the same (or left). A side that never says
// it (a lost message, a camera that is off) holds the call at most MediaWait longer.
func (g *GroupCall) leaveOneToOne(ctx context.Context) {
	defer g.call.Hangup()
	wait := func(ch <-chan struct{}) bool {
		t := time.NewTimer(g.cfg.MediaWait)
		defer t.Stop()
		select {
		case <-ch:
			return true
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	if g.cfg.WaitMedia && !wait(g.media) {
		g.call.log.Warn("no group media reported; ready to leave the 1:1 call anyway", "after", g.cfg.MediaWait)
	}
	if ctx.Err() != nil {
		return
	}
	g.call.groupReady()
	if !wait(g.peerReady) {
		g.call.log.Warn("the other side did not say the group's media plays there; leaving the 1:1 call anyway", "after", g.cfg.MediaWait)
	} else {
		g.call.log.Info("the group's media plays on both sides; leaving the 1:1 call", "linger", g.cfg.Linger)
	}
	if g.cfg.Linger > 0 {
		select {
		case <-time.After(g.cfg.Linger):
		case <-ctx.Done():
		}
	}
}
