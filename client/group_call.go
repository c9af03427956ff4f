package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// GroupCall is a call that can become a group call: it joins with group=1; a join answered
// with room_mode "group" starts the group session at once, and a 1:1 call whose room
// becomes a group (the "group" payload) starts the group session beside its peer-to-peer
// connection, and leaves the 1:1 call once the group's media arrives (the down connection
// connected and a first forwarded track announced), so the switch costs no more than that
// wait's overlap.
type GroupCall struct {
	cfg  GroupCallConfig
	call *Call

	urls  chan groupStart
	media chan struct{} // MediaArrived

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
	// WaitMedia: the 1:1 call ends when the caller reports, by MediaArrived, that the
	// group's media plays (its first decoded frame, its first packet), or MediaWait after
	// the down connection connected. Without it, it ends once the down connection is
	// connected and a track is announced, which is early when the SFU waits for a key frame.
	WaitMedia bool
	// MediaWait bounds the wait for MediaArrived (default 3 s).
	MediaWait time.Duration
	// Linger keeps the 1:1 call this long after the group's media arrived (default 1 s;
	// negative: none): the other side's group media may arrive later than ours (the SFU
	// waits for a key frame of each publisher), and it still gets ours over the 1:1 call
	// meanwhile.
	Linger time.Duration
}

type groupStart struct {
	url    string
	params *Event
}

// NewGroupCall checks cfg.
func NewGroupCall(cfg GroupCallConfig) (*GroupCall, error) {
	if cfg.Group.Dialer == nil {
		d, ok := cfg.Call.Transport.(GroupDialer)
		if !ok {
			return nil, fmt.Errorf("%w: the transport cannot open group sockets", ErrBadConfig)
		}
		cfg.Group.Dialer = d
	}
	if cfg.Group.NewDown == nil {
		return nil, fmt.Errorf("%w: Group.NewDown is required", ErrBadConfig)
	}
	if cfg.Call.JoinQuery == "" {
		cfg.Call.JoinQuery = "group=1"
	} else {
		cfg.Call.JoinQuery += "&group=1"
	}
	if cfg.MediaWait <= 0 {
		cfg.MediaWait = 3 * time.Second
	}
	if cfg.Linger == 0 {
		cfg.Linger = time.Second
	}
	g := &GroupCall{cfg: cfg, urls: make(chan groupStart, 1), media: make(chan struct{})}
	var joined *Event
	var jmu sync.Mutex
	user := cfg.Call.OnEvent
	cfg.Call.OnEvent = func(ev Event) {
		switch ev.Kind {
		case EventJoined:
			jmu.Lock()
			e := ev
			joined = &e
			jmu.Unlock()
		case EventGroup:
			jmu.Lock()
			j := joined
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
func (g *GroupCall) MediaArrived() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.media:
	default:
		close(g.media)
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
			once.Do(func() {
				if !g.cfg.WaitMedia {
					g.call.log.Info("group media announced; leaving the 1:1 call")
					g.call.Hangup()
					return
				}
				go func() {
					t := time.NewTimer(g.cfg.MediaWait)
					defer t.Stop()
					select {
					case <-g.media:
						g.call.log.Info("group media arrived; leaving the 1:1 call", "linger", g.cfg.Linger)
						if g.cfg.Linger > 0 {
							select {
							case <-time.After(g.cfg.Linger):
							case <-ctx.Done():
							}
						}
					case <-t.C:
						g.call.log.Warn("no group media reported; leaving the 1:1 call anyway", "after", g.cfg.MediaWait)
					case <-ctx.Done():
					}
					g.call.Hangup()
				}()
			})
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
