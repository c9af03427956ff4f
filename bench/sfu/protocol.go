package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/protocol"
)

// Protocol is how load participants reach one server's group rooms: its signaling only.
// The pion peers, their media and every measurement are the same whatever the server, so a
// second server (Galène, with its own JSON-over-WebSocket protocol) needs an adapter beside
// onertcProtocol and a target beside onertcTarget, nothing else.
type Protocol interface {
	// JoinRoom puts parts into room on the server at addr (host:port): each publishes on a
	// connection it offers (Participant.AddMedia, then StartMedia once answered) and
	// receives everyone else's tracks on connections the server offers
	// (Participant.Subscribe). It returns once every participant is publishing; leave
	// ends their signaling (the participants' own Close ends their media).
	JoinRoom(ctx context.Context, addr, room string, parts []*Participant) (leave func(), err error)
}

// onertcProtocol is onertc's group protocol (docs/protocol.md, section 10): the first two
// join the room table with group=1 and register on the relay; the third's join makes the
// room a group (it gets group_url, the two get theirs over the relay); each then opens its
// group socket, offers "up" and answers the server's "down" offers. The two leave the room
// table once on the SFU, as onertc's clients do.
type onertcProtocol struct{}

var benchHTTP = &http.Client{Timeout: 30 * time.Second}

func (onertcProtocol) JoinRoom(ctx context.Context, addr, room string, parts []*Participant) (func(), error) {
	if len(parts) < 3 {
		return nil, fmt.Errorf("a group room needs 3 participants or more, not %d", len(parts))
	}
	var sockets []*groupSocket
	leave := func() {
		for _, s := range sockets {
			s.close()
		}
	}
	fail := func(err error) (func(), error) {
		leave()
		return nil, fmt.Errorf("room %s: %w", room, err)
	}
	a, err := joinRoom(ctx, addr, room)
	if err != nil {
		return fail(err)
	}
	b, err := joinRoom(ctx, addr, room)
	if err != nil {
		return fail(err)
	}
	// Both register on the relay, where the group message reaches them.
	wsA, err := registerRelay(ctx, addr, room, a.Params.ClientID)
	if err != nil {
		return fail(err)
	}
	defer wsA.Close()
	wsB, err := registerRelay(ctx, addr, room, b.Params.ClientID)
	if err != nil {
		return fail(err)
	}
	defer wsB.Close()
	var urls []string
	for i := 2; i < len(parts); i++ {
		j, err := joinRoom(ctx, addr, room)
		if err != nil {
			return fail(err)
		}
		if j.Params.RoomMode != protocol.RoomModeGroup || j.Params.GroupURL == "" {
			return fail(fmt.Errorf("join %d: room_mode %q, want a group join", i+1, j.Params.RoomMode))
		}
		urls = append(urls, j.Params.GroupURL)
	}
	var first []string
	for _, ws := range []*websocket.Conn{wsA, wsB} {
		u, err := awaitGroupMessage(ctx, ws)
		if err != nil {
			return fail(err)
		}
		first = append(first, u)
	}
	urls = append(first, urls...)
	for i, p := range parts {
		s, err := dialGroup(ctx, urls[i], p)
		if err != nil {
			return fail(err)
		}
		sockets = append(sockets, s)
	}
	for _, s := range sockets {
		if err := s.publish(ctx); err != nil {
			return fail(err)
		}
	}
	for _, j := range []protocol.JoinResponse{a, b} {
		if err := leaveTable(ctx, addr, room, j.Params.ClientID); err != nil {
			return fail(err)
		}
	}
	return leave, nil
}

func joinRoom(ctx context.Context, addr, room string) (protocol.JoinResponse, error) {
	var j protocol.JoinResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/join/"+room+"?group=1", nil)
	if err != nil {
		return j, err
	}
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return j, fmt.Errorf("join: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return j, fmt.Errorf("join: %s: %w", resp.Status, err)
	}
	if j.Result != protocol.ResultSuccess {
		return j, fmt.Errorf("join: %s", j.Result)
	}
	return j, nil
}

func leaveTable(ctx context.Context, addr, room, client string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/leave/"+room+"/"+client, nil)
	if err != nil {
		return err
	}
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("leave: %s", resp.Status)
	}
	return nil
}

func registerRelay(ctx context.Context, addr, room, client string) (*websocket.Conn, error) {
	h := http.Header{"Origin": {"http://" + addr}}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/ws", h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("relay socket: %w", err)
	}
	if err := ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: room, ClientID: client}); err != nil {
		ws.Close()
		return nil, fmt.Errorf("relay register: %w", err)
	}
	return ws, nil
}

