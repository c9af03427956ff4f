package relay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/onertc/onertc/protocol"
)

// socket is one /ws connection: a reader goroutine that handles register and send, and at
// most one writer goroutine, started when there is something to write and gone when there
// is not, so an idle socket holds a single goroutine.
//
// Writing and confirming. A message stays in its recipient's inbox until a pong answers a
// ping written after it (so a connection that died unnoticed loses nothing: its unconfirmed
// messages are written again on the client's next socket). That guarantee is not paid per
// message:
//   - the writer takes every unwritten message it can (a burst), builds their frames, the
//     pongs it owes and, when one is due, a ping into one buffer and writes it with one
//     syscall (wire.go builds the frames);
//   - a ping is due when ConfirmBatch messages were written since the last ping, or at the
//     keepalive interval; ConfirmDelay after the first message written after the last ping
//     (pinger is then armed for it) the next burst carries one, and one more ConfirmDelay
//     without a burst sends it alone. Its payload is the count of messages
//     written, so one pong confirms every message of the bursts before it.
//
// The inbox (the client's window on its queue in the State) and its counters are guarded by
// Relay.mu; everything here only decides when the socket writes and pings.
type socket struct {
	key    string // ClientKey of the peer, for the per-IP cap
	relay  *Relay
	ws     *websocket.Conn // read side only: the writer writes to conn itself
	conn   net.Conn
	log    *slog.Logger
	limits *rate.Limiter
	// pinger fires at the keepalive interval, or sooner (ConfirmDelay) when written
	// messages wait for a ping.
	pinger *time.Timer
	// dead is closed by the writer when the connection is finished.
	dead chan struct{}
	// readDeadline is when the read deadline was last pushed back (reader goroutine only);
	// writeDeadline the same for the write deadline (the writer's, one at a time).
	readDeadline, writeDeadline time.Time

	// owner names this socket in the State; set at register.
	owner string

	// Guarded by Relay.mu.
	client *client
	// direct holds frames for this socket alone (errors), written before any message.
	direct []directFrame
	// pongs holds the payloads of the client's pings, answered with the next burst.
	pongs [][]byte
	// written and confirmed count the client's inbox messages this socket has written,
	// and of those the ones a pong has confirmed; pinged is written as of the last ping;
	// gen is the client's inboxGen they refer to.
	written, confirmed, pinged uint64
	gen                        int
	writing                    bool // a writer goroutine is running
	pingDue                    bool
	pingWanted                 bool // the next burst of messages carries a ping
	confirmArmed               bool // pinger is set to ConfirmDelay for written messages
	closeReq                   bool
	closeCode                  int
	closeText                  string
	finished                   bool // dead has been closed
}

type directFrame struct {
	frame []byte
	// closeAfter closes the socket once the frame is written.
	closeAfter bool
}

// kickLocked makes sure a writer runs. Called with Relay.mu held.
func (s *socket) kickLocked() {
	if s.writing || s.finished {
		return
	}
	s.writing = true
	go s.writeLoop()
}

