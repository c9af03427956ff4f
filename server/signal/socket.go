package signal

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/onertc/onertc/protocol"
)

// socket is one /ws connection: a reader goroutine that handles register and send, and a
// writer goroutine that is the only one to write to the connection.
type socket struct {
	relay  *Relay
	ws     *websocket.Conn
	log    *slog.Logger
	wake   chan struct{}
	quit   chan struct{}
	limits *rate.Limiter

	// Guarded by Relay.mu.
	client *client
	// direct holds frames for this socket alone (errors), written before any message.
	direct []directFrame

	closeOnce sync.Once
	closeCode int
	closeText string
}

type directFrame struct {
	frame []byte
	// closeAfter closes the socket once the frame is written.
	closeAfter bool
}

func (s *socket) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// closeWith asks the writer to send a close frame and end the connection.
func (s *socket) closeWith(code int, text string) {
	s.closeOnce.Do(func() {
		s.closeCode, s.closeText = code, text
		close(s.quit)
	})
}

func encodeFrame(msg, errText string) []byte {
	b, err := json.Marshal(protocol.RelayFrame{Msg: msg, Error: errText})
	if err != nil {
		// Marshalling two strings cannot fail; a frame that could not be built is not sent.
		return nil
	}
	return b
}

// fail sends errText to this socket and closes it when closeAfter is set. Called with
// Relay.mu held.
func (s *socket) failLocked(errText string, closeAfter bool) {
	s.direct = append(s.direct, directFrame{frame: encodeFrame("", errText), closeAfter: closeAfter})
	s.wakeUp()
}

func (s *socket) fail(errText string, closeAfter bool) {
	s.relay.mu.Lock()
	s.failLocked(errText, closeAfter)
	s.relay.mu.Unlock()
}

// readLoop handles the client's frames until the connection ends. It reports failed when
// it stopped on a protocol error whose error frame the writer still has to send.
func (s *socket) readLoop(ctx context.Context) (failed bool) {
	r := s.relay
	s.ws.SetReadLimit(protocol.MaxFrameBytes)
	deadline := func() { _ = s.ws.SetReadDeadline(time.Now().Add(r.cfg.PongTimeout)) }
	deadline()
	s.ws.SetPongHandler(func(string) error { deadline(); return nil })
	for {
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
				!errors.Is(err, websocket.ErrReadLimit) {
				s.log.Debug("relay socket read ended", "err", err)
			}
			if errors.Is(err, websocket.ErrReadLimit) {
				r.stats.wsErrors.Add(1)
				s.log.Info("relay frame over the size limit", "limit", protocol.MaxFrameBytes)
			}
			return false
		}
		deadline()
		if !s.limits.Allow() {
			r.stats.wsErrors.Add(1)
			s.fail("Too many messages", true)
			return true
		}
		if !s.handle(ctx, data) {
			return true
		}
	}
}

// handle processes one frame and reports whether to keep reading.
func (s *socket) handle(ctx context.Context, data []byte) bool {
	r := s.relay
	var req protocol.RelayRequest
	if err := json.Unmarshal(data, &req); err != nil {
		r.stats.wsErrors.Add(1)
		s.fail("Invalid message: malformed JSON", true)
		return false
	}
	switch req.Cmd {
	case protocol.CmdRegister:
		return s.register(req.RoomID, req.ClientID)
	case protocol.CmdSend:
		r.mu.Lock()
		c := s.client
		r.mu.Unlock()
		if c == nil {
			r.stats.wsErrors.Add(1)
			s.fail(protocol.ErrTextNotRegistered, true)
			return false
		}
		if req.Msg == "" {
			r.stats.wsErrors.Add(1)
			s.fail(protocol.ErrTextMissingMsg, true)
			return false
		}
		if err := r.send(ctx, c, req.Msg); err != nil {
			// Queue full or too large: the sender is told, the socket stays usable.
			r.stats.wsErrors.Add(1)
			s.fail(err.Error(), false)
		}
		return true
	default:
		r.stats.wsErrors.Add(1)
		s.fail(protocol.ErrTextUnexpectedCmd, false)
		return true
	}
}

