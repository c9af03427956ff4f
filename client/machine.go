package client

import (
	"context"
	"sync"
	"time"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// maxPendingCandidates bounds the remote candidates kept until a remote description is set.
const maxPendingCandidates = 512

// verifyTries and verifyRetry bound how often and how fast the verification code of a new
// connection is asked for (see verify): for up to 5 s, as a tab under -race on a busy
// machine took more than 1 s.
const (
	verifyTries = 25
	verifyRetry = 200 * time.Millisecond
)

// opTimeout bounds one Peer operation.
const opTimeout = 10 * time.Second

// machine is the state of one joined call. Every field is owned by the loop goroutine,
// except the channels, which other goroutines only send on.
type machine struct {
	c         *Call
	ctx       context.Context
	log       Logger
	params    protocol.RoomParams
	relayOnly bool
	link      *relayLink
	done      <-chan struct{}

	frames  chan protocol.RelayFrame
	linkEv  chan linkEvent
	peerEv  chan peerEvent
	out     chan outMsg
	outDone chan struct{}

	initiator bool
	peer      Peer
	gen       int    // counts peers, so callbacks of a closed one are dropped
	remoteSet bool   // a remote description is set on peer
	awaiting  bool   // a local offer waits for its answer
	localFP   string // fingerprint of peer's local description
	remoteFP  string // fingerprint of peer's remote description
	pending   []Candidate
	state     PeerState
	restarted bool // an ICE restart was tried since the last "connected"
	// silent: the peer's packets stopped (SilenceTimeout) and have not come back; the
	// connection counts as failed whatever state the peer reports.
	silent    bool
	stopWatch context.CancelFunc // ends the current peer's silence watch
	// spare: ICE servers fetched ahead of a restart (spare.go), fetched into spareEv.
	spare         spareServers
	spareEv       chan spareServers
	fetchingSpare bool
	// recoverAt fires when a failed connection should start over (RecoverAfter);
	// disconnectedAt when a "disconnected" one counts as failed (DisconnectedGrace).
	recoverAt, disconnectedAt deadline
	// moving: the room became a group room; the peer stays until the group's media
	// arrives, and the other side's bye does not start a new peer.
	moving bool
	// closing counts retired peers still closing: pion's Close waits for candidate
	// gathering, which waits seconds on a TURN server that died, so peers close aside.
	closing sync.WaitGroup
}

type peerEvent struct {
	gen     int
	cand    *Candidate
	state   PeerState
	isState bool
	verify  *Verification
	silent  bool // packets stopped arriving
	flowing bool // they arrive again after silent
	quiet   bool // they paused for half of the silence timeout
}

func (m *machine) loop() error {
	if err := m.newPeer(); err != nil {
		return err
	}
	if m.initiator {
		m.offer(false)
	} else if err := m.handleBatch(m.params.Messages); err != nil {
		return err
	}
	for {
		var err error
		select {
		case <-m.ctx.Done():
			return nil
		case r := <-m.c.control:
			switch r {
			case ctlHangup:
				return nil
			case ctlRestartICE:
				if m.initiator && m.peer != nil && !m.awaiting {
					m.offer(true)
				}
			case ctlGroupReady:
				m.queue(groupReadyMessage)
				m.c.emit(Event{Kind: EventSent, Signal: protocol.TypeGroupReady})
			}
		case f := <-m.frames:
			if f.Error != "" {
				m.log.Warn("relay error", "error", f.Error)
				if ferr := fatalRelayError(f.Error); ferr != nil {
					return ferr
				}
				continue
			}
			err = m.handle(f.Msg)
		case ev := <-m.linkEv:
			switch {
			case ev.err != nil:
				return ev.err
			case ev.lost:
				m.c.emit(Event{Kind: EventRelayLost})
			case ev.restored:
				m.c.emit(Event{Kind: EventRelayRestore})
			}
		case ev := <-m.peerEv:
			if ev.gen != m.gen {
				continue
			}
			switch {
			case ev.isState:
				m.onState(ev.state)
			case ev.verify != nil:
				m.log.Info("verification code", "code", ev.verify.Code)
				m.c.emit(Event{Kind: EventVerification, Verification: ev.verify})
			case ev.silent:
				m.onSilent()
			case ev.flowing:
				m.onFlowing()
			case ev.quiet:
				m.onQuiet()
			default:
				m.queue(encodeCandidate(*ev.cand))
				m.c.emit(Event{Kind: EventSent, Signal: protocol.TypeCandidate})
			}
		case s := <-m.spareEv:
			m.onSpare(s)
		case <-m.recoverAt.C:
			m.recoverAt.stop()
			err = m.recover()
		case <-m.disconnectedAt.C:
			m.disconnectedAt.stop()
			if m.state == PeerStateDisconnected {
				m.log.Warn("connection disconnected too long; handling it as failed", "after", m.c.cfg.DisconnectedGrace)
				m.failed()
			}
		}
		if err != nil {
			return err
		}
	}
}

// handleBatch processes the join messages. When they hold several offers, the last one
// supersedes everything before it (an ICE-restart offer to a peer that is gone, its
// candidates, a stale bye), so only the last offer and what follows it are used.
func (m *machine) handleBatch(msgs []string) error {
	start, offers := 0, 0
	for i, raw := range msgs {
		if s, err := parseSignal(raw); err == nil && s.Type == protocol.TypeOffer {
			offers++
			if offers > 1 {
				start = i
			}
		}
	}
	if start > 0 {
		m.log.Info("skipping superseded join messages", "skipped", start)
	}
	for _, raw := range msgs[start:] {
		if err := m.handle(raw); err != nil {
			return err
		}
	}
	return nil
}

// handle processes one payload from the other side. Bad input is logged and dropped.
func (m *machine) handle(raw string) error {
	s, err := parseSignal(raw)
	if err != nil {
		m.log.Warn("ignoring bad payload", "err", err, "len", len(raw))
		return nil
	}
	m.c.emit(Event{Kind: EventReceived, Signal: s.Type})
	switch s.Type {
	case protocol.TypeOffer:
		return m.onOffer(s.SDP)
	case protocol.TypeAnswer:
		m.onAnswer(s.SDP)
	case protocol.TypeCandidate:
		m.onCandidate(candidateFromSignal(s))
	case protocol.TypeBye:
		if m.moving {
			// The other side moved to the group room; this one is moving too.
			m.c.emit(Event{Kind: EventBye})
			return nil
		}
		return m.onBye()
	case protocol.TypeGroup:
		m.moving = true
		m.log.Info("the room became a group room", "url", s.URL)
		m.c.emit(Event{Kind: EventGroup, GroupURL: s.URL})
	case protocol.TypeGroupReady:
		m.c.emit(Event{Kind: EventGroupReady})
	}
	return nil
}

func (m *machine) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(m.ctx, opTimeout)
}

