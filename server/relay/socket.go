package relay

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/relaystate"
)

// socket is one /ws connection: a reader goroutine that handles register and send, and at
// most one writer goroutine, started when there is something to write and gone when there
// is not, so an idle socket holds a single goroutine.
//
// Writing and confirming. A message stays in its recipient's queue in the State until a pong
// answers a ping written after it (so a connection that died unnoticed loses nothing: its
// unconfirmed messages are written again on the client's next socket). That guarantee is not
// paid per message:
//   - the writer fetches every unwritten message it can (a burst), builds their frames, the
//     pongs it owes and, when one is due, a ping into one buffer and writes it with one
//     syscall (wire.go builds the frames);
//   - a ping is due when ConfirmBatch messages were written since the last ping, or at the
//     keepalive interval; ConfirmDelay after the first message written after the last ping
//     (pinger is then armed for it) the next burst carries one, and one more ConfirmDelay
//     without a burst sends it alone. Its payload is the queue index written up to, so one
//     pong confirms every message of the bursts before it;
//   - a pong is left to the writer: its next fetch trims the queue in the same call
//     (State.Fetch), so confirmations cost no call of their own while messages come (with
//     Redis: no round trip; a saturated socket there did one per burst, a paced one one
//     per message). A pong that came while the writer was idle is trimmed on its own when
//     no message woke the writer within trimDelay (trimDue). What is left
//     when the reader ends is trimmed then (detach), so that a client that reconnects is
//     not written again what it confirmed.
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

	// Set by the reader at register, before the socket is published in Relay.clients,
	// and never changed after: the client it is registered for and its name in the State.
	roomID, clientID, owner string
	registered              bool
	// replaced: another socket registered for the client since; its frames are refused.
	replaced atomic.Bool

	// mu guards the fields below; it is this socket's alone, never taken for another.
	mu sync.Mutex
	// removed: the client left its room while its socket drains; nothing more is fetched.
	removed bool
	// direct holds frames for this socket alone (errors), written before any message.
	direct []directFrame
	// pongs holds the payloads of the client's pings, answered with the next burst.
	pongs [][]byte
	// written, confirmed and pinged are absolute indexes into the client's queue: up to
	// where this socket has written, had it confirmed by a pong, and pinged. acked is up to
	// where a pong confirmed it, and trimming up to where the writer last asked the State
	// to trim (acked > trimming: its next fetch carries it); confirmed is what the State
	// has trimmed.
	written, confirmed, pinged int64
	acked, trimming            int64
	// woken: the queue may hold messages not yet written, since wokenAt (time since the
	// relay started, for Config.OnDelivered).
	woken        bool
	wokenAt      time.Duration
	writing      bool // a writer goroutine is running
	pingDue      bool
	pingWanted   bool // the next burst of messages carries a ping
	confirmArmed bool // pinger is set to ConfirmDelay for written messages
	// trimTimer runs trimDue one ConfirmDelay after a pong that came while the writer was
	// idle.
	trimTimer *time.Timer
	trimArmed bool
	closeReq  bool
	closeCode int
	closeText string
	finished  bool // dead has been closed
}

type directFrame struct {
	frame []byte
	// closeAfter closes the socket once the frame is written.
	closeAfter bool
}

// kickLocked makes sure a writer runs. Called with s.mu held.
func (s *socket) kickLocked() {
	if s.writing || s.finished {
		return
	}
	s.writing = true
	go s.writeLoop()
}

