package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v3"
)

// galeneMessage is one frame of Galène's client protocol (version 2: JSON objects over the
// WebSocket at /ws, each with a type; the fields a load client uses). Galène checks a
// username sent on any frame but join against the joined one, so it is left out there.
type galeneMessage struct {
	Type        string                   `json:"type"`
	Version     []string                 `json:"version,omitempty"`
	Kind        string                   `json:"kind,omitempty"`
	Error       string                   `json:"error,omitempty"`
	ID          string                   `json:"id,omitempty"`
	Source      string                   `json:"source,omitempty"`
	Username    string                   `json:"username,omitempty"`
	Password    string                   `json:"password,omitempty"`
	Group       string                   `json:"group,omitempty"`
	Permissions []string                 `json:"permissions,omitempty"`
	Label       string                   `json:"label,omitempty"`
	SDP         string                   `json:"sdp,omitempty"`
	Candidate   *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Request     map[string][]string      `json:"request,omitempty"`
	Value       json.RawMessage          `json:"value,omitempty"`
}

// Galène's frame types and kinds the load client sends or acts on.
const (
	galeneVersion   = "2"
	galeneHandshake = "handshake"
	galeneJoin      = "join"
	galeneJoined    = "joined"
	galeneRequest   = "request"
	galeneOffer     = "offer"
	galeneAnswer    = "answer"
	galeneICE       = "ice"
	galeneAbort     = "abort"
	galenePing      = "ping"
	galenePong      = "pong"
	galeneUserMsg   = "usermessage"
	galeneKindJoin  = "join"
	galeneKindFail  = "fail"
	galeneKindError = "error"
	// galeneGroup is the group of the bench's group file, with automatic subgroups: every
	// room is a subgroup, created by its first join.
	galeneGroup = "bench"
)

// value renders the frame's value (a human-readable string in errors) for an error text.
func (m galeneMessage) value() string {
	var s string
	if json.Unmarshal(m.Value, &s) == nil {
		return s
	}
	return string(m.Value)
}

// galeneProtocol is Galène's: every participant opens its own socket, hand-shakes, joins
// the room's subgroup, asks for everyone's audio and video (a request under the empty label, the default), offers its own
// stream (label camera) and answers the offer Galène makes for each other publisher's
// stream, one PeerConnection per stream. Galène trickles its ICE candidates; the load
// client sends complete descriptions.
type galeneProtocol struct{}

func (galeneProtocol) JoinRoom(ctx context.Context, addr, room string, parts []*Participant) (func(), error) {
	var sockets []*galeneSocket
	leave := func() {
		for _, s := range sockets {
			s.close()
		}
	}
	for _, p := range parts {
		s, err := dialGalene(ctx, addr, galeneGroup+"/"+room, p)
		if err != nil {
			leave()
			return nil, fmt.Errorf("room %s: %w", room, err)
		}
		sockets = append(sockets, s)
	}
	for _, s := range sockets {
		if err := s.publish(ctx); err != nil {
			leave()
			return nil, fmt.Errorf("room %s: %w", room, err)
		}
	}
	return leave, nil
}

// galeneSocket is one participant's socket: one reader goroutine that answers Galène's
// offers and adds its candidates, writes serialised by wmu.
type galeneSocket struct {
	jsonConn
	upID string

	// pcs and pending (candidates that came before their connection had its remote
	// description) are the reader's alone, but for the up connection publish adds.
	mu      sync.Mutex
	pcs     map[string]*webrtc.PeerConnection
	pending map[string][]webrtc.ICECandidateInit

	upAnswer chan string
}

func dialGalene(ctx context.Context, addr, group string, p *Participant) (*galeneSocket, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/ws", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: galene socket: %w", p.Name, err)
	}
	s := &galeneSocket{
		jsonConn: newJSONConn(p, ws, "galene socket"), upID: "up-" + p.Name,
		pcs: make(map[string]*webrtc.PeerConnection), pending: make(map[string][]webrtc.ICECandidateInit),
		upAnswer: make(chan string, 1),
	}
	joined := make(chan struct{})
	go s.readLoop(joined)
	for _, m := range []galeneMessage{
		{Type: galeneHandshake, Version: []string{galeneVersion}, ID: p.Name},
		{Type: galeneJoin, Kind: galeneKindJoin, Group: group, Username: p.Name},
	} {
		if err := s.send(m); err != nil {
			s.close()
			return nil, err
		}
	}
	select {
	case <-joined:
	case err := <-s.failed:
		s.close()
		return nil, err
	case <-ctx.Done():
		s.close()
		return nil, fmt.Errorf("%s: waiting for joined: %w", p.Name, ctx.Err())
	}
	if err := s.send(galeneMessage{Type: galeneRequest, Request: map[string][]string{"": {"audio", "video"}}}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *galeneSocket) readLoop(joined chan struct{}) {
	defer close(s.done)
	for {
		var m galeneMessage
		if err := s.read(&m); err != nil {
			s.fail(err)
			return
		}
		if err := s.handle(m, &joined); err != nil {
			s.fail(err)
		}
	}
}

