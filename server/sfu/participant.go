package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v3"
	"golang.org/x/time/rate"

	"github.com/onertc/onertc/protocol"
)

// participant is one socket of a group room and the two PeerConnections it drives.
type participant struct {
	sfu    *SFU
	roomID string
	id     string
	name   string
	log    *slog.Logger
	ws     *websocket.Conn
	room   *room // set at join, under SFU.mu

	queue      chan outFrame
	quit       chan struct{} // closed to stop the writer
	quitOnce   sync.Once
	writerDone chan struct{}
	replaced   atomic.Bool // another socket of the same id took this one's place
	up         atomic.Pointer[webrtc.PeerConnection]
	wg         sync.WaitGroup // media goroutines; Add only under mu while !gone

	// mu guards what follows. It is never held while taking a downTrack's mu or another
	// participant's mu.
	mu          sync.Mutex
	joined      bool
	gone        bool
	muted       bool
	cameraOff   bool
	pubs        []*publication
	down        *webrtc.PeerConnection
	downs       map[*publication]*downTrack
	downUp      bool // the down connection is connected
	negotiating bool // a down offer waits for its answer
	again       bool // something changed while negotiating
	estimate    uint64
	views       map[string]view
	screenMid   string // the up section the participant names as its screen share
}

type view struct{ w, h int }

type outFrame struct {
	data       []byte
	closeAfter bool
}

func newParticipant(s *SFU, ws *websocket.Conn, roomID, id, name, remote string) *participant {
	return &participant{
		sfu: s, ws: ws, roomID: roomID, id: id, name: name,
		log:        s.log.With("room", roomID, "client", id, "remote", remote),
		queue:      make(chan outFrame, s.cfg.SendQueue),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
		downs:      make(map[*publication]*downTrack),
		views:      make(map[string]view),
	}
}

// serve runs the participant until its socket ends, then removes it from the room.
func (p *participant) serve() {
	go p.writeLoop()
	p.readLoop()
	p.finish()
	p.kill()
	<-p.writerDone
}

func (p *participant) kill() { p.quitOnce.Do(func() { close(p.quit) }) }

func (p *participant) encode(m protocol.GroupMessage) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		p.log.Error("group frame not encoded", "type", m.Type, "err", err)
		return nil
	}
	return b
}

// send queues m for the writer. A socket that lets its queue fill is too slow to follow
// the room and is closed.
func (p *participant) send(m protocol.GroupMessage) {
	b := p.encode(m)
	if b == nil {
		return
	}
	select {
	case p.queue <- outFrame{data: b}:
	default:
		p.log.Info("group socket too slow, closing", "queued", len(p.queue))
		p.kill()
	}
}

// closeWith sends m, then closes the socket.
func (p *participant) closeWith(m protocol.GroupMessage) {
	b := p.encode(m)
	select {
	case p.queue <- outFrame{data: b, closeAfter: true}:
	default:
		p.kill()
	}
}

func (p *participant) fail(code, text string) {
	p.sfu.counters.errorFrames.Add(1)
	p.send(protocol.GroupMessage{Type: protocol.GroupError, Code: code, Message: text})
}

func (p *participant) failAndClose(code, text string) {
	p.sfu.counters.errorFrames.Add(1)
	p.closeWith(protocol.GroupMessage{Type: protocol.GroupError, Code: code, Message: text})
}

// writeLoop is the socket's only writer.
func (p *participant) writeLoop() {
	defer close(p.writerDone)
	defer p.ws.Close()
	ping := time.NewTicker(p.sfu.cfg.PingInterval)
	defer ping.Stop()
	write := func(kind int, data []byte) error {
		if err := p.ws.SetWriteDeadline(time.Now().Add(p.sfu.cfg.WriteTimeout)); err != nil {
			return err
		}
		return p.ws.WriteMessage(kind, data)
	}
	for {
		select {
		case f := <-p.queue:
			if f.data != nil {
				if err := write(websocket.TextMessage, f.data); err != nil {
					p.log.Debug("group socket write failed", "err", err)
					return
				}
			}
			if f.closeAfter {
				_ = write(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				return
			}
		case <-ping.C:
			if err := write(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-p.quit:
			_ = write(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return
		}
	}
}

func (p *participant) readLoop() {
	cfg := p.sfu.cfg
	p.ws.SetReadLimit(protocol.MaxGroupFrameBytes)
	deadline := func() { _ = p.ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout)) }
	deadline()
	p.ws.SetPongHandler(func(string) error { deadline(); return nil })
	limiter := rate.NewLimiter(rate.Limit(cfg.MessagesPerSecond), cfg.MessageBurst)
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				p.failAndClose(protocol.GroupErrTooLarge, fmt.Sprintf("frame over %d bytes", protocol.MaxGroupFrameBytes))
			}
			return
		}
		deadline()
		if !limiter.Allow() {
			p.failAndClose(protocol.GroupErrRate, "too many frames")
			return
		}
		m, err := protocol.ParseGroupMessage(data)
		if err != nil {
			var ge *protocol.GroupFrameError
			if errors.As(err, &ge) {
				p.fail(ge.Code, ge.Reason)
			} else {
				p.fail(protocol.GroupErrMalformed, err.Error())
			}
			continue
		}
		if !p.handle(m) {
			return
		}
	}
}

