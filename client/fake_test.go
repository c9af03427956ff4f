package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/onertc/onertc/protocol"
)

// fakeServer is an in-memory room server + relay with the rules of docs/protocol.md that a call
// depends on: capacity 2, initiator by occupancy, mailbox while alone, relay queues for an
// unregistered peer.
type fakeServer struct {
	mu      sync.Mutex
	rooms   map[string][]string // room → client ids, in join order
	mailbox map[string][]string // client → mailbox
	queue   map[string][]string // client → relay messages waiting for its socket
	conns   map[string]*fakeConn
	nextID  int
	posted  []string // every /message body, in order
	deleted []string
	noDial  bool // DialRelay fails, as while the network is down
	// forgetOnJoin removes every client right after its join, as a server whose grace
	// period ends before the client registers.
	forgetOnJoin bool
	// joinErrs are answered, one each, to the next joins instead of joining.
	joinErrs []error
	joins    int // joins asked for, refused ones included
}

func newFakeServer() *fakeServer {
	return &fakeServer{rooms: map[string][]string{}, mailbox: map[string][]string{},
		queue: map[string][]string{}, conns: map[string]*fakeConn{}}
}

func (s *fakeServer) other(room, client string) string {
	for _, c := range s.rooms[room] {
		if c != client {
			return c
		}
	}
	return ""
}

func (s *fakeServer) Join(_ context.Context, room, _ string) (protocol.JoinResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joins++
	if len(s.joinErrs) > 0 {
		err := s.joinErrs[0]
		s.joinErrs = s.joinErrs[1:]
		return protocol.JoinResponse{}, err
	}
	if len(s.rooms[room]) >= 2 {
		return protocol.JoinResponse{Result: protocol.ResultFull}, nil
	}
	s.nextID++
	id := fmt.Sprintf("c%d", s.nextID)
	p := protocol.RoomParams{RoomID: room, ClientID: id, IsInitiator: fmt.Sprint(len(s.rooms[room]) == 0), Messages: []string{},
		Params: protocol.Params{WSSURL: "ws://fake/ws", WSSPostURL: "http://fake/collider",
			ICEServerURL: "http://fake/v1alpha/iceconfig?key=", PCConfig: `{"iceServers":[],"bundlePolicy":"max-bundle"}`}}
	if o := s.other(room, ""); o != "" {
		p.Messages = append(p.Messages, s.mailbox[o]...)
		delete(s.mailbox, o)
	}
	if !s.forgetOnJoin {
		s.rooms[room] = append(s.rooms[room], id)
	}
	return protocol.JoinResponse{Result: protocol.ResultSuccess, Params: p}, nil
}

func (s *fakeServer) Message(_ context.Context, room, client, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posted = append(s.posted, msg)
	in := false
	for _, c := range s.rooms[room] {
		in = in || c == client
	}
	if !in {
		return fmt.Errorf("%w: %s", ErrMessageRejected, protocol.ResultUnknownClient)
	}
	if o := s.other(room, client); o != "" {
		s.deliverLocked(o, msg)
	} else {
		s.mailbox[client] = append(s.mailbox[client], msg)
	}
	return nil
}

func (s *fakeServer) deliverLocked(to, msg string) {
	if c := s.conns[to]; c != nil && !c.isClosed() {
		c.push(protocol.RelayFrame{Msg: msg})
		return
	}
	s.queue[to] = append(s.queue[to], msg)
}

func (s *fakeServer) Leave(_ context.Context, room, client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(room, client)
	return nil
}

func (s *fakeServer) removeLocked(room, client string) {
	var keep []string
	for _, c := range s.rooms[room] {
		if c != client {
			keep = append(keep, c)
		}
	}
	s.rooms[room] = keep
	delete(s.mailbox, client)
}

func (s *fakeServer) ICEServers(context.Context, string) ([]protocol.ICEServer, error) {
	return []protocol.ICEServer{{URLs: []string{"turn:fake:3478"}, Username: "u", Credential: "p"}}, nil
}