func (s *socket) register(roomID, clientID string) bool {
	r := s.relay
	r.mu.Lock()
	defer r.mu.Unlock()
	fail := func(text string) bool {
		r.stats.wsErrors.Add(1)
		s.failLocked(text, true)
		return false
	}
	switch {
	case s.client != nil:
		return fail(protocol.ErrTextDuplicateRegister)
	case roomID == "" || clientID == "":
		return fail(protocol.ErrTextInvalidRegister)
	case !protocol.ValidID(roomID) || !protocol.ValidID(clientID):
		return fail("Invalid register request: bad 'clientid' or 'roomid'")
	case r.closed:
		return fail(ErrClosed.Error())
	}
	c, err := r.lookup(roomID, clientID, true)
	if err != nil {
		return fail(protocol.ErrTextRoomFull)
	}
	if c.sock != nil {
		return fail(protocol.ErrTextDuplicateClient)
	}
	c.sock = s
	c.graceGen++ // disarms a running grace timer
	s.client = c
	s.log = s.log.With("room", roomID, "client", clientID)
	s.wakeUp()
	return true
}

// takeLocked returns the next frames to write: this socket's own frames first, then up to a
// batch of its client's inbox, marking the inbox in flight. Called with Relay.mu held.
func (s *socket) takeLocked() (direct []directFrame, msgs []string, gen int) {
	direct, s.direct = s.direct, nil
	c := s.client
	if c == nil || c.sock != s || c.inflight || len(c.inbox) == 0 {
		return direct, nil, 0
	}
	const batch = 64
	n := min(len(c.inbox), batch)
	msgs = c.inbox[:n:n]
	c.inflight = true
	return direct, msgs, c.inboxGen
}

// commitLocked ends an in-flight write of n inbox messages, of which written reached the
// socket. Called with Relay.mu held.
func (s *socket) commitLocked(c *client, gen, n, written int) {
	c.inflight = false
	if c.inboxGen == gen && written > 0 {
		for _, m := range c.inbox[:written] {
			c.inboxBytes -= len(m)
		}
		c.inbox = c.inbox[written:]
		if len(c.inbox) == 0 {
			c.inbox = nil
		}
		s.relay.stats.relayed.Add(int64(written))
	}
	// Wake whoever now holds the client's socket: the rest of the batch, or what came in
	// meanwhile, is theirs to write.
	if c.sock != nil && (len(c.inbox) > 0 || written < n) {
		c.sock.wakeUp()
	}
}

// writeLoop is the only writer of the connection.
func (s *socket) writeLoop() {
	r := s.relay
	ping := time.NewTicker(r.cfg.PingInterval)
	defer ping.Stop()
	defer s.ws.Close()
	write := func(kind int, data []byte) error {
		_ = s.ws.SetWriteDeadline(time.Now().Add(r.cfg.WriteTimeout))
		return s.ws.WriteMessage(kind, data)
	}
	for {
		select {
		case <-s.quit:
			msg := websocket.FormatCloseMessage(s.closeCode, s.closeText)
			_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return
		case <-ping.C:
			if err := s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(r.cfg.WriteTimeout)); err != nil {
				return
			}
			continue
		case <-s.wake:
		}
		for {
			r.mu.Lock()
			c := s.client
			direct, msgs, gen := s.takeLocked()
			r.mu.Unlock()
			if len(direct) == 0 && len(msgs) == 0 {
				break
			}
			for _, d := range direct {
				if err := write(websocket.TextMessage, d.frame); err != nil {
					s.abandon(c, gen, len(msgs), 0)
					return
				}
				if d.closeAfter {
					s.abandon(c, gen, len(msgs), 0)
					msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
					_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
					return
				}
			}
			written := 0
			for _, m := range msgs {
				if err := write(websocket.TextMessage, encodeFrame(m, "")); err != nil {
					break
				}
				written++
			}
			if len(msgs) > 0 {
				r.mu.Lock()
				s.commitLocked(c, gen, len(msgs), written)
				r.mu.Unlock()
			}
			if written < len(msgs) {
				return
			}
		}
	}
}

func (s *socket) abandon(c *client, gen, n, written int) {
	if n == 0 {
		return
	}
	s.relay.mu.Lock()
	s.commitLocked(c, gen, n, written)
	s.relay.mu.Unlock()
}

// detach runs when the reader ends: the client goes offline and its grace period starts.
func (s *socket) detach() {
	r := s.relay
	r.mu.Lock()
	delete(r.sockets, s)
	c := s.client
	if c != nil && c.sock == s {
		c.sock = nil
		if !c.removed && !r.closed {
			r.startGrace(c)
		}
	}
	r.mu.Unlock()
	r.stats.openWS.Add(-1)
}