func (s *galeneSocket) handle(m galeneMessage, joined *chan struct{}) error {
	switch m.Type {
	case galeneJoined:
		switch {
		case m.Kind == galeneKindJoin && *joined != nil:
			close(*joined)
			*joined = nil
		case m.Kind == galeneKindFail:
			return fmt.Errorf("%s: join refused: %s (%s)", s.p.Name, m.value(), m.Error)
		}
	case galenePing:
		return s.send(galeneMessage{Type: galenePong})
	case galeneAnswer:
		if m.ID == s.upID {
			select {
			case s.upAnswer <- m.SDP:
			default: // publish takes one answer; the reader never blocks on a second
			}
		}
	case galeneOffer:
		return s.answerDown(m.ID, m.SDP)
	case galeneICE:
		if m.Candidate != nil {
			return s.addCandidate(m.ID, *m.Candidate)
		}
	case galeneAbort:
		if m.ID == s.upID {
			return fmt.Errorf("%s: galene aborted the published stream", s.p.Name)
		}
	case galeneUserMsg:
		if m.Kind == galeneKindError {
			return fmt.Errorf("%s: galene error: %s", s.p.Name, m.value())
		}
	}
	return nil
}

// addCandidate adds a trickled candidate, or keeps it until its connection has a remote
// description: Galène may send a candidate before the offer or answer it belongs to.
func (s *galeneSocket) addCandidate(id string, c webrtc.ICECandidateInit) error {
	s.mu.Lock()
	pc := s.pcs[id]
	if pc == nil || pc.RemoteDescription() == nil {
		s.pending[id] = append(s.pending[id], c)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%s: candidate for %s: %w", s.p.Name, id, err)
	}
	return nil
}

// setRemote sets the remote description of stream id's connection, then the candidates
// that came before it.
func (s *galeneSocket) setRemote(id string, pc *webrtc.PeerConnection, d webrtc.SessionDescription) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := pc.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("%s: %s %s: %w", s.p.Name, id, d.Type, err)
	}
	for _, c := range s.pending[id] {
		if err := pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("%s: candidate for %s: %w", s.p.Name, id, err)
		}
	}
	delete(s.pending, id)
	return nil
}

// answerDown answers Galène's offer of another participant's stream; a second offer with
// the same id renegotiates the connection made at the first.
func (s *galeneSocket) answerDown(id, offer string) error {
	s.mu.Lock()
	pc := s.pcs[id]
	s.mu.Unlock()
	if pc == nil {
		var err error
		if pc, err = s.p.NewPeerConnection(); err != nil {
			return err
		}
		s.p.Subscribe(pc)
		s.mu.Lock()
		s.pcs[id] = pc
		s.mu.Unlock()
	}
	if err := s.setRemote(id, pc, webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("%s: answer %s: %w", s.p.Name, id, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("%s: answer %s: %w", s.p.Name, id, err)
	}
	if err := waitGathered(gathered); err != nil {
		return fmt.Errorf("%s: answer %s: %w", s.p.Name, id, err)
	}
	return s.send(galeneMessage{Type: galeneAnswer, ID: id, SDP: pc.LocalDescription().SDP})
}

// publish offers the participant's stream and starts its media once answered.
func (s *galeneSocket) publish(ctx context.Context) error {
	pc, err := s.p.NewPeerConnection()
	if err != nil {
		return err
	}
	if err := s.p.AddMedia(pc); err != nil {
		return err
	}
	s.mu.Lock()
	s.pcs[s.upID] = pc
	s.mu.Unlock()
	sdp, err := gatheredOffer(pc)
	if err != nil {
		return fmt.Errorf("%s: up offer: %w", s.p.Name, err)
	}
	if err := s.send(galeneMessage{Type: galeneOffer, ID: s.upID, Label: "camera", SDP: sdp}); err != nil {
		return err
	}
	var answer string
	select {
	case answer = <-s.upAnswer:
	case err := <-s.failed:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for the up answer: %w", s.p.Name, ctx.Err())
	}
	if err := s.setRemote(s.upID, pc, webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	s.p.StartMedia()
	return nil
}

func (s *galeneSocket) close() { s.shut() }
