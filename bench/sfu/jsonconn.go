package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v3"
)

// gatheredOffer makes pc's offer and returns it with every candidate gathered, as both
// servers' up connections want it.
func gatheredOffer(pc *webrtc.PeerConnection) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	if err := waitGathered(gathered); err != nil {
		return "", err
	}
	return pc.LocalDescription().SDP, nil
}

// jsonConn is the WebSocket of JSON frames a load participant speaks to a server, onertc's
// group socket or Galène's: writes one at a time with a deadline, the first failure kept
// for whoever waits on the session, done closed when the reader ends.
type jsonConn struct {
	p      *Participant
	ws     *websocket.Conn
	what   string // names the socket in errors
	wmu    sync.Mutex
	failed chan error
	done   chan struct{}
}

func newJSONConn(p *Participant, ws *websocket.Conn, what string) jsonConn {
	return jsonConn{p: p, ws: ws, what: what, failed: make(chan error, 1), done: make(chan struct{})}
}

func (c *jsonConn) send(m any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteJSON(m); err != nil {
		return fmt.Errorf("%s: %s write: %w", c.p.Name, c.what, err)
	}
	return nil
}

// read reads the next frame into m; its error says whose socket failed.
func (c *jsonConn) read(m any) error {
	if err := c.ws.ReadJSON(m); err != nil {
		return fmt.Errorf("%s: %s: %w", c.p.Name, c.what, err)
	}
	return nil
}

// fail keeps the session's first failure.
func (c *jsonConn) fail(err error) {
	select {
	case c.failed <- err:
	default:
	}
}

// shut closes the socket and waits a while for the reader to end.
func (c *jsonConn) shut() {
	c.wmu.Lock()
	_ = c.ws.Close()
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		// The reader is stuck in an answer; the participant's Close ends it.
	}
}