// closeWith asks the writer to send a close frame and end the connection.
func (s *socket) closeWith(code int, text string) {
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	if s.closeReq {
		return
	}
	s.closeReq, s.closeCode, s.closeText = true, code, text
	s.kickLocked()
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
	s.kickLocked()
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
	// Pushing the deadline back costs a runtime timer update: it is done when a sixteenth
	// of PongTimeout has gone by, not on every frame.
	deadline := func() {
		if now := time.Now(); now.Sub(s.readDeadline) > r.cfg.PongTimeout/16 {
			s.readDeadline = now
			_ = s.ws.SetReadDeadline(now.Add(r.cfg.PongTimeout))
		}
	}
	deadline()
	s.ws.SetPongHandler(func(payload string) error {
		deadline()
		s.confirm(payload)
		return nil
	})
	// Pings are answered and a close frame is acknowledged by the writer, the connection's
	// only writer.
	s.ws.SetPingHandler(func(payload string) error {
		deadline()
		r.mu.Lock()
		if len(s.pongs) < 16 {
			s.pongs = append(s.pongs, []byte(payload))
			s.kickLocked()
		}
		r.mu.Unlock()
		return nil
	})
	s.ws.SetCloseHandler(func(int, string) error { return nil })
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
	req, err := decodeRequest(data)
	if err != nil {
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
		// A socket is its client's own: after a DELETE its last frames still count.
		if err := r.send(ctx, c.room.id, c.id, req.Msg, true); err != nil {
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

// refusalLocked is why a register cannot be taken, or "". Called with Relay.mu held.
func (s *socket) refusalLocked(roomID, clientID string) string {
	switch {
	case s.client != nil:
		return protocol.ErrTextDuplicateRegister
	case roomID == "" || clientID == "":
		return protocol.ErrTextInvalidRegister
	case !protocol.ValidID(roomID) || !protocol.ValidID(clientID):
		return "Invalid register request: bad 'clientid' or 'roomid'"
	case s.relay.closed:
		return ErrClosed.Error()
	}
	return ""
}

// maxBurstBytes bounds the frames one write carries; a single larger message still goes
// out whole.
const maxBurstBytes = 64 << 10

// takeLocked returns the next frames to write: this socket's own frames first, then the
// client's inbox messages this socket has not written yet, up to maxBurstBytes. Called
// with Relay.mu held.
func (s *socket) takeLocked() (direct []directFrame, msgs []queued) {
	direct, s.direct = s.direct, nil
	c := s.client
	if c == nil || c.sock != s || c.inboxGen != s.gen {
		return direct, nil
	}
	first := int(s.written - s.confirmed)
	end, size := first, 0
	for end < len(c.inbox) && (end == first || size+len(c.inbox[end].msg) <= maxBurstBytes) {
		size += len(c.inbox[end].msg)
		end++
	}
	return direct, c.inbox[first:end:end]
}

// wroteLocked records that n more inbox messages are about to be written and reports the
// ping payload to write after them (nil: no ping in this burst). Called with Relay.mu held.
func (s *socket) wroteLocked(n int) (ping []byte) {
	s.written += uint64(n)
	if s.pingDue || n > 0 && s.pingWanted || s.written-s.pinged >= uint64(s.relay.cfg.ConfirmBatch) {
		s.pingDue, s.pingWanted = false, false
		if s.confirmArmed && !s.finished {
			s.confirmArmed = false
			s.pinger.Reset(s.relay.cfg.PingInterval)
		}
		s.pinged = s.written
		return strconv.AppendUint(nil, s.written, 10)
	}
	if s.written > s.pinged && !s.confirmArmed && !s.finished {
		s.confirmArmed = true
		s.pinger.Reset(s.relay.cfg.ConfirmDelay)
	}
	return nil
}

// confirm handles a pong: the client has read every message written before the ping it
// answers, so they leave the inbox. Pongs of a replaced socket confirm nothing; its
// messages are written again on the new one.
func (s *socket) confirm(payload string) {
	upto, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return
	}
	r := s.relay
	r.mu.Lock()
	c := s.client
	stale := func() bool {
		return c == nil || s.client != c || c.sock != s || c.inboxGen != s.gen || upto <= s.confirmed || upto > s.written
	}
	if stale() {
		r.mu.Unlock()
		return
	}
	// The queue in the State is trimmed first: until it is, the messages count as pending,
	// and another socket of the client would get them again.
	head := c.head + int64(upto-s.confirmed)
	r.mu.Unlock()
	if !s.confirmState(c, head) {
		return
	}
	r.mu.Lock()
	if stale() {
		r.mu.Unlock()
		return
	}
	n := int(upto - s.confirmed)
	for _, m := range c.inbox[:n] {
		c.inboxBytes -= len(m.msg)
	}
	c.inbox = c.inbox[n:]
	if len(c.inbox) == 0 {
		c.inbox = nil
	}
	s.confirmed = upto
	c.head += int64(n)
	r.mu.Unlock()
	r.stats.relayed.Add(int64(n))
}

var burstPool = sync.Pool{New: func() any { return new([]byte) }}

// writeLoop writes what there is to write, a burst per syscall, then ends; kickLocked
// starts it again. It is the only writer of the connection.
func (s *socket) writeLoop() {
	r := s.relay
	bufp := burstPool.Get().(*[]byte)
	defer func() {
		if cap(*bufp) <= 4*maxBurstBytes {
			burstPool.Put(bufp)
		}
	}()
	write := func(b []byte) error {
		// Moving the deadline costs a runtime timer update: it is moved once half of
		// WriteTimeout has gone by, so a write has between half of it and all of it.
		if now := time.Now(); now.Sub(s.writeDeadline) > r.cfg.WriteTimeout/2 {
			s.writeDeadline = now
			_ = s.conn.SetWriteDeadline(now.Add(r.cfg.WriteTimeout))
		}
		_, err := s.conn.Write(b)
		return err
	}
	for {
		r.mu.Lock()
		if s.closeReq {
			code, text := s.closeCode, s.closeText
			r.mu.Unlock()
			s.writeClose(code, text)
			return
		}
		direct, msgs := s.takeLocked()
		for _, d := range direct {
			if d.closeAfter {
				msgs = nil // the socket ends with this burst: they wait for the next one
			}
		}
		pongs := s.pongs
		s.pongs = nil
		if len(direct) == 0 && len(msgs) == 0 && len(pongs) == 0 && !s.pingDue {
			s.writing = false
			r.mu.Unlock()
			return
		}
		ping := s.wroteLocked(len(msgs))
		r.mu.Unlock()

		b := (*bufp)[:0]
		for _, p := range pongs {
			b = appendFrame(b, opPong, p)
		}
		closeAfter := false
		for _, d := range direct {
			b = appendFrame(b, opText, d.frame)
			if d.closeAfter {
				closeAfter = true
				break
			}
		}
		if !closeAfter {
			for _, m := range msgs {
				b = appendMessageFrame(b, m.msg)
			}
			if ping != nil {
				b = appendFrame(b, opPing, ping)
			}
		}
		*bufp = b
		if err := write(b); err != nil {
			s.finish()
			return
		}
		if closeAfter {
			s.writeClose(websocket.CloseNormalClosure, "")
			return
		}
		if r.cfg.OnDelivered != nil {
			now := time.Since(r.started)
			for _, m := range msgs {
				r.cfg.OnDelivered(now - m.at)
			}
		}
	}
}

// writeClose sends a close frame and finishes the connection.
func (s *socket) writeClose(code int, text string) {
	_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = s.conn.Write(appendFrame(nil, opClose, websocket.FormatCloseMessage(code, text)))
	s.finish()
}

// finish closes the connection for good; the reader then ends too.
func (s *socket) finish() {
	s.relay.mu.Lock()
	s.writing = false
	already := s.finished
	s.finished = true
	s.relay.mu.Unlock()
	s.ws.Close()
	if !already {
		close(s.dead)
	}
}

// detach runs when the reader ends: the client goes offline and its grace period starts.
func (s *socket) detach() {
	r := s.relay
	r.mu.Lock()
	delete(r.sockets, s)
	r.releaseLocked(s.key)
	c := s.client
	mine := c != nil && c.sock == s
	if mine {
		c.sock = nil
		r.forgetLocked(c)
	}
	r.mu.Unlock()
	if mine {
		// Even when this instance stops: the client re-registers on another one.
		r.detachState(c.room.id, c.id, s.owner)
	}
	r.stats.openWS.Add(-1)
}

// releaseLocked gives back the places ServeWS counted for a socket from key.
func (r *Relay) releaseLocked(key string) {
	r.admitted--
	if r.perKey[key]--; r.perKey[key] <= 0 {
		delete(r.perKey, key)
	}
}