// newPeer closes the current peer (if any) and makes a fresh one with fresh ICE servers.
func (m *machine) newPeer() error {
	m.retire()
	m.recoverAt.stop()
	m.disconnectedAt.stop()
	m.gen++
	gen := m.gen
	m.remoteSet, m.awaiting, m.restarted, m.silent = false, false, false, false
	m.localFP, m.remoteFP, m.pending, m.state = "", "", nil, PeerStateNew
	servers := m.restartServers()
	ctx, cancel := m.opCtx()
	defer cancel()
	p, err := m.c.cfg.NewPeer(ctx, PeerConfig{ICEServers: servers, RelayOnly: m.relayOnly})
	if err != nil {
		return wrap.Error("create peer: ", err)
	}
	p.OnLocalCandidate(func(c Candidate) { m.peerEvent(peerEvent{gen: gen, cand: &c}) })
	p.OnStateChange(func(s PeerState) { m.peerEvent(peerEvent{gen: gen, state: s, isState: true}) })
	m.peer = p
	m.watch(p, gen)
	m.log.Debug("peer created", "gen", gen, "ice_servers", len(servers), "relay_only", m.relayOnly)
	m.c.emit(Event{Kind: EventPeer, Peer: p, Initiator: m.initiator})
	return nil
}

// retire closes the current peer, if any, without waiting; leave waits for every retired peer.
func (m *machine) retire() {
	p := m.peer
	if p == nil {
		return
	}
	if m.stopWatch != nil {
		m.stopWatch()
		m.stopWatch = nil
	}
	m.peer = nil
	m.closing.Add(1)
	go func() {
		defer m.closing.Done()
		if err := p.Close(); err != nil {
			m.log.Debug("closing a retired peer failed", "err", err)
		}
	}()
}

func (m *machine) peerEvent(ev peerEvent) {
	select {
	case m.peerEv <- ev:
	case <-m.done:
	}
}

// queue sends msg the AppRTC way: /message while initiator, the relay socket otherwise;
// but once the other side has answered the current peer, the initiator too uses its socket
// (for the server both are one path into the relay, docs/protocol.md section 2). An ICE
// restart's offer and candidates are then not a request each through the load balancer:
// posted one after the other, they took 35-680 ms each there (e2e/browser, load 15-27),
// and a relayed path cannot connect before both sides' candidates have arrived.
func (m *machine) queue(msg string) {
	select {
	case m.out <- outMsg{msg: msg, viaHTTP: m.initiator && !m.remoteSet}:
	default:
		m.log.Warn("outbox full; signaling message dropped")
	}
}

