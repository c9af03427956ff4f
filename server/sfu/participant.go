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

// participant is one member of a group room: its socket (which a reconnecting client may
// replace, see attach) and the two PeerConnections it drives.
type participant struct {
	sfu    *SFU
	roomID string
	id     string
	name   string
	log    *slog.Logger
	room   *room // set at join, under SFU.mu

	sock     atomic.Pointer[sock] // the socket serving it now
	resumed  chan struct{}        // signalled when a new socket attaches
	replaced atomic.Bool          // another socket of the same id took this one's place
	up       atomic.Pointer[webrtc.PeerConnection]
	wg       sync.WaitGroup // media goroutines; Add only under mu while !gone

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
	downUp      bool      // the down connection is connected
	negotiating bool      // a down offer waits for its answer
	offeredAt   time.Time // when that offer was last sent
	again       bool      // something changed while negotiating
	offerGen    int       // down offers made
	answeredGen int       // the last of them answered
	estimate    uint64    // the last REMB
	rembAt      time.Time
	loss        lossEstimator // from receiver reports, for clients that send no REMB
	lossBps     uint64
	views       map[string]view
	screenMid   string // the up section the participant names as its screen share
}

type view struct{ w, h int }

func newParticipant(s *SFU, roomID, id, name, remote string) *participant {
	return &participant{
		sfu: s, roomID: roomID, id: id, name: name,
		log:     s.log.With("room", roomID, "client", id, "remote", remote),
		resumed: make(chan struct{}, 1),
		downs:   make(map[*publication]*downTrack),
		views:   make(map[string]view),
	}
}

// serve runs socket so until it ends. The socket starts as p's; a join that resumes hands
// it to the participant it resumes. Then the participant the socket served last either
// waits out the grace period for a new socket (when the connection died) or leaves.
func (p *participant) serve(so *sock) {
	p.sock.Store(so)
	go so.writeLoop(p.sfu.cfg)
	cur := p
	for {
		next := cur.readLoop(so)
		if next == nil {
			break
		}
		cur = next
	}
	so.kill()
	<-so.done
	cur.ended(so)
}

// ended decides what the end of socket so means for p.
func (p *participant) ended(so *sock) {
	if p.sock.Load() != so {
		return // a newer socket serves p
	}
	p.mu.Lock()
	linger := p.joined && !p.gone && !p.replaced.Load() && !so.byServer.Load() && !so.bye.Load() && p.sfu.cfg.Grace > 0
	p.mu.Unlock()
	if linger {
		p.log.Info("group socket lost, waiting for the participant to resume", "grace", p.sfu.cfg.Grace)
		t := time.NewTimer(p.sfu.cfg.Grace)
		defer t.Stop()
		select {
		case <-p.resumed:
		case <-t.C:
		case <-p.sfu.closing:
		}
	}
	p.finish(so)
}

// attach makes so serve p, closing the socket that served it. It reports false when p
// already left.
func (p *participant) attach(so *sock) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return false
	}
	if old := p.sock.Swap(so); old != nil {
		old.byServer.Store(true)
		old.kill()
	}
	select {
	case p.resumed <- struct{}{}:
	default:
	}
	return true
}

func (p *participant) encode(m protocol.GroupMessage) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		p.log.Error("group frame not encoded", "type", m.Type, "err", err)
		return nil
	}
	return b
}

// send queues m for the current socket's writer (none while the participant waits for a
// new socket: what it misses then, the resume welcome and offer repeat). A socket that lets
// its queue fill is too slow to follow the room and is closed.
func (p *participant) send(m protocol.GroupMessage) {
	so := p.sock.Load()
	b := p.encode(m)
	if so == nil || b == nil {
		return
	}
	if !so.enqueue(outFrame{data: b}) {
		p.log.Info("group socket too slow, closing", "queued", len(so.queue))
		so.byServer.Store(true)
		so.kill()
	}
}

