package client

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// Config configures a Call.
type Config struct {
	// Room is the room id to join.
	Room string
	// Transport talks to the server. Required.
	Transport Transport
	// NewPeer makes the peer of each call attempt. Required.
	NewPeer PeerFactory
	// JoinQuery is the query string of /join, without the "?": the browser app passes its
	// page's, as AppRTC's page did, since the server reads the call's options from it:
	// pc_config (it=relay), TURN transports (tt=), relay (wshpp=), media (audio=, video=, hd=).
	JoinQuery string
	// RelayOnly forces iceTransportPolicy "relay" (also set when pc_config asks for it).
	RelayOnly bool
	// Logger receives the call's logs (a *slog.Logger will do); nil discards them.
	Logger Logger
	// OnEvent, when set, is called for every Event from the call's loop goroutine. It must
	// return quickly.
	OnEvent func(Event)
	// ReconnectWindow bounds the re-registration attempts after a relay socket loss; keep it
	// below the server's grace period (10 s by default). Default 8 s.
	ReconnectWindow time.Duration
	// RecoverAfter is how long a failed connection may stay failed after an ICE restart (or,
	// for the callee, without a new offer) before the call starts over with a new peer as
	// the offerer. Default 10 s.
	RecoverAfter time.Duration
	// DisconnectedGrace is how long the connection may stay "disconnected" before the call
	// handles it as failed (the offerer restarts ICE). Browsers report "failed" late: Chrome
	// ~10 s after "disconnected", when a relay that died leaves no other working path.
	// Default 2 s; negative waits for "failed" (bots, whose ICE timeouts are their own).
	DisconnectedGrace time.Duration
	// SilenceTimeout is how long packets that were flowing steadily may stop arriving before
	// the call handles the path as dead, as if the connection had failed: the offerer
	// restarts ICE (or starts over on a fresh peer) at once. A TURN server that dies takes
	// the path through it with it; ICE notices only after seconds. Only peers that are a
	// PathProbe are watched, and only once packets have flowed steadily (see watchSilence),
	// so a call that sends nothing (no camera, no microphone) is never restarted for its
	// silence. Default DefaultSilenceTimeout; negative disables the watch.
	SilenceTimeout time.Duration
}

// DefaultSilenceTimeout is Config.SilenceTimeout when unset. Audio alone sends a packet
// every 20 ms, so this much of nothing is a dead path, not a pause.
const DefaultSilenceTimeout = 400 * time.Millisecond

// EventKind names what happened in a call.
type EventKind string

// Event kinds.
const (
	EventJoined       EventKind = "joined"        // Params, Initiator
	EventPeer         EventKind = "peer"          // Peer: a new peer was created
	EventSent         EventKind = "sent"          // Signal: a payload type was sent
	EventReceived     EventKind = "received"      // Signal: a payload type was received
	EventState        EventKind = "state"         // State
	EventBye          EventKind = "bye"           // the other side hung up
	EventRelayLost    EventKind = "relay_lost"    // the relay socket dropped
	EventRelayRestore EventKind = "relay_restore" // re-registered after a drop
	// EventSilent: packets stopped arriving for SilenceTimeout; the call handles the path
	// as failed. EventFlowing: they arrive again after an EventSilent.
	EventSilent  EventKind = "silent"
	EventFlowing EventKind = "flowing"
	EventClosed  EventKind = "closed" // Err: the call ended
	// EventVerification: Verification, the code of the current peer-to-peer connection,
	// after each "connected" of a DTLSPeer (a new peer has new certificates, so a new code).
	EventVerification EventKind = "verification"
	// EventGroupReady: the other side of the 1:1 call receives the group's media.
	EventGroupReady EventKind = "group-ready"
	// EventGroup: GroupURL, the room became a group room (a "group" payload in a 1:1
	// call, or a join answered with room_mode "group"); GroupCall moves to the SFU.
	EventGroup EventKind = "group"
)

// Event is one thing that happened in a call.
type Event struct {
	Kind      EventKind
	Params    *protocol.RoomParams
	Initiator bool
	Peer      Peer
	Signal    string // payload type for EventSent/EventReceived
	Restart   bool   // EventSent of an ICE-restart offer
	State     PeerState
	Err       error
	// Verification is set on EventVerification.
	Verification *Verification
	// GroupURL is set on EventGroup.
	GroupURL string
}

// Call is one client in one room: it joins, runs the call until hung up, and leaves.
type Call struct {
	cfg Config
	log Logger

	control chan controlReq
	done    chan struct{}

	mu       sync.Mutex
	link     *relayLink
	clientID string
}

type controlReq int

const (
	ctlHangup controlReq = iota
	ctlRestartICE
	ctlGroupReady
)