func (m *machine) offer(restart bool) {
	ctx, cancel := m.opCtx()
	defer cancel()
	if setter, ok := m.peer.(ICEServerSetter); ok && restart {
		cfg := PeerConfig{ICEServers: m.restartServers(), RelayOnly: m.relayOnly}
		if err := setter.SetICEServers(ctx, cfg); err != nil {
			m.log.Warn("fresh ICE servers not applied before restart", "err", err)
		}
	}
	d, err := m.peer.CreateOffer(ctx, OfferOptions{ICERestart: restart})
	if err == nil {
		err = m.peer.SetLocalDescription(ctx, d)
	}
	if err != nil {
		m.log.Error("creating offer failed", "restart", restart, "err", err)
		return
	}
	m.awaiting = true
	m.localFP = sdpFingerprint(d.SDP)
	m.queue(encodeDescription(d))
	m.log.Info("offer sent", "restart", restart)
	m.c.emit(Event{Kind: EventSent, Signal: protocol.TypeOffer, Restart: restart})
	if restart {
		m.restarted = true
		m.recoverAt.arm(m.c.cfg.RecoverAfter)
	}
}

func (m *machine) onOffer(sdp string) error {
	fp := sdpFingerprint(sdp)
	switch {
	case m.awaiting && m.localFP < fp:
		// Glare: both sides offered. The offer with the smaller fingerprint wins on both
		// sides, so exactly one yields.
		m.log.Warn("offer while our offer is pending; ours wins, ignored")
		return nil
	case m.awaiting || (m.remoteSet && m.remoteFP != "" && fp != m.remoteFP):
		// We yield to their offer, or it comes from a new RTCPeerConnection: start over.
		m.log.Info("offer starts a new session", "glare", m.awaiting)
		m.initiator = false
		if err := m.newPeer(); err != nil {
			return err
		}
	}
	ctx, cancel := m.opCtx()
	defer cancel()
	if setter, ok := m.peer.(ICEServerSetter); ok && m.remoteSet && fp == m.remoteFP {
		// A new offer on the session in progress is an ICE restart: our side gathers
		// again too, and the credentials it was made with may have expired (password
		// mode's last minutes), so it gets fresh ones, as the offering side does.
		if err := setter.SetICEServers(ctx, PeerConfig{ICEServers: m.restartServers(), RelayOnly: m.relayOnly}); err != nil {
			m.log.Warn("fresh ICE servers not applied before answering a restart", "err", err)
		}
	}
	if err := m.peer.SetRemoteDescription(ctx, SessionDescription{Type: protocol.TypeOffer, SDP: sdp}); err != nil {
		m.log.Warn("remote offer rejected", "err", err)
		return nil
	}
	m.setRemote(fp)
	d, err := m.peer.CreateAnswer(ctx)
	if err == nil {
		err = m.peer.SetLocalDescription(ctx, d)
	}
	if err != nil {
		m.log.Error("creating answer failed", "err", err)
		return nil
	}
	m.localFP = sdpFingerprint(d.SDP)
	m.queue(encodeDescription(d))
	m.log.Info("answer sent")
	m.c.emit(Event{Kind: EventSent, Signal: protocol.TypeAnswer})
	return nil
}

func (m *machine) onAnswer(sdp string) {
	if !m.awaiting {
		m.log.Warn("unexpected answer ignored")
		return
	}
	ctx, cancel := m.opCtx()
	defer cancel()
	if err := m.peer.SetRemoteDescription(ctx, SessionDescription{Type: protocol.TypeAnswer, SDP: sdp}); err != nil {
		m.log.Warn("remote answer rejected", "err", err)
		return
	}
	m.awaiting = false
	m.setRemote(sdpFingerprint(sdp))
}

// setRemote records a remote description and adds the candidates that waited for it.
func (m *machine) setRemote(fp string) {
	m.remoteSet = true
	m.remoteFP = fp
	pending := m.pending
	m.pending = nil
	for _, c := range pending {
		m.addCandidate(c)
	}
}

func (m *machine) onCandidate(c Candidate) {
	if !m.remoteSet {
		if len(m.pending) >= maxPendingCandidates {
			m.log.Warn("too many candidates before the remote description; dropped")
			return
		}
		m.log.Debug("candidate before remote description; queued")
		m.pending = append(m.pending, c)
		return
	}
	m.addCandidate(c)
}

