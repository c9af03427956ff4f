package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"

	"github.com/onertc/onertc/protocol"
)

// room is one group room. Its membership (participants, order) is guarded by SFU.mu, since
// joining checks the SFU-wide total; everything else has its own guard.
type room struct {
	sfu *SFU
	id  string

	participants map[string]*participant
	order        []*participant // join order, for the participant list
	done         chan struct{}  // closed when the last participant left

	speakerMu sync.Mutex
	speaker   *speakerDetector

	// listMu is held from taking a participant list to queueing it to everyone, so each
	// socket gets the lists in the order they were taken and the last one it gets is the
	// room as it is. Without it two joins or state changes at once could each take a list
	// and queue it in either order, leaving someone with a stale list for good.
	listMu sync.Mutex
}

func newRoom(s *SFU, id string) *room {
	return &room{sfu: s, id: id, participants: make(map[string]*participant), done: make(chan struct{}), speaker: newSpeakerDetector()}
}

// dropOrder removes p from the join order. Called with SFU.mu held.
func (rm *room) dropOrder(p *participant) {
	for i, q := range rm.order {
		if q == p {
			rm.order = append(rm.order[:i:i], rm.order[i+1:]...)
			return
		}
	}
}

func (rm *room) observeLevel(id string, level uint8) {
	rm.speakerMu.Lock()
	rm.speaker.observe(id, level)
	rm.speakerMu.Unlock()
}

// tellSpeaker sends p the active speaker, if there is one: the room announces a speaker
// when it changes, which may have been before p came (or while its socket was down).
func (rm *room) tellSpeaker(p *participant) {
	rm.speakerMu.Lock()
	id := rm.speaker.active
	rm.speakerMu.Unlock()
	if id != "" {
		p.send(protocol.GroupMessage{Type: protocol.GroupSpeaker, Participant: id})
	}
}

func (rm *room) forgetSpeaker(id string) {
	rm.speakerMu.Lock()
	rm.speaker.remove(id)
	rm.speakerMu.Unlock()
}

// withList calls send with the participant list as the wire carries it and the members
// it lists, under listMu: what send queues is queued in the order the lists were taken.
// send must not block.
func (rm *room) withList(send func(list []protocol.GroupParticipant, members []*participant)) {
	rm.listMu.Lock()
	defer rm.listMu.Unlock()
	members := rm.sfu.members(rm)
	list := make([]protocol.GroupParticipant, 0, len(members))
	for _, p := range members {
		list = append(list, p.describe())
	}
	send(list, members)
}

// broadcast sends m to every participant but except.
func (rm *room) broadcast(m protocol.GroupMessage, except *participant) {
	for _, p := range rm.sfu.members(rm) {
		if p != except {
			p.send(m)
		}
	}
}

// announceParticipants sends the new list to everyone.
func (rm *room) announceParticipants() {
	rm.withList(func(list []protocol.GroupParticipant, members []*participant) {
		for _, p := range members {
			p.send(protocol.GroupMessage{Type: protocol.GroupParticipants, Participants: list})
		}
	})
}

// remb is how often publishers are told their bitrate ceiling: browsers keep a REMB value
// for a while, so once a second is enough and costs nothing.
const remb = time.Second

// loop re-evaluates the room every tick (measured bitrates, each subscriber's layers, the
// active speaker) and caps every publisher once a second, until the room ends.
func (rm *room) loop() {
	s := rm.sfu
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	last := time.Now()
	lastREMB := last
	for {
		select {
		case <-rm.done:
			return
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			members := s.members(rm)
			dt := now.Sub(last)
			last = now
			for _, p := range members {
				for _, pub := range p.publications() {
					pub.measure(now, dt)
				}
			}
			for _, p := range members {
				p.chooseLayers(now)
				p.repeatOffer(now)
			}
			rm.speakerMu.Lock()
			id, changed := rm.speaker.tick(now)
			rm.speakerMu.Unlock()
			if changed {
				rm.broadcast(protocol.GroupMessage{Type: protocol.GroupSpeaker, Participant: id}, nil)
			}
			if now.Sub(lastREMB) >= remb {
				lastREMB = now
				for _, p := range members {
					p.capPublisher()
				}
			}
		}
	}
}

// capPublisher sends p the SFU's bitrate ceiling as REMB for its video streams.
func (p *participant) capPublisher() {
	var ssrcs []uint32
	for _, pub := range p.publications() {
		if pub.video {
			ssrcs = append(ssrcs, pub.ssrcs()...)
		}
	}
	up := p.upPC()
	if len(ssrcs) == 0 || up == nil {
		return
	}
	err := up.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(p.sfu.cfg.MaxPublisherBitrate), SSRCs: ssrcs}})
	if err != nil {
		p.log.Debug("REMB to publisher failed", "err", err)
	}
}