// closeWith asks the writer to send a close frame and end the connection.
func (s *socket) closeWith(code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// failLocked sends errText to this socket and closes it when closeAfter is set. Called
// with s.mu held.
func (s *socket) failLocked(errText string, closeAfter bool) {
	s.direct = append(s.direct, directFrame{frame: encodeFrame("", errText), closeAfter: closeAfter})
	s.kickLocked()
}

func (s *socket) fail(errText string, closeAfter bool) {
	s.mu.Lock()
	s.failLocked(errText, closeAfter)
	s.mu.Unlock()
}

// replace closes a socket whose client registered on another socket.
func (s *socket) replace() { s.replaceWith(protocol.ErrTextDuplicateClient) }

func (s *socket) replaceWith(errText string) {
	s.replaced.Store(true)
	s.fail(errText, true)
}

// wake has the writer read the client's queue.
func (s *socket) wake() {
	s.mu.Lock()
	s.wakeLocked()
	s.mu.Unlock()
}

func (s *socket) wakeLocked() {
	if !s.woken {
		s.woken, s.wokenAt = true, time.Since(s.relay.started)
	}
	s.kickLocked()
}

// pending is how many messages this socket wrote that wait for their confirmation, plus
// one when its queue may hold more to write.
func (s *socket) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int(s.written - s.confirmed)
	if s.woken && !s.removed {
		n++
	}
	return n
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
		s.mu.Lock()
		if len(s.pongs) < 16 {
			s.pongs = append(s.pongs, []byte(payload))
			s.kickLocked()
		}
		s.mu.Unlock()
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
		return s.register(ctx, req.RoomID, req.ClientID)
	case protocol.CmdSend:
		// The reader wrote registered itself; replaced is set by a takeover.
		if !s.registered || s.replaced.Load() {
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
		if err := r.send(ctx, s.roomID, s.clientID, req.Msg, true); err != nil {
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

// refusal is why a register cannot be taken, or "". Called by the reader.
func (s *socket) refusal(roomID, clientID string) string {
	switch {
	case s.registered:
		return protocol.ErrTextDuplicateRegister
	case roomID == "" || clientID == "":
		return protocol.ErrTextInvalidRegister
	case !protocol.ValidID(roomID) || !protocol.ValidID(clientID):
		return "Invalid register request: bad 'clientid' or 'roomid'"
	case s.relay.isClosed():
		return ErrClosed.Error()
	}
	return ""
}

// maxBurstBytes bounds the frames one write carries; a single larger message still goes
// out whole.
const maxBurstBytes = 64 << 10

// wroteLocked records that n more queued messages are about to be written and reports the
// ping payload to write after them (nil: no ping in this burst). Called with s.mu held.
func (s *socket) wroteLocked(n int) (ping []byte) {
	s.written += int64(n)
	if s.pingDue || n > 0 && s.pingWanted || s.written-s.pinged >= int64(s.relay.cfg.ConfirmBatch) {
		s.pingDue, s.pingWanted = false, false
		if s.confirmArmed && !s.finished {
			s.confirmArmed = false
			s.pinger.Reset(s.relay.cfg.PingInterval)
		}
		s.pinged = s.written
		return strconv.AppendInt(nil, s.written, 10)
	}
	if s.written > s.pinged && !s.confirmArmed && !s.finished {
		s.confirmArmed = true
		s.pinger.Reset(s.relay.cfg.ConfirmDelay)
	}
	return nil
}

// confirm handles a pong: the client has read every message written before the ping it
// answers, so they leave its queue in the State, in the writer's next fetch: the one it
// makes anyway when it runs or the next message wakes it, or else trimDelay later
// (trimDue), so a pong costs no State call of its own while messages keep coming. Pongs
// of a replaced socket confirm nothing; its messages are written again on the new one.
func (s *socket) confirm(payload string) {
	upto, err := strconv.ParseInt(payload, 10, 64)
	if err != nil || !s.registered {
		return
	}
	s.mu.Lock()
	stale := s.removed || upto <= s.acked || upto > s.written
	if !stale {
		s.acked = upto
	}
	// The writer, running, sees acked before it stops (see writeLoop).
	if !stale && !(s.writing && !s.finished) && !s.trimArmed {
		s.trimArmed = true
		if s.trimTimer == nil {
			s.trimTimer = time.AfterFunc(trimDelay, s.trimDue)
		} else {
			s.trimTimer.Reset(trimDelay)
		}
	}
	s.mu.Unlock()
}

// trimDelay is how long a confirmation waits for a fetch to carry it: longer than the
// gaps between a call's messages (a few a second while it is set up), short enough to
// keep the window of section 5.3 of docs/protocol.md small.
const trimDelay = time.Second

// trimDue trims what no fetch has carried since the pong.
func (s *socket) trimDue() {
	s.mu.Lock()
	s.trimArmed = false
	s.mu.Unlock()
	s.trim()
}

// trim has the State drop what the client confirmed and the writer has not trimmed. Called
// by trimDue and the reader's end, without s.mu.
func (s *socket) trim() {
	s.mu.Lock()
	upto := s.acked
	pending := upto > s.confirmed && !s.removed
	s.mu.Unlock()
	if !pending || s.replaced.Load() {
		return
	}
	err := s.relay.cfg.State.Confirm(context.Background(), s.roomID, s.clientID, s.owner, upto)
	s.trimmed(upto, "confirm", err)
}

// trimmed records the outcome of a trim up to upto (step names it for the error count).
func (s *socket) trimmed(upto int64, step string, err error) {
	r := s.relay
	switch {
	case ownershipLost(err):
		s.lostOwnership(err)
		return
	case err != nil:
		// Not trimmed: the messages stay pending, and the next trim of this socket (a
		// later pong, the reader's end) trims them too.
		r.cfg.Errors.Add(errcount.RelayRetry, err, "step", step, "room", s.roomID, "client", s.clientID)
		return
	}
	s.mu.Lock()
	n := max(upto-s.confirmed, 0)
	s.confirmed = max(s.confirmed, upto)
	s.mu.Unlock()
	r.stats.relayed.Add(n)
}

// fetch reads the client's queue from index from for the writer, trimming it up to trim
// first. Called without s.mu.
func (s *socket) fetch(trim, from int64) (int64, []string) {
	at, msgs, err := s.relay.cfg.State.Fetch(context.Background(), s.roomID, s.clientID, s.owner, trim, from, fetchBatch)
	// The state is out of reach for longer than it holds on: the messages wait there, and
	// the next wake-up (a message, the state's resync, the keepalive) reads them.
	s.trimmed(trim, "fetch", err)
	if err != nil {
		return from, nil
	}
	return at, msgs
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
		s.mu.Lock()
		if s.closeReq {
			code, text := s.closeCode, s.closeText
			s.mu.Unlock()
			s.writeClose(code, text)
			return
		}
		direct, pongs := s.direct, s.pongs
		s.direct, s.pongs = nil, nil
		closeAfter := false
		for _, d := range direct {
			closeAfter = closeAfter || d.closeAfter
		}
		// A socket that ends with this burst writes no messages: they wait for the next
		// (and what its client confirmed is trimmed by the reader's end). A fetch also
		// trims what a pong confirmed since the last one.
		canFetch := s.registered && !s.removed && !closeAfter
		fetch := canFetch && (s.woken || s.acked > s.trimming)
		if !fetch && len(direct) == 0 && len(pongs) == 0 && !s.pingDue {
			s.writing = false
			s.mu.Unlock()
			return
		}
		from, wokenAt, trim := s.written, s.wokenAt, s.confirmed
		if fetch && !s.woken {
			// Fetched for a trim: what it finds was queued just now, its wake-up on
			// the way.
			wokenAt = time.Since(r.started)
		}
		if fetch {
			s.woken = false
			trim, s.trimming = s.acked, s.acked
			if s.trimArmed {
				s.trimArmed = false
				s.trimTimer.Stop()
			}
		}
		s.mu.Unlock()

		var msgs []string
		if fetch && !s.replaced.Load() {
			var at int64
			at, msgs = s.fetch(trim, from)
			s.mu.Lock()
			s.written = at
			if len(msgs) == fetchBatch {
				s.wakeLocked() // more wait
			}
		} else {
			s.mu.Lock()
		}
		ping := s.wroteLocked(len(msgs))
		s.mu.Unlock()

		b := (*bufp)[:0]
		for _, p := range pongs {
			b = appendFrame(b, opPong, p)
		}
		for _, d := range direct {
			b = appendFrame(b, opText, d.frame)
			if d.closeAfter {
				break
			}
		}
		for _, m := range msgs {
			if len(b) >= maxBurstBytes {
				if err := write(b); err != nil {
					s.finish()
					return
				}
				b = b[:0]
			}
			b = appendMessageFrame(b, m)
		}
		if ping != nil {
			b = appendFrame(b, opPing, ping)
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
		if r.cfg.OnDelivered != nil && len(msgs) > 0 {
			d := time.Since(r.started) - wokenAt
			for range msgs {
				r.cfg.OnDelivered(d)
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
	s.mu.Lock()
	s.writing = false
	already := s.finished
	s.finished = true
	s.mu.Unlock()
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
	mine := r.unregisterLocked(s)
	r.mu.Unlock()
	if mine {
		// What the client confirmed leaves its queue before it goes offline, should the
		// writer's fetch that was to trim it not come (a client that reconnects must not
		// be written it again). A trim the writer makes meanwhile does the same.
		s.trim()
		// Even when this instance stops: the client re-registers on another one.
		err := r.cfg.State.Detach(context.Background(), s.roomID, s.clientID, s.owner)
		if err != nil && !errors.Is(err, relaystate.ErrNotOwner) {
			r.cfg.Errors.Add(errcount.RelayRetry, err, "step", "detach", "room", s.roomID, "client", s.clientID)
		}
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