// handle acts on one frame and reports whether to keep reading.
func (p *participant) handle(m protocol.GroupMessage) bool {
	p.mu.Lock()
	joined := p.joined
	p.mu.Unlock()
	if m.Type == protocol.GroupBye {
		return false
	}
	if m.Type == protocol.GroupJoin {
		if joined {
			p.fail(protocol.GroupErrBadField, "already joined")
			return true
		}
		return p.join()
	}
	if !joined {
		p.fail(protocol.GroupErrNotJoined, "send join first")
		return true
	}
	switch m.Type {
	case protocol.GroupOffer:
		p.mu.Lock()
		p.screenMid = m.Screen
		p.mu.Unlock()
		p.handleOffer(m.SDP)
	case protocol.GroupAnswer:
		p.handleAnswer(m.SDP)
	case protocol.GroupCandidate:
		p.handleCandidate(m.PC, m.Candidate)
	case protocol.GroupView:
		members := p.sfu.members(p.room)
		p.mu.Lock()
		if _, known := p.views[m.Participant]; !known && len(p.views) >= protocol.MaxGroupSize {
			// Forget the tiles of those who left; the map stays bounded by the room.
			for id := range p.views {
				if !slices.ContainsFunc(members, func(q *participant) bool { return q.id == id }) {
					delete(p.views, id)
				}
			}
		}
		if len(p.views) < protocol.MaxGroupSize {
			p.views[m.Participant] = view{m.Width, m.Height}
		}
		p.mu.Unlock()
	case protocol.GroupState:
		p.mu.Lock()
		if m.Muted != nil {
			p.muted = *m.Muted
		}
		if m.CameraOff != nil {
			p.cameraOff = *m.CameraOff
		}
		p.mu.Unlock()
		p.room.announceParticipants()
	}
	return true
}

func (p *participant) join() bool {
	rm, others, err := p.sfu.join(p)
	switch {
	case errors.Is(err, ErrRoomFull), errors.Is(err, ErrServerFull):
		p.failAndClose(protocol.GroupErrFull, err.Error())
		return false
	case errors.Is(err, ErrClosed):
		p.failAndClose(protocol.GroupErrClosing, "the server is shutting down")
		return false
	case err != nil:
		p.failAndClose(protocol.GroupErrInternal, "join failed")
		return false
	}
	down, err := p.newDownPC()
	p.mu.Lock()
	p.joined = true
	p.down = down
	p.mu.Unlock()
	if err != nil {
		p.log.Error("down connection not created", "err", err)
		p.failAndClose(protocol.GroupErrInternal, "connection setup failed")
		return false
	}
	p.log.Info("joined group room")
	p.send(protocol.GroupMessage{Type: protocol.GroupWelcome, ID: p.id, Participants: rm.list()})
	rm.broadcast(protocol.GroupMessage{Type: protocol.GroupParticipants, Participants: rm.list()}, p)
	added := false
	for _, q := range others {
		for _, pub := range q.publications() {
			added = p.subscribe(pub) || added
		}
	}
	if added {
		p.negotiate()
	}
	return true
}

func (p *participant) describe() protocol.GroupParticipant {
	p.mu.Lock()
	defer p.mu.Unlock()
	return protocol.GroupParticipant{ID: p.id, Name: p.name, Muted: p.muted, CameraOff: p.cameraOff}
}

func (p *participant) publications() []*publication {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*publication(nil), p.pubs...)
}

func (p *participant) subscriptions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.downs)
}

func (p *participant) upPC() *webrtc.PeerConnection { return p.up.Load() }

func (p *participant) setEstimate(bps uint64) {
	p.mu.Lock()
	p.estimate = bps
	p.mu.Unlock()
}

// finish takes the participant out of its room and ends its media.
func (p *participant) finish() {
	p.mu.Lock()
	joined := p.joined
	p.gone = true
	downs := p.downs
	p.downs = map[*publication]*downTrack{}
	down := p.down
	p.mu.Unlock()
	if !joined {
		return
	}
	removed := p.sfu.leave(p)
	for _, d := range downs {
		d.pub.removeDown(d)
		d.close()
	}
	if up := p.up.Load(); up != nil {
		if err := up.Close(); err != nil {
			p.log.Debug("up connection close", "err", err)
		}
	}
	if down != nil {
		if err := down.Close(); err != nil {
			p.log.Debug("down connection close", "err", err)
		}
	}
	// The publications end with their readers, which unsubscribe everyone from them.
	p.wg.Wait()
	if removed {
		p.room.forgetSpeaker(p.id)
		p.room.announceParticipants()
	}
	p.log.Info("left group room", "replaced", p.replaced.Load())
}

// gatherTimeout bounds the wait for local candidates: with the UDP mux there is nothing to
// wait for, so reaching it means something is wrong.
const gatherTimeout = 5 * time.Second

func waitGathering(pc *webrtc.PeerConnection) error {
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	select {
	case <-webrtc.GatheringCompletePromise(pc):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ICE gathering: %w", ctx.Err())
	}
}