func (m *machine) addCandidate(c Candidate) {
	ctx, cancel := m.opCtx()
	defer cancel()
	if err := m.peer.AddICECandidate(ctx, c); err != nil {
		m.log.Warn("remote candidate rejected", "err", err, "candidate", c.Candidate)
	}
}

// onBye: the other side hung up. Like AppRTC, the one left becomes the initiator and offers
// on a fresh peer; the offer lands in the mailbox for the next joiner.
func (m *machine) onBye() error {
	m.log.Info("remote hung up")
	m.c.emit(Event{Kind: EventBye})
	m.initiator = true
	if err := m.newPeer(); err != nil {
		return err
	}
	m.offer(false)
	return nil
}

func (m *machine) onState(s PeerState) {
	m.state = s
	m.log.Info("connection state", "state", s.String())
	m.c.emit(Event{Kind: EventState, State: s})
	if s != PeerStateDisconnected {
		m.disconnectedAt.stop()
	}
	switch s {
	case PeerStateConnected:
		m.restarted = false
		m.recoverAt.stop()
		m.verify()
	case PeerStateDisconnected:
		// A browser reports "failed" only when every candidate pair has timed out, which
		// Chrome takes ~10 s after "disconnected" (15 s after its TURN server died, seen in
		// e2e/browser's TestBrowserCallSurvivesInstanceKills); pion when its ICE timeouts say.
		if m.c.cfg.DisconnectedGrace > 0 {
			m.disconnectedAt.arm(m.c.cfg.DisconnectedGrace)
		}
	case PeerStateFailed:
		m.failed()
	}
}

// verify computes the verification code of the current peer aside (the browser's getStats
// is a promise) and hands it to the loop, which drops it if the peer has changed meanwhile.
func (m *machine) verify() {
	p, ok := m.peer.(DTLSPeer)
	if !ok {
		return
	}
	gen := m.gen
	go func() {
		ctx, cancel := m.opCtx()
		defer cancel()
		// Chromium answers getStats from a report up to 50 ms old, which the silence watch's
		// frequent calls keep fresh; the one of the moment before "connected" has no remote
		// certificate yet. So a failure is tried again.
		var local, remote Fingerprint
		var err error
		for range verifyTries {
			if local, remote, err = p.DTLSFingerprints(ctx); err == nil {
				break
			}
			select {
			case <-time.After(verifyRetry):
			case <-ctx.Done():
			}
		}
		if err != nil {
			m.log.Warn("no verification code", "err", err)
			return
		}
		v, err := NewVerification(local, remote)
		if err != nil {
			m.log.Warn("no verification code", "err", err)
			return
		}
		m.peerEvent(peerEvent{gen: gen, verify: &v})
	}()
}

// failed handles a connection that failed (or stayed disconnected too long): the offerer
// restarts ICE with fresh servers, or starts over on a fresh peer when its peer cannot take
// them; otherwise the call waits RecoverAfter for the other side's new offer.
func (m *machine) failed() {
	if m.initiator && !m.restarted && !m.awaiting {
		if _, ok := m.peer.(ICEServerSetter); !ok {
			// Its restart would gather through the servers it was made with, one of
			// which may be what failed (the TURN server of an instance that died):
			// start over now on a fresh peer with fresh servers instead.
			if err := m.recover(); err != nil {
				m.log.Error("starting over on a fresh peer failed", "err", err)
			}
			return
		}
		m.offer(true)
		return
	}
	m.recoverAt.arm(m.c.cfg.RecoverAfter)
}

// recover starts over when a failed connection did not come back: a fresh peer, and this
// side offers (into the mailbox when the other side is gone for good).
func (m *machine) recover() error {
	if m.state == PeerStateConnected && !m.silent {
		return nil
	}
	m.log.Warn("connection did not recover; starting over as offerer")
	m.initiator = true
	if err := m.newPeer(); err != nil {
		return err
	}
	m.offer(false)
	return nil
}

// deadline is a timer the loop selects on; C is nil (never ready) while it is not armed.
type deadline struct {
	t *time.Timer
	C <-chan time.Time
}

// arm starts the timer unless it is already running (the earlier deadline holds).
func (d *deadline) arm(after time.Duration) {
	if d.C != nil {
		return
	}
	d.t = time.NewTimer(after)
	d.C = d.t.C
}

func (d *deadline) stop() {
	if d.t != nil {
		d.t.Stop()
	}
	d.t, d.C = nil, nil
}
