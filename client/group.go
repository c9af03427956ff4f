package client

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// A group session is one participant of a group room (docs/protocol.md, section 10): one
// socket to the server's SFU and two peers, "up" (what this client publishes; it offers)
// and "down" (what the SFU forwards; the SFU offers, this client answers), so offers never
// cross. The same code runs in bots (pion peers) and in the browser (BrowserPeer).

// GroupConn is one group socket. Write may be called concurrently with Read; Read has a
// single caller. Close unblocks a pending Read.
type GroupConn interface {
	Write(ctx context.Context, m protocol.GroupMessage) error
	Read(ctx context.Context) (protocol.GroupMessage, error)
	Close() error
}

// GroupDialer opens group sockets; HTTPTransport and BrowserTransport are GroupDialers.
type GroupDialer interface {
	DialGroup(ctx context.Context, groupURL string) (GroupConn, error)
}

// Errors of a group session.
var (
	// ErrGroupRefused: the server refused the socket or closed it for good (full, rate,
	// replaced, closing, a bad URL).
	ErrGroupRefused = errors.New("group socket refused")
	// ErrGroupLost: the socket dropped and no resume worked within the grace period.
	ErrGroupLost = errors.New("group socket lost")
)

// GroupConfig configures a GroupSession.
type GroupConfig struct {
	// URL is the group socket (room_mode "group"'s group_url, or a "group" call payload's url).
	URL string
	// Name is the display name (?name=); empty lets the server choose one.
	Name   string
	Dialer GroupDialer
	// NewUp makes the publishing peer, with its local tracks attached; nil only watches.
	NewUp PeerFactory
	// NewDown makes the receiving peer (its remote tracks are the caller's: pion's OnTrack,
	// the browser's ontrack). Required.
	NewDown PeerFactory
	// Peer is the ICE configuration of both peers.
	Peer PeerConfig
	// ViewWidth and ViewHeight, when set, are sent as the view of every other participant
	// (a bot shows no tiles; the browser calls SetView per tile instead).
	ViewWidth, ViewHeight int
	// ResumeWindow bounds the re-dials after a socket loss. Within the server's grace
	// period (10 s) a resume keeps the PeerConnections; later, or on another instance's SFU
	// after the group's own died (found dead after 5 s without heartbeats), the server
	// takes it as a fresh join, which the session follows. Default 15 s.
	ResumeWindow time.Duration
	Logger       Logger
	// OnEvent, when set, is called from the session's loop for every GroupEvent; it must
	// return quickly.
	OnEvent func(GroupEvent)
	// ScreenMid, when set, is asked after each up offer is made (a new section has its mid
	// only then) for the mid of the section that carries a screen share, "" for none.
	ScreenMid func() string
}

// GroupEventKind names what happened in a group session.
type GroupEventKind string

// Group event kinds.
const (
	GroupEventWelcome      GroupEventKind = "welcome"      // Self, Participants, Resumed
	GroupEventParticipants GroupEventKind = "participants" // Participants (including Self)
	GroupEventTrack        GroupEventKind = "track"        // Track, Added
	GroupEventSpeaker      GroupEventKind = "speaker"      // Participant ("" for nobody)
	GroupEventLayer        GroupEventKind = "layer"        // Participant, Layer, Width, Height
	GroupEventChat         GroupEventKind = "chat"         // Participant, Name, Text: someone else's chat message
	GroupEventPeer         GroupEventKind = "peer"         // PC, Peer: a new peer was made
	GroupEventState        GroupEventKind = "state"        // PC, State
	GroupEventError        GroupEventKind = "error"        // Err: an error frame (the session goes on)
	GroupEventSocketLost   GroupEventKind = "socket_lost"  // Err: resuming
	GroupEventClosed       GroupEventKind = "closed"       // Err: the session ended
)

// GroupTrack is one forwarded track, from the down offer: its stream id is the
// publisher's participant id, its id starts with audio-, video- or screen-.
type GroupTrack struct {
	Participant string
	ID          string
	Kind        string // "audio" or "video"
}

// GroupEvent is one thing that happened in a group session.
type GroupEvent struct {
	Kind         GroupEventKind
	Self         string
	Participants []protocol.GroupParticipant
	Resumed      bool
	Participant  string
	Name         string
	Text         string
	Track        GroupTrack
	Added        bool
	Layer        string
	Width        int
	Height       int
	PC           string // protocol.PCUp or protocol.PCDown
	Peer         Peer
	State        PeerState
	Err          error
}

// GroupError is an error frame from the server.
type GroupError struct{ Code, Message string }

func (e *GroupError) Error() string { return "group error " + e.Code + ": " + e.Message }

// GroupSession is one participant's group call.
type GroupSession struct {
	cfg GroupConfig
	log Logger

	control chan groupControl
	done    chan struct{}

	mu   sync.Mutex
	self string
}

type groupControl struct {
	leave   bool
	reoffer bool
	msg     protocol.GroupMessage
}

// NewGroupSession checks cfg.
func NewGroupSession(cfg GroupConfig) (*GroupSession, error) {
	if cfg.URL == "" || cfg.Dialer == nil || cfg.NewDown == nil {
		return nil, wrap.Error(ErrBadConfig, ": group session needs URL, Dialer and NewDown")
	}
	if cfg.Name != "" && !protocol.ValidName(cfg.Name) {
		return nil, wrap.Error(ErrBadConfig, ": display name ", strconv.Quote(cfg.Name))
	}
	if cfg.ResumeWindow <= 0 {
		cfg.ResumeWindow = 15 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = discard{}
	}
	return &GroupSession{cfg: cfg, log: withAttrs(log, "group", cfg.URL),
		control: make(chan groupControl, 64), done: make(chan struct{})}, nil
}

// ID is this participant's id once welcomed ("" before).
func (s *GroupSession) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.self
}

// Leave says bye and ends Run (which then returns nil).
func (s *GroupSession) Leave() { s.send(groupControl{leave: true}) }

// SetState tells the others whether the microphone is muted and the camera off.
func (s *GroupSession) SetState(muted, cameraOff bool) {
	s.send(groupControl{msg: protocol.GroupMessage{Type: protocol.GroupState, Muted: &muted, CameraOff: &cameraOff}})
}

// SetView tells the server the size at which participant's camera is shown (0×0: unknown;
// 1×1: off screen).
func (s *GroupSession) SetView(participant string, width, height int) {
	s.send(groupControl{msg: protocol.GroupMessage{Type: protocol.GroupView, Participant: participant, Width: width, Height: height}})
}

// SendChat sends a chat message to everyone else in the room; the server refuses (an
// error event) a blank one or one over protocol.MaxChatChars characters.
func (s *GroupSession) SendChat(text string) {
	s.send(groupControl{msg: protocol.GroupMessage{Type: protocol.GroupChat, Text: text}})
}

func (s *GroupSession) send(c groupControl) {
	select {
	case s.control <- c:
	case <-s.done:
	}
}

// Run dials, joins and runs the session until ctx ends, Leave, or the server refuses it.
func (s *GroupSession) Run(ctx context.Context) error {
	defer close(s.done)
	g := newGroupLoop(s, ctx)
	err := g.run()
	g.close()
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(GroupEvent{Kind: GroupEventClosed, Err: err})
	}
	return err
}