// New checks cfg and returns a Call ready to Run.
func New(cfg Config) (*Call, error) {
	if !protocol.ValidID(cfg.Room) {
		return nil, wrap.Error(ErrBadConfig, ": room id ", strconv.Quote(cfg.Room))
	}
	cfg.JoinQuery = strings.TrimPrefix(cfg.JoinQuery, "?")
	if strings.ContainsAny(cfg.JoinQuery, "# ") {
		return nil, wrap.Error(ErrBadConfig, ": join query ", strconv.Quote(cfg.JoinQuery))
	}
	if cfg.Transport == nil || cfg.NewPeer == nil {
		return nil, wrap.Error(ErrBadConfig, ": Transport and NewPeer are required")
	}
	if cfg.ReconnectWindow <= 0 {
		cfg.ReconnectWindow = 8 * time.Second
	}
	if cfg.RecoverAfter <= 0 {
		cfg.RecoverAfter = 10 * time.Second
	}
	if cfg.DisconnectedGrace == 0 {
		cfg.DisconnectedGrace = 2 * time.Second
	}
	if cfg.SilenceTimeout == 0 {
		cfg.SilenceTimeout = DefaultSilenceTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = discard{}
	}
	return &Call{cfg: cfg, log: withAttrs(log, "room", cfg.Room),
		control: make(chan controlReq, 8), done: make(chan struct{})}, nil
}

// Hangup asks a running call to leave; Run then returns nil.
func (c *Call) Hangup() { c.request(ctlHangup) }

// RestartICE asks the call to restart ICE now (only the initiator offers; the callee ignores it).
func (c *Call) RestartICE() { c.request(ctlRestartICE) }

// groupReady tells the other side of the 1:1 call that the group's media plays here.
func (c *Call) groupReady() { c.request(ctlGroupReady) }

// ClientID is the id the server gave at join ("" before).
func (c *Call) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

func (c *Call) request(r controlReq) {
	select {
	case c.control <- r:
	case <-c.done:
	}
}

// Run joins the room and runs the call until ctx is done, Hangup is called, or the call
// cannot go on. It always leaves the room before returning. A hang-up returns nil.
//
// A client the server has forgotten (away longer than its grace period) joins again as a
// new client, up to maxRejoins times in a row: the room may have a peer waiting for it.
func (c *Call) Run(ctx context.Context) error {
	defer close(c.done)
	err := c.run(ctx)
	for rejoins := 0; errors.Is(err, ErrForgotten) && rejoins < maxRejoins && ctx.Err() == nil; rejoins++ {
		c.log.Info("the server forgot this client; joining again", "err", err)
		err = c.run(ctx)
	}
	c.emit(Event{Kind: EventClosed, Err: err})
	return err
}

// maxRejoins bounds Run's joins after ErrForgotten, so a server that forgets every client
// at once (a broken deployment) ends the call instead of looping.
const maxRejoins = 3

func (c *Call) run(ctx context.Context) error {
	resp, err := c.join(ctx)
	if err != nil {
		return wrap.Error("join room ", strconv.Quote(c.cfg.Room), ": ", err)
	}
	if resp.Result != protocol.ResultSuccess {
		return &JoinError{Room: c.cfg.Room, Result: resp.Result}
	}
	p := resp.Params
	if p.RoomMode == protocol.RoomModeGroup {
		return c.joinedGroup(ctx, p)
	}
	if !protocol.ValidID(p.ClientID) || p.WSSURL == "" {
		return wrap.Error("join room ", strconv.Quote(c.cfg.Room), ": ", ErrJoinRefused, ": client_id ", strconv.Quote(p.ClientID), ", wss_url ", strconv.Quote(p.WSSURL))
	}
	c.mu.Lock()
	c.clientID = p.ClientID
	c.mu.Unlock()
	m := &machine{
		c: c, ctx: ctx, params: p, initiator: p.IsInitiator == "true",
		log:    withAttrs(c.log, "client", p.ClientID),
		frames: make(chan protocol.RelayFrame, 64), linkEv: make(chan linkEvent, 8),
		peerEv: make(chan peerEvent, 256), out: make(chan outMsg, protocol.MaxQueuedPerSender),
		spareEv: make(chan spareServers, 1),
		outDone: make(chan struct{}),
	}
	m.relayOnly = c.cfg.RelayOnly || pcConfigRelayOnly(p.PCConfig)
	m.log.Info("joined", "initiator", m.initiator, "messages", len(p.Messages))
	c.emit(Event{Kind: EventJoined, Params: &p, Initiator: m.initiator})

	loopDone := make(chan struct{})
	m.done = loopDone
	m.link = newRelayLink(c.cfg.Transport, p.WSSURL, p.RoomID, p.ClientID, c.cfg.ReconnectWindow, m.log, m.frames, m.linkEv, loopDone)
	if m.link.room == "" {
		m.link.room = c.cfg.Room
	}
	c.mu.Lock()
	c.link = m.link
	c.mu.Unlock()
	defer close(loopDone)
	if err := m.link.connect(ctx); err != nil {
		m.leave(false)
		return err
	}
	go m.sendLoop()
	err = m.loop()
	m.leave(true)
	return err
}