// awaitGroupMessage reads the relay socket until the server's group message.
func awaitGroupMessage(ctx context.Context, ws *websocket.Conn) (string, error) {
	deadline := time.Now().Add(15 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = ws.SetReadDeadline(deadline)
	for {
		var f protocol.RelayFrame
		if err := ws.ReadJSON(&f); err != nil {
			return "", fmt.Errorf("waiting for the group message: %w", err)
		}
		if f.Error != "" {
			return "", fmt.Errorf("relay error: %s", f.Error)
		}
		s, err := protocol.ParseSignal(f.Msg)
		if err == nil && s.Type == protocol.TypeGroup {
			return s.URL, nil
		}
	}
}

// groupSocket is one participant's group socket: one reader goroutine that answers the
// server's down offers, writes serialised by wmu.
type groupSocket struct {
	jsonConn
	up   *webrtc.PeerConnection
	down *webrtc.PeerConnection

	upAnswer chan string
}

func dialGroup(ctx context.Context, rawURL string, p *Participant) (*groupSocket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("group url %q: %w", rawURL, err)
	}
	q := u.Query()
	q.Set("name", p.Name)
	u.RawQuery = q.Encode()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("group socket %s: %w", rawURL, err)
	}
	ws.SetReadLimit(int64(protocol.MaxGroupFrameBytes))
	s := &groupSocket{jsonConn: newJSONConn(p, ws, "group socket"), upAnswer: make(chan string, 1)}
	welcome := make(chan struct{})
	go s.readLoop(welcome)
	if err := s.send(protocol.GroupMessage{Type: protocol.GroupJoin}); err != nil {
		s.close()
		return nil, err
	}
	select {
	case <-welcome:
		return s, nil
	case err := <-s.failed:
		s.close()
		return nil, err
	case <-ctx.Done():
		s.close()
		return nil, fmt.Errorf("waiting for welcome: %w", ctx.Err())
	}
}

func (s *groupSocket) readLoop(welcome chan struct{}) {
	defer close(s.done)
	for {
		var m protocol.GroupMessage
		if err := s.read(&m); err != nil {
			s.fail(err)
			return
		}
		switch {
		case m.Type == protocol.GroupWelcome && welcome != nil:
			close(welcome)
			welcome = nil
		case m.Type == protocol.GroupError:
			s.fail(fmt.Errorf("%s: error frame %s: %s", s.p.Name, m.Code, m.Message))
		case m.Type == protocol.GroupAnswer && m.PC == protocol.PCUp:
			s.upAnswer <- m.SDP
		case m.Type == protocol.GroupOffer && m.PC == protocol.PCDown:
			if err := s.answerDown(m.SDP); err != nil {
				s.fail(err)
			}
		}
	}
}

// answerDown answers the server's offer on the down connection, made at the first.
func (s *groupSocket) answerDown(offer string) error {
	if s.down == nil {
		pc, err := s.p.NewPeerConnection()
		if err != nil {
			return err
		}
		s.p.Subscribe(pc)
		s.down = pc
	}
	if err := s.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fmt.Errorf("%s: down offer: %w", s.p.Name, err)
	}
	answer, err := s.down.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("%s: down answer: %w", s.p.Name, err)
	}
	gathered := webrtc.GatheringCompletePromise(s.down)
	if err := s.down.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("%s: down answer: %w", s.p.Name, err)
	}
	if err := waitGathered(gathered); err != nil {
		return fmt.Errorf("%s: down answer: %w", s.p.Name, err)
	}
	return s.send(protocol.GroupMessage{Type: protocol.GroupAnswer, PC: protocol.PCDown, SDP: s.down.LocalDescription().SDP})
}

// publish offers the up connection and starts the media once it is answered.
func (s *groupSocket) publish(ctx context.Context) error {
	pc, err := s.p.NewPeerConnection()
	if err != nil {
		return err
	}
	s.up = pc
	if err := s.p.AddMedia(pc); err != nil {
		return err
	}
	sdp, err := gatheredOffer(pc)
	if err != nil {
		return fmt.Errorf("%s: up offer: %w", s.p.Name, err)
	}
	if err := s.send(protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: sdp}); err != nil {
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
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("%s: up answer: %w", s.p.Name, err)
	}
	s.p.StartMedia()
	return nil
}

func (s *groupSocket) close() {
	_ = s.send(protocol.GroupMessage{Type: protocol.GroupBye})
	s.shut()
}

// waitGathered bounds ICE gathering, which a PeerConnection closed meanwhile never ends.
func waitGathered(gathered <-chan struct{}) error {
	select {
	case <-gathered:
		return nil
	case <-time.After(20 * time.Second):
		return errors.New("ICE gathering took over 20 s")
	}
}