func (s *fakeServer) DialRelay(context.Context, string) (RelayConn, error) {
	s.mu.Lock()
	down := s.noDial
	s.mu.Unlock()
	if down {
		return nil, errors.New("fake relay: network down")
	}
	return &fakeConn{srv: s, in: make(chan protocol.RelayFrame, 1024), closed: make(chan struct{})}, nil
}

func (s *fakeServer) DeleteRelay(_ context.Context, _, room, client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = append(s.deleted, client)
	s.removeLocked(room, client)
	if c := s.conns[client]; c != nil {
		delete(s.conns, client)
		c.Close()
	}
	return nil
}

// inject delivers a raw payload to client as if its peer had sent it.
func (s *fakeServer) inject(client, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliverLocked(client, msg)
}

func (s *fakeServer) postedTypes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.posted {
		sig, _ := parseSignal(m)
		out = append(out, sig.Type)
	}
	return out
}

// fakeConn is one relay socket of the fake server.
type fakeConn struct {
	srv       *fakeServer
	client    string
	room      string
	in        chan protocol.RelayFrame
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *fakeConn) push(f protocol.RelayFrame) {
	select {
	case c.in <- f:
	default:
	}
}

func (c *fakeConn) Write(_ context.Context, req protocol.RelayRequest) error {
	if c.isClosed() {
		return errors.New("fake relay: closed")
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	switch req.Cmd {
	case protocol.CmdRegister:
		if !slices.Contains(s.rooms[req.RoomID], req.ClientID) {
			c.push(protocol.RelayFrame{Error: protocol.ErrTextUnknownClient})
			return nil
		}
		if old := s.conns[req.ClientID]; old != nil && !old.isClosed() {
			c.push(protocol.RelayFrame{Error: protocol.ErrTextDuplicateClient})
			return nil
		}
		c.client, c.room = req.ClientID, req.RoomID
		s.conns[req.ClientID] = c
		for _, m := range s.queue[req.ClientID] {
			c.push(protocol.RelayFrame{Msg: m})
		}
		delete(s.queue, req.ClientID)
	case protocol.CmdSend:
		if c.client == "" {
			c.push(protocol.RelayFrame{Error: protocol.ErrTextNotRegistered})
			return nil
		}
		if o := s.other(c.room, c.client); o != "" {
			s.deliverLocked(o, req.Msg)
		} else {
			s.queue["orphan:"+c.room] = append(s.queue["orphan:"+c.room], req.Msg)
		}
	default:
		c.push(protocol.RelayFrame{Error: protocol.ErrTextUnexpectedCmd})
	}
	return nil
}

func (c *fakeConn) Read(ctx context.Context) (protocol.RelayFrame, error) {
	select {
	case f := <-c.in:
		return f, nil
	case <-c.closed:
		return protocol.RelayFrame{}, errors.New("fake relay: closed")
	case <-ctx.Done():
		return protocol.RelayFrame{}, ctx.Err()
	}
}

func (c *fakeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// fakePeer records what the call did and "connects" once it has both descriptions.
type fakePeer struct {
	id string

	mu       sync.Mutex
	local    *SessionDescription
	remote   *SessionDescription
	remotes  []SessionDescription
	cands    []Candidate
	offers   int
	restarts int
	// serverSets counts fresh ICE servers given (settablePeer only), lastSet the last ones.
	serverSets int
	lastSet    []protocol.ICEServer
	closed     bool
	onCand     func(Candidate)
	onState    func(PeerState)
	connected  bool
	failSet    bool // SetRemoteDescription fails
}

func (p *fakePeer) sdp(kind string) string {
	return "v=0\r\na=fingerprint:sha-256 " + p.id + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" +
		"a=x-kind:" + kind + "\r\n"
}

func (p *fakePeer) CreateOffer(_ context.Context, o OfferOptions) (SessionDescription, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offers++
	if o.ICERestart {
		p.restarts++
	}
	return SessionDescription{Type: protocol.TypeOffer, SDP: p.sdp("offer")}, nil
}

func (p *fakePeer) CreateAnswer(context.Context) (SessionDescription, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.remote == nil {
		return SessionDescription{}, errors.New("fake: answer without offer")
	}
	return SessionDescription{Type: protocol.TypeAnswer, SDP: p.sdp("answer")}, nil
}

func (p *fakePeer) SetLocalDescription(_ context.Context, d SessionDescription) error {
	p.mu.Lock()
	p.local = &d
	f := p.onCand
	p.mu.Unlock()
	if f != nil {
		mid := "0"
		idx := 0
		// Candidates as browsers produce them: IPv6 and tcptype must survive verbatim.
		go f(Candidate{Candidate: "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host generation 0 ufrag " + p.id, SDPMid: &mid, SDPMLineIndex: &idx})
		go f(Candidate{Candidate: "candidate:2 1 tcp 1518280447 2001:db8::1 9 typ host tcptype active generation 0", SDPMid: &mid, SDPMLineIndex: &idx})
	}
	p.maybeConnect()
	return nil
}

func (p *fakePeer) SetRemoteDescription(_ context.Context, d SessionDescription) error {
	p.mu.Lock()
	if p.failSet {
		p.mu.Unlock()
		return errors.New("fake: rejected")
	}
	p.remote = &d
	p.remotes = append(p.remotes, d)
	p.mu.Unlock()
	p.maybeConnect()
	return nil
}

func (p *fakePeer) maybeConnect() {
	p.mu.Lock()
	ok := p.local != nil && p.remote != nil && !p.connected
	if ok {
		p.connected = true
	}
	f := p.onState
	p.mu.Unlock()
	if ok && f != nil {
		go f(PeerStateConnected)
	}
}

func (p *fakePeer) setState(s PeerState) {
	p.mu.Lock()
	f := p.onState
	p.connected = s == PeerStateConnected
	p.mu.Unlock()
	f(s)
}

func (p *fakePeer) AddICECandidate(_ context.Context, c Candidate) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.remote == nil {
		return errors.New("fake: candidate before remote description")
	}
	p.cands = append(p.cands, c)
	return nil
}

func (p *fakePeer) OnLocalCandidate(f func(Candidate)) { p.mu.Lock(); p.onCand = f; p.mu.Unlock() }
func (p *fakePeer) OnStateChange(f func(PeerState))    { p.mu.Lock(); p.onState = f; p.mu.Unlock() }
func (p *fakePeer) Close() error                       { p.mu.Lock(); p.closed = true; p.mu.Unlock(); return nil }

func (p *fakePeer) snapshot() (remotes []SessionDescription, cands []Candidate, offers, restarts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]SessionDescription(nil), p.remotes...), append([]Candidate(nil), p.cands...), p.offers, p.restarts
}