// joinedGroup: the join landed in a group room, which has no relay nor peer-to-peer peer;
// the call reports where the group socket is and waits for the hang-up (GroupCall runs
// the group session).
func (c *Call) joinedGroup(ctx context.Context, p protocol.RoomParams) error {
	if p.GroupURL == "" {
		return wrap.Error("join room ", strconv.Quote(c.cfg.Room), ": ", ErrJoinRefused, ": room_mode group without group_url")
	}
	c.mu.Lock()
	c.clientID = p.ClientID
	c.mu.Unlock()
	c.emit(Event{Kind: EventJoined, Params: &p})
	c.emit(Event{Kind: EventGroup, GroupURL: p.GroupURL, Params: &p})
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-c.control:
			if r == ctlHangup {
				return nil
			}
		}
	}
}

func (c *Call) emit(ev Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}

// pcConfigRelayOnly reports whether pc_config asks for relay-only ICE (?it=relay).
func pcConfigRelayOnly(text string) bool {
	c, err := parsePCConfig(text)
	return err == nil && (c.ICETransports == "relay" || c.ICETransportPolicy == "relay")
}

// pcConfigServers returns the iceServers of pc_config.
func pcConfigServers(text string) []protocol.ICEServer {
	c, err := parsePCConfig(text)
	if err != nil {
		return nil
	}
	var out []protocol.ICEServer
	for _, s := range c.ICEServers {
		if len(s.URLs) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// outMsg is one outgoing payload; viaHTTP is decided when it is queued, as AppRTC does:
// the initiator posts to /message, the callee sends on the relay socket.
type outMsg struct {
	msg     string
	viaHTTP bool
}

// sendLoop sends queued payloads in order.
func (m *machine) sendLoop() {
	defer close(m.outDone)
	for o := range m.out {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), m.c.cfg.ReconnectWindow+2*time.Second)
		var err error
		if o.viaHTTP {
			err = m.c.cfg.Transport.Message(ctx, m.params.RoomID, m.params.ClientID, o.msg)
		} else {
			err = m.link.send(ctx, o.msg)
		}
		cancel()
		if err != nil {
			m.log.Warn("signaling message not sent", "http", o.viaHTTP, "err", err)
		}
	}
}

// leave ends the call: drains the outbox, POST /leave, relay bye, close, DELETE /collider.
func (m *machine) leave(connected bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), 3*time.Second)
	defer cancel()
	m.retire()
	defer m.closing.Wait()
	if connected {
		close(m.out)
		select {
		case <-m.outDone:
		case <-time.After(time.Second):
			m.log.Warn("outbox not drained before leaving")
		}
	}
	t := m.c.cfg.Transport
	if err := t.Leave(ctx, m.params.RoomID, m.params.ClientID); err != nil {
		m.log.Warn("leave failed", "err", err)
	}
	if connected {
		bctx, bcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		if err := m.link.send(bctx, byeMessage); err != nil {
			m.log.Warn("bye not sent", "err", err)
		}
		bcancel()
	}
	m.link.close()
	if m.params.WSSPostURL != "" {
		if err := t.DeleteRelay(ctx, m.params.WSSPostURL, m.params.RoomID, m.params.ClientID); err != nil {
			m.log.Warn("relay delete failed", "err", err)
		}
	}
	m.log.Info("left")
}

// fatalRelayError maps Collider's fatal registration errors to an error, others to nil.
func fatalRelayError(text string) error {
	switch {
	case strings.Contains(text, protocol.ErrTextRoomFull):
		return wrap.Error(ErrRelayRefused, ": ", ErrRoomFull, ": ", text)
	case strings.Contains(text, protocol.ErrTextInvalidRegister):
		return wrap.Error(ErrRelayRefused, ": ", text)
	case strings.Contains(text, protocol.ErrTextUnknownClient):
		return wrap.Error(ErrRelayRefused, ": ", ErrForgotten, ": ", text)
	}
	return nil
}

// joinTries bounds the joins of one run that the server refuses for now (503), a second
// apart: an instance that handed its port over to a new process refuses a join that came
// on a connection kept alive from before it, and the next try reaches the new one.
const joinTries = 3

func (c *Call) join(ctx context.Context) (protocol.JoinResponse, error) {
	for try := 1; ; try++ {
		resp, err := c.cfg.Transport.Join(ctx, c.cfg.Room, c.cfg.JoinQuery)
		if !errors.Is(err, ErrUnavailable) || try == joinTries {
			return resp, err
		}
		c.log.Info("join refused for now; trying again", "err", err)
		select {
		case <-ctx.Done():
			return resp, err
		case <-time.After(time.Second):
		}
	}
}
