package client

import (
	"context"
	"errors"
	"time"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// welcomeTimeout bounds the wait for the welcome after a join frame.
const welcomeTimeout = 10 * time.Second

// groupLoop is the state of a running GroupSession, owned by its loop goroutine.
type groupLoop struct {
	s   *GroupSession
	cfg GroupConfig
	ctx context.Context
	log Logger

	conn    GroupConn
	connGen int
	frames  chan groupFrame
	peerEv  chan groupPeerEvent
	done    chan struct{}

	welcomed bool
	up, down *groupPeer
	peerGen  int
	tracks   map[string]GroupTrack
	viewed   map[string]bool

	// upOffering: an up offer waits for its answer; upAgain: offer again after it.
	upOffering, upAgain bool
	// answeredDown is the last down offer answered: the SFU sends an offer again when
	// its answer is late, and the late answer may still be on its way.
	answeredDown string
}

type groupFrame struct {
	gen int
	msg protocol.GroupMessage
	err error
}

type groupPeer struct {
	pc        string
	peer      Peer
	gen       int
	remoteSet bool
	pending   []Candidate
}

type groupPeerEvent struct {
	gen     int
	pc      string
	cand    *Candidate
	state   PeerState
	isState bool
}

func newGroupLoop(s *GroupSession, ctx context.Context) *groupLoop {
	return &groupLoop{s: s, cfg: s.cfg, ctx: ctx, log: s.log,
		frames: make(chan groupFrame, 64), peerEv: make(chan groupPeerEvent, 256), done: make(chan struct{}),
		tracks: map[string]GroupTrack{}, viewed: map[string]bool{}}
}

func (g *groupLoop) emit(ev GroupEvent) {
	if g.cfg.OnEvent != nil {
		g.cfg.OnEvent(ev)
	}
}

// connect dials the socket and sends the join frame.
func (g *groupLoop) connect(ctx context.Context, resume bool) error {
	u, err := groupSocketURL(g.cfg.URL, g.cfg.Name)
	if err != nil {
		return wrap.Error(ErrGroupRefused, ": ", err)
	}
	conn, err := g.cfg.Dialer.DialGroup(ctx, u)
	if err != nil {
		return wrap.Error(ErrGroupRefused, ": ", err)
	}
	if err := conn.Write(ctx, protocol.GroupMessage{Type: protocol.GroupJoin, Resume: resume}); err != nil {
		_ = conn.Close()
		return wrap.Error("group join frame: ", err)
	}
	if g.conn != nil {
		_ = g.conn.Close()
	}
	g.connGen++
	g.conn = conn
	g.welcomed = false
	go g.read(conn, g.connGen)
	return nil
}

func (g *groupLoop) read(conn GroupConn, gen int) {
	for {
		m, err := conn.Read(context.Background())
		select {
		case g.frames <- groupFrame{gen: gen, msg: m, err: err}:
		case <-g.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (g *groupLoop) write(m protocol.GroupMessage) {
	if g.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
	defer cancel()
	if err := g.conn.Write(ctx, m); err != nil {
		g.log.Warn("group frame not sent", "type", m.Type, "err", err)
	}
}

func (g *groupLoop) run() error {
	if err := g.connect(g.ctx, false); err != nil {
		return err
	}
	welcome := time.NewTimer(welcomeTimeout)
	defer welcome.Stop()
	for {
		select {
		case <-g.ctx.Done():
			g.bye()
			return nil
		case <-welcome.C:
			if !g.welcomed {
				return wrap.Error(ErrGroupRefused, ": no welcome within ", welcomeTimeout)
			}
		case c := <-g.s.control:
			if c.leave {
				g.bye()
				return nil
			}
			if c.reoffer {
				g.reofferUp()
				continue
			}
			g.write(c.msg)
		case ev := <-g.peerEv:
			g.onPeerEvent(ev)
		case f := <-g.frames:
			if f.gen != g.connGen {
				continue
			}
			if f.err != nil {
				if !g.welcomed && g.up == nil && g.down == nil {
					return wrap.Error(ErrGroupRefused, ": socket closed before the welcome: ", f.err)
				}
				if err := g.resume(f.err); err != nil {
					return err
				}
				welcome.Reset(welcomeTimeout)
				continue
			}
			if err := g.onFrame(f.msg); err != nil {
				return err
			}
		}
	}
}

func (g *groupLoop) bye() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), time.Second)
	defer cancel()
	if g.conn != nil {
		_ = g.conn.Write(ctx, protocol.GroupMessage{Type: protocol.GroupBye})
	}
}

// resume re-dials with resume:true until ResumeWindow is over: the server keeps the
// participant's place and its PeerConnections for its grace period.
func (g *groupLoop) resume(cause error) error {
	g.log.Warn("group socket lost; resuming", "err", cause)
	g.emit(GroupEvent{Kind: GroupEventSocketLost, Err: cause})
	if g.conn != nil {
		_ = g.conn.Close()
		g.conn = nil
	}
	deadline := time.Now().Add(g.cfg.ResumeWindow)
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithDeadline(g.ctx, deadline)
		err := g.connect(ctx, true)
		cancel()
		if err == nil {
			g.log.Info("group socket resumed", "attempt", attempt)
			return nil
		}
		if g.ctx.Err() != nil {
			return nil
		}
		if time.Now().Add(backoff).After(deadline) {
			return wrap.Error(ErrGroupLost, ": ", attempt, " attempts in ", g.cfg.ResumeWindow, ": ", err)
		}
		select {
		case <-time.After(backoff):
		case <-g.ctx.Done():
			return nil
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (g *groupLoop) onFrame(m protocol.GroupMessage) error {
	switch m.Type {
	case protocol.GroupWelcome:
		g.welcomed = true
		g.s.mu.Lock()
		g.s.self = m.ID
		g.s.mu.Unlock()
		g.log.Info("welcome", "id", m.ID, "participants", len(m.Participants), "resume", m.Resume)
		g.emit(GroupEvent{Kind: GroupEventWelcome, Self: m.ID, Participants: m.Participants, Resumed: m.Resume})
		if !m.Resume && (g.up != nil || g.down != nil) {
			g.startAfresh()
		}
		g.views(m.Participants)
		if !m.Resume {
			return g.publish()
		}
	case protocol.GroupParticipants:
		g.emit(GroupEvent{Kind: GroupEventParticipants, Self: g.s.ID(), Participants: m.Participants})
		g.views(m.Participants)
	case protocol.GroupOffer:
		if m.PC != protocol.PCDown {
			g.log.Warn("offer not on down ignored", "pc", m.PC)
			return nil
		}
		return g.onDownOffer(m.SDP)
	case protocol.GroupAnswer:
		g.onUpAnswer(m)
	case protocol.GroupCandidate:
		g.onCandidate(m)
	case protocol.GroupSpeaker:
		g.emit(GroupEvent{Kind: GroupEventSpeaker, Participant: m.Participant})
	case protocol.GroupLayer:
		g.emit(GroupEvent{Kind: GroupEventLayer, Participant: m.Participant, Layer: m.Layer, Width: m.Width, Height: m.Height})
	case protocol.GroupChat:
		g.emit(GroupEvent{Kind: GroupEventChat, Participant: m.Participant, Name: m.Name, Text: m.Text})
	case protocol.GroupError:
		err := &GroupError{Code: m.Code, Message: m.Message}
		if fatalGroupCode(m.Code) {
			return wrap.Error(ErrGroupRefused, ": ", err)
		}
		g.log.Warn("group error frame", "code", m.Code, "message", m.Message)
		g.upRefused(m.Code)
		g.emit(GroupEvent{Kind: GroupEventError, Err: err})
	case protocol.GroupBye:
		return wrap.Error(ErrGroupRefused, ": ", &GroupError{Code: m.Code, Message: "bye: " + m.Message})
	default:
		g.log.Debug("unknown group frame ignored", "type", m.Type)
	}
	return nil
}

// startAfresh drops both peers: a welcome that does not resume (the server no longer
// knew this participant: its grace ran out, or the group moved to another server's SFU
// when its own died) is a new start on the server's side, so the client publishes and
// receives anew, on new peers.
func (g *groupLoop) startAfresh() {
	g.log.Warn("group resume not taken: publishing and receiving anew")
	for _, p := range []*groupPeer{g.up, g.down} {
		if p == nil {
			continue
		}
		if err := p.peer.Close(); err != nil {
			g.log.Debug("closing a group peer", "pc", p.pc, "err", err)
		}
	}
	g.up, g.down = nil, nil
	g.upOffering, g.upAgain, g.answeredDown = false, false, ""
	g.viewed = map[string]bool{}
	g.diffTracks(nil)
}

// views sends the configured view size for participants not yet told.
func (g *groupLoop) views(ps []protocol.GroupParticipant) {
	if g.cfg.ViewWidth <= 0 || g.cfg.ViewHeight <= 0 {
		return
	}
	self := g.s.ID()
	for _, p := range ps {
		if p.ID == self || g.viewed[p.ID] {
			continue
		}
		g.viewed[p.ID] = true
		g.write(protocol.GroupMessage{Type: protocol.GroupView, Participant: p.ID, Width: g.cfg.ViewWidth, Height: g.cfg.ViewHeight})
	}
}

func (g *groupLoop) newPeer(pc string, f PeerFactory) (*groupPeer, error) {
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	p, err := f(ctx, g.cfg.Peer)
	if err != nil {
		return nil, wrap.Error("create ", pc, " peer: ", err)
	}
	g.peerGen++
	gp := &groupPeer{pc: pc, peer: p, gen: g.peerGen}
	gen := gp.gen
	p.OnLocalCandidate(func(c Candidate) { g.peerEvent(groupPeerEvent{gen: gen, pc: pc, cand: &c}) })
	p.OnStateChange(func(s PeerState) { g.peerEvent(groupPeerEvent{gen: gen, pc: pc, state: s, isState: true}) })
	g.emit(GroupEvent{Kind: GroupEventPeer, PC: pc, Peer: p})
	return gp, nil
}

func (g *groupLoop) peerEvent(ev groupPeerEvent) {
	select {
	case g.peerEv <- ev:
	case <-g.done:
	}
}

func (g *groupLoop) onPeerEvent(ev groupPeerEvent) {
	p := g.up
	if ev.pc == protocol.PCDown {
		p = g.down
	}
	if p == nil || p.gen != ev.gen {
		return
	}
	if ev.isState {
		g.log.Info("group connection state", "pc", ev.pc, "state", ev.state.String())
		g.emit(GroupEvent{Kind: GroupEventState, PC: ev.pc, State: ev.state, Peer: p.peer})
		return
	}
	c := ev.cand
	init := &protocol.GroupICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid}
	if c.SDPMLineIndex != nil && *c.SDPMLineIndex >= 0 && *c.SDPMLineIndex <= 0xffff {
		idx := uint16(*c.SDPMLineIndex)
		init.SDPMLineIndex = &idx
	}
	g.write(protocol.GroupMessage{Type: protocol.GroupCandidate, PC: ev.pc, Candidate: init})
}

// publish makes the up peer and offers it (a watcher without NewUp publishes nothing).
func (g *groupLoop) publish() error {
	if g.cfg.NewUp == nil || g.up != nil {
		return nil
	}
	up, err := g.newPeer(protocol.PCUp, g.cfg.NewUp)
	if err != nil {
		return err
	}
	g.up = up
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	d, err := up.peer.CreateOffer(ctx, OfferOptions{})
	if err == nil {
		err = up.peer.SetLocalDescription(ctx, d)
	}
	if err != nil {
		return wrap.Error("up offer: ", err)
	}
	g.upOffering = true
	g.write(protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: d.SDP, Screen: g.screenMid()})
	g.log.Info("up offer sent")
	return nil
}

func (g *groupLoop) onUpAnswer(m protocol.GroupMessage) {
	if m.PC != protocol.PCUp || g.up == nil {
		g.log.Warn("unexpected group answer ignored", "pc", m.PC)
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	if err := g.up.peer.SetRemoteDescription(ctx, SessionDescription{Type: protocol.TypeAnswer, SDP: m.SDP}); err != nil {
		g.log.Warn("up answer rejected", "err", err)
		g.emit(GroupEvent{Kind: GroupEventError, Err: err})
		return
	}
	g.setRemote(g.up)
	g.upAnswered()
}

func (g *groupLoop) onDownOffer(sdp string) error {
	if g.down == nil {
		down, err := g.newPeer(protocol.PCDown, g.cfg.NewDown)
		if err != nil {
			return err
		}
		g.down = down
	}
	if sdp == g.answeredDown {
		g.log.Debug("down offer answered already; repeat ignored")
		return nil
	}
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	p := g.down.peer
	if err := p.SetRemoteDescription(ctx, SessionDescription{Type: protocol.TypeOffer, SDP: sdp}); err != nil {
		g.log.Warn("down offer rejected", "err", err)
		g.emit(GroupEvent{Kind: GroupEventError, Err: err})
		return nil
	}
	g.setRemote(g.down)
	d, err := p.CreateAnswer(ctx)
	if err == nil {
		err = p.SetLocalDescription(ctx, d)
	}
	if err != nil {
		g.log.Error("down answer failed", "err", err)
		g.emit(GroupEvent{Kind: GroupEventError, Err: err})
		return nil
	}
	g.write(protocol.GroupMessage{Type: protocol.GroupAnswer, PC: protocol.PCDown, SDP: d.SDP})
	g.answeredDown = sdp
	g.diffTracks(offerTracks(sdp))
	return nil
}

// diffTracks reports the tracks that came and went with a down offer.
func (g *groupLoop) diffTracks(now []GroupTrack) {
	seen := map[string]bool{}
	for _, t := range now {
		k := trackKey(t)
		seen[k] = true
		if _, ok := g.tracks[k]; !ok {
			g.tracks[k] = t
			g.emit(GroupEvent{Kind: GroupEventTrack, Track: t, Added: true, Participant: t.Participant})
		}
	}
	for k, t := range g.tracks {
		if !seen[k] {
			delete(g.tracks, k)
			g.emit(GroupEvent{Kind: GroupEventTrack, Track: t, Added: false, Participant: t.Participant})
		}
	}
}

func (g *groupLoop) setRemote(p *groupPeer) {
	p.remoteSet = true
	pending := p.pending
	p.pending = nil
	for _, c := range pending {
		g.addCandidate(p, c)
	}
}

func (g *groupLoop) onCandidate(m protocol.GroupMessage) {
	if m.Candidate == nil || m.Candidate.Candidate == "" {
		return // end of candidates
	}
	p := g.up
	if m.PC == protocol.PCDown {
		p = g.down
	}
	c := Candidate{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid}
	if m.Candidate.SDPMLineIndex != nil {
		idx := int(*m.Candidate.SDPMLineIndex)
		c.SDPMLineIndex = &idx
	}
	if p == nil || !p.remoteSet {
		if p == nil {
			g.log.Warn("candidate for a connection not made yet dropped", "pc", m.PC)
			return
		}
		if len(p.pending) < maxPendingCandidates {
			p.pending = append(p.pending, c)
		}
		return
	}
	g.addCandidate(p, c)
}

func (g *groupLoop) addCandidate(p *groupPeer, c Candidate) {
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	if err := p.peer.AddICECandidate(ctx, c); err != nil {
		g.log.Warn("group candidate rejected", "pc", p.pc, "err", err)
	}
}

// close ends the socket and both peers.
func (g *groupLoop) close() {
	close(g.done)
	if g.conn != nil {
		_ = g.conn.Close()
	}
	var errs []error
	for _, p := range []*groupPeer{g.up, g.down} {
		if p != nil {
			errs = append(errs, p.peer.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		g.log.Debug("closing group peers", "err", err)
	}
}