// closeWith sends m, then closes the socket; the participant leaves without grace.
func (p *participant) closeWith(m protocol.GroupMessage) {
	so := p.sock.Load()
	if so == nil {
		return
	}
	so.byServer.Store(true)
	if !so.enqueue(outFrame{data: p.encode(m), closeAfter: true}) {
		so.kill()
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

// readLoop handles socket so's frames for p until the socket ends (nil), or until a join
// resumed another participant, which it returns: the socket serves that one from then on.
func (p *participant) readLoop(so *sock) *participant {
	cfg := p.sfu.cfg
	ws := so.ws
	ws.SetReadLimit(protocol.MaxGroupFrameBytes)
	deadline := func() { _ = ws.SetReadDeadline(time.Now().Add(cfg.PongTimeout)) }
	deadline()
	ws.SetPongHandler(func(string) error { deadline(); return nil })
	limiter := rate.NewLimiter(rate.Limit(cfg.MessagesPerSecond), cfg.MessageBurst)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				p.failAndClose(protocol.GroupErrTooLarge, fmt.Sprintf("frame over %d bytes", protocol.MaxGroupFrameBytes))
			}
			return nil
		}
		deadline()
		if !limiter.Allow() {
			p.failAndClose(protocol.GroupErrRate, "too many frames")
			return nil
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
		if m.Type == protocol.GroupBye {
			so.bye.Store(true)
			return nil
		}
		if m.Type == protocol.GroupJoin && !p.hasJoined() {
			next, ok := p.join(so, m.Resume)
			if !ok {
				return nil
			}
			if next != p {
				return next
			}
			continue
		}
		p.handle(m)
	}
}

func (p *participant) hasJoined() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.joined
}

// handle acts on one frame after join.
func (p *participant) handle(m protocol.GroupMessage) {
	if m.Type == protocol.GroupJoin {
		p.fail(protocol.GroupErrBadField, "already joined")
		return
	}
	if !p.hasJoined() {
		p.fail(protocol.GroupErrNotJoined, "send join first")
		return
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
	case protocol.GroupChat:
		p.chat(m.Text)
	}
}

// join takes p's place in its room, or, when resume is asked and the room holds a
// participant of the same id, hands socket so to that one. It returns the participant the
// socket serves from now on, and false when the socket is to close.
func (p *participant) join(so *sock, resume bool) (*participant, bool) {
	rm, others, old, err := p.sfu.join(p, resume)
	if err == nil && old != nil {
		if old.attach(so) {
			old.log.Info("participant resumed on a new socket")
			old.room.withList(func(list []protocol.GroupParticipant, _ []*participant) {
				old.send(protocol.GroupMessage{Type: protocol.GroupWelcome, ID: old.id, Participants: list, Resume: true})
			})
			old.room.tellSpeaker(old)
			old.resendOffer()
			return old, true
		}
		// It left meanwhile: an ordinary join.
		rm, others, _, err = p.sfu.join(p, false)
	}
	switch {
	case errors.Is(err, ErrRoomFull), errors.Is(err, ErrServerFull):
		p.failAndClose(protocol.GroupErrFull, err.Error())
		return nil, false
	case errors.Is(err, ErrClosed):
		p.failAndClose(protocol.GroupErrClosing, "the server is shutting down")
		return nil, false
	case err != nil:
		p.failAndClose(protocol.GroupErrInternal, "join failed")
		return nil, false
	}
	down, err := p.newDownPC()
	p.mu.Lock()
	p.joined = true
	p.down = down
	p.mu.Unlock()
	if err != nil {
		p.log.Error("down connection not created", "err", err)
		p.failAndClose(protocol.GroupErrInternal, "connection setup failed")
		return nil, false
	}
	p.log.Info("joined group room")
	rm.withList(func(list []protocol.GroupParticipant, members []*participant) {
		p.send(protocol.GroupMessage{Type: protocol.GroupWelcome, ID: p.id, Participants: list})
		for _, q := range members {
			if q != p {
				q.send(protocol.GroupMessage{Type: protocol.GroupParticipants, Participants: list})
			}
		}
	})
	rm.tellSpeaker(p)
	added := false
	for _, q := range others {
		for _, pub := range q.publications() {
			added = p.subscribe(pub) || added
		}
	}
	if added {
		p.negotiate()
	}
	return p, true
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
	p.estimate, p.rembAt = bps, time.Now()
	p.mu.Unlock()
}

func (p *participant) reportLoss(fractionLost uint8) {
	p.mu.Lock()
	p.lossBps = p.loss.report(fractionLost, time.Now(), p.sfu.cfg.InitialEstimate)
	p.mu.Unlock()
}

// downlink is the subscriber's estimate: its REMB while fresh, else the loss-based one,
// else the configured start. Called with p.mu held.
func (p *participant) downlinkLocked(now time.Time) uint64 {
	switch {
	case p.estimate > 0 && now.Sub(p.rembAt) < rembFreshness:
		return p.estimate
	case p.lossBps > 0:
		return p.lossBps
	}
	return p.sfu.cfg.InitialEstimate
}

// finish takes the participant out of its room and ends its media, unless a socket other
// than so serves it by now.
func (p *participant) finish(so *sock) {
	p.mu.Lock()
	if p.sock.Load() != so {
		p.mu.Unlock()
		return
	}
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
		if err := closePeer(up); err != nil {
			p.log.Debug("up connection close", "err", err)
		}
	}
	if down != nil {
		if err := closePeer(down); err != nil {
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