// settablePeer is a fakePeer that takes fresh ICE servers before a restart, as a browser's
// does; it counts them.
type settablePeer struct{ *fakePeer }

func (p settablePeer) SetICEServers(_ context.Context, cfg PeerConfig) error {
	p.mu.Lock()
	p.serverSets++
	p.lastSet = cfg.ICEServers
	p.mu.Unlock()
	return nil
}

// settable makes a call's peers settablePeers.
func settable(c *Config) {
	inner := c.NewPeer
	c.NewPeer = func(ctx context.Context, cfg PeerConfig) (Peer, error) {
		p, err := inner(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return settablePeer{p.(*fakePeer)}, nil
	}
}

// peerLog collects the fake peers a call made.
type peerLog struct {
	mu    sync.Mutex
	name  string
	peers []*fakePeer
	cfgs  []PeerConfig
}

func (l *peerLog) newPeer(_ context.Context, cfg PeerConfig) (Peer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &fakePeer{id: fmt.Sprintf("%s-%d", l.name, len(l.peers))}
	l.peers = append(l.peers, p)
	l.cfgs = append(l.cfgs, cfg)
	return p, nil
}

func (l *peerLog) last() *fakePeer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.peers) == 0 {
		return nil
	}
	return l.peers[len(l.peers)-1]
}

func (l *peerLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers)
}

func hasType(sdp, kind string) bool { return strings.Contains(sdp, "a=x-kind:"+kind) }
