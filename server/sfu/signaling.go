package sfu

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/protocol"
)

// The down connection: the SFU offers, the participant answers. Changes while an offer
// waits for its answer are gathered into one more offer after it, so offers never cross.

func (p *participant) newDownPC() (*webrtc.PeerConnection, error) {
	pc, err := p.sfu.downAPI.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, fmt.Errorf("down connection: %w", err)
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			p.mu.Lock()
			p.downUp = true
			p.mu.Unlock()
			p.activateDowns()
		case webrtc.PeerConnectionStateFailed:
			p.log.Info("down connection failed")
			p.closeWith(protocol.GroupMessage{Type: protocol.GroupBye, Code: protocol.GroupErrInternal, Message: "media connection failed"})
		}
	})
	return pc, nil
}

// subscribe adds pub to what p receives, without negotiating. It reports whether a track
// was added.
func (p *participant) subscribe(pub *publication) bool {
	// Never one's own media, not even that of the socket this one replaced.
	if pub.owner.id == p.id {
		return false
	}
	d, err := newDownTrack(pub, p)
	if err != nil {
		p.log.Error("down track not created", "track", pub.id, "err", err)
		return false
	}
	p.mu.Lock()
	if p.gone || p.down == nil || p.downs[pub] != nil {
		p.mu.Unlock()
		return false
	}
	sender, err := p.down.AddTrack(d.track)
	if err != nil {
		p.mu.Unlock()
		p.log.Error("down track not added", "track", pub.id, "err", err)
		return false
	}
	d.sender = sender
	p.downs[pub] = d
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		d.readRTCP()
	}()
	pub.addDown(d)
	return true
}

// unsubscribe removes pub from what p receives and renegotiates.
func (p *participant) unsubscribe(pub *publication) {
	p.mu.Lock()
	d := p.downs[pub]
	if d == nil {
		p.mu.Unlock()
		return
	}
	delete(p.downs, pub)
	err := p.down.RemoveTrack(d.sender)
	p.mu.Unlock()
	pub.removeDown(d)
	d.close()
	if err != nil {
		p.log.Debug("down track removal", "track", pub.id, "err", err)
	}
	p.negotiate()
}

// negotiate sends a down offer for the current tracks, or marks one as due after the
// answer in flight.
func (p *participant) negotiate() {
	p.mu.Lock()
	if p.gone || p.down == nil {
		p.mu.Unlock()
		return
	}
	if p.negotiating {
		p.again = true
		p.mu.Unlock()
		return
	}
	if len(p.down.GetTransceivers()) == 0 {
		p.mu.Unlock()
		return
	}
	p.negotiating = true
	p.offerGen++
	for _, d := range p.downs {
		if d.offerGen == 0 {
			d.offerGen = p.offerGen
		}
	}
	pc := p.down
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	p.mu.Unlock()
	if err == nil {
		err = waitGathering(pc)
	}
	if err != nil {
		p.log.Error("down offer failed", "err", err)
		p.mu.Lock()
		p.negotiating = false
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.offeredAt = time.Now()
	p.mu.Unlock()
	p.send(protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCDown, SDP: pc.LocalDescription().SDP})
}

// repeatOffer sends the down offer again when its answer is overdue (Config.OfferRepeat).
// Clients answer an offer they already answered no second time (docs/protocol.md 10).
func (p *participant) repeatOffer(now time.Time) {
	p.mu.Lock()
	due := p.negotiating && !p.offeredAt.IsZero() && now.Sub(p.offeredAt) >= p.sfu.cfg.OfferRepeat
	if due {
		p.offeredAt = now
	}
	p.mu.Unlock()
	if due {
		p.log.Info("down offer unanswered; sending it again", "after", p.sfu.cfg.OfferRepeat)
		p.resendOffer()
	}
}

// resendOffer repeats the down offer that waits for its answer, for a resumed socket (the
// previous one may have lost it).
func (p *participant) resendOffer() {
	p.mu.Lock()
	var sdp string
	if p.negotiating && p.down != nil && p.down.LocalDescription() != nil {
		sdp = p.down.LocalDescription().SDP
	}
	p.mu.Unlock()
	if sdp != "" {
		p.send(protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCDown, SDP: sdp})
	}
}

func (p *participant) handleAnswer(sdp string) {
	p.mu.Lock()
	if !p.negotiating {
		p.mu.Unlock()
		p.fail(protocol.GroupErrBadField, "no down offer waits for an answer")
		return
	}
	err := p.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		// Back to stable, so that the next change can offer again.
		if rerr := p.down.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); rerr != nil {
			p.log.Debug("down offer rollback", "err", rerr)
		}
	}
	p.negotiating = false
	if err == nil {
		p.answeredGen = p.offerGen
	}
	again := p.again || err != nil
	p.again = false
	p.mu.Unlock()
	if err != nil {
		p.fail(protocol.GroupErrSDP, "answer refused: "+truncate(err.Error(), 200))
		return
	}
	p.activateDowns()
	if again {
		p.negotiate()
	}
}

// activateDowns starts forwarding on every down track of an answered offer once the
// connection is up, and asks their publishers for a key frame so that the subscriber's
// decoder starts.
func (p *participant) activateDowns() {
	p.mu.Lock()
	if !p.downUp {
		p.mu.Unlock()
		return
	}
	var fresh []*downTrack
	for _, d := range p.downs {
		// Only tracks of an answered offer are bound: what is written to the others is
		// dropped, and with it the key frame the subscriber's decoder must start on.
		if !d.live.Load() && d.offerGen != 0 && d.offerGen <= p.answeredGen {
			d.live.Store(true)
			fresh = append(fresh, d)
		}
	}
	p.mu.Unlock()
	for _, d := range fresh {
		for _, l := range d.pub.snapshot() {
			d.pub.requestKeyframe(l.idx)
		}
	}
}

// The up connection: the participant offers what it publishes, the SFU answers.

func (p *participant) handleOffer(sdp string) {
	if err := p.checkOffer(sdp); err != nil {
		code := protocol.GroupErrSDP
		switch {
		case errors.Is(err, errNoCodec):
			code = protocol.GroupErrCodec
		case errors.Is(err, errTooManyTracks):
			code = protocol.GroupErrTooManyTracks
		}
		p.fail(code, err.Error())
		return
	}
	pc := p.up.Load()
	if pc == nil {
		var err error
		pc, err = p.newUpPC()
		if err != nil {
			p.log.Error("up connection not created", "err", err)
			p.fail(protocol.GroupErrInternal, "connection setup failed")
			return
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		p.fail(protocol.GroupErrSDP, "offer refused: "+truncate(err.Error(), 200))
		return
	}
	answer, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err == nil {
		err = waitGathering(pc)
	}
	if err != nil {
		p.fail(protocol.GroupErrSDP, "no answer to this offer: "+truncate(err.Error(), 200))
		return
	}
	p.send(protocol.GroupMessage{Type: protocol.GroupAnswer, PC: protocol.PCUp, SDP: pc.LocalDescription().SDP})
}

// checkOffer refuses an up offer the SFU cannot use before pion sees it: one that does not
// parse, carries data channels, has more media sections or simulcast layers than allowed,
// or offers a kind of media without the codec the SFU forwards.
func (p *participant) checkOffer(raw string) error {
	parsed, err := (&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: raw}).Unmarshal()
	if err != nil {
		return fmt.Errorf("%w: offer does not parse: %s", errSDP, truncate(err.Error(), 200))
	}
	media := 0
	for _, md := range parsed.MediaDescriptions {
		kind := md.MediaName.Media
		if md.MediaName.Port.Value == 0 {
			continue // a rejected or stopped section
		}
		if kind != "audio" && kind != "video" {
			return fmt.Errorf("%w: %s sections are not part of group rooms", errSDP, truncate(kind, 16))
		}
		media++
		want := "opus/"
		if kind == "video" {
			want = "vp8/"
		}
		found, rids := false, 0
		for _, a := range md.Attributes {
			switch a.Key {
			case "rtpmap":
				if _, enc, ok := strings.Cut(a.Value, " "); ok && strings.HasPrefix(strings.ToLower(enc), want) {
					found = true
				}
			case "rid":
				if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == "send" {
					rids++
				}
			}
		}
		if !found {
			return fmt.Errorf("%w: a %s section without %s", errNoCodec, kind, strings.TrimSuffix(strings.ToUpper(want), "/"))
		}
		if rids > protocol.MaxSimulcastLayers {
			return fmt.Errorf("%w: %d simulcast layers, at most %d", errTooManyTracks, rids, protocol.MaxSimulcastLayers)
		}
	}
	if media > p.sfu.cfg.MaxTracks {
		return fmt.Errorf("%w: %d media sections, at most %d", errTooManyTracks, media, p.sfu.cfg.MaxTracks)
	}
	if media == 0 {
		return fmt.Errorf("%w: the offer has no audio or video", errSDP)
	}
	return nil
}

func (p *participant) newUpPC() (*webrtc.PeerConnection, error) {
	pc, err := p.sfu.upAPI.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, fmt.Errorf("up connection: %w", err)
	}
	p.mu.Lock()
	gone := p.gone
	if !gone {
		p.up.Store(pc)
	}
	p.mu.Unlock()
	if gone {
		return nil, errors.Join(errors.New("participant gone"), pc.Close())
	}
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		p.addTrack(track, receiver)
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			p.log.Info("up connection failed")
			p.closeWith(protocol.GroupMessage{Type: protocol.GroupBye, Code: protocol.GroupErrInternal, Message: "media connection failed"})
		}
	})
	return pc, nil
}

// addTrack starts forwarding a stream the participant publishes: a new publication, or a
// further simulcast layer of one.
func (p *participant) addTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	video := track.Kind() == webrtc.RTPCodecTypeVideo
	if video && !strings.EqualFold(track.Codec().MimeType, webrtc.MimeTypeVP8) {
		p.fail(protocol.GroupErrCodec, "video must be VP8")
		return
	}
	kind := track.Kind().String()
	if video && p.isScreen(receiver) {
		kind = "screen"
	}
	p.mu.Lock()
	if p.gone {
		p.mu.Unlock()
		return
	}
	var pub *publication
	for _, x := range p.pubs {
		if x.receiver == receiver {
			pub = x
		}
	}
	fresh := pub == nil
	if fresh {
		if len(p.pubs) >= p.sfu.cfg.MaxTracks {
			p.mu.Unlock()
			p.fail(protocol.GroupErrTooManyTracks, fmt.Sprintf("at most %d tracks", p.sfu.cfg.MaxTracks))
			return
		}
		pub = &publication{
			owner:    p,
			id:       fmt.Sprintf("%s-%d", kind, p.sfu.pubSeq.Add(1)),
			video:    video,
			codec:    track.Codec().RTPCodecCapability,
			receiver: receiver,
		}
		// What is forwarded carries the feedback the down side negotiates, not the
		// publisher's.
		pub.codec.RTCPFeedback = nil
		p.pubs = append(p.pubs, pub)
	}
	l, ok := pub.addLayer(track, protocol.MaxSimulcastLayers)
	if !ok {
		p.mu.Unlock()
		return
	}
	// pion v3's ReadSimulcastRTCP walks the receiver's layers unlocked while a layer that
	// arrives later is being set up (a data race), so a simulcast track's RTCP is read
	// only once all its declared layers are there.
	var drain []*upLayer
	if l.rid == "" {
		drain = []*upLayer{l}
	} else if layers := pub.snapshot(); len(layers) == len(receiver.Tracks()) {
		drain = layers
	}
	p.wg.Add(1 + len(drain))
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		if pub.read(l) {
			p.endPublication(pub)
		}
	}()
	for _, l := range drain {
		go func() {
			defer p.wg.Done()
			pub.drainRTCP(l)
		}()
	}
	p.log.Debug("publishing", "track", pub.id, "rid", l.rid, "ssrc", track.SSRC())
	if !fresh {
		return
	}
	for _, q := range p.sfu.members(p.room) {
		if q != p && q.subscribe(pub) {
			q.negotiate()
		}
	}
}

// isScreen reports whether receiver belongs to the section the participant named as its
// screen share.
func (p *participant) isScreen(receiver *webrtc.RTPReceiver) bool {
	p.mu.Lock()
	mid := p.screenMid
	p.mu.Unlock()
	up := p.up.Load()
	if mid == "" || up == nil {
		return false
	}
	for _, t := range up.GetTransceivers() {
		if t.Receiver() == receiver {
			return t.Mid() == mid
		}
	}
	return false
}

// endPublication withdraws a publication whose streams all ended.
func (p *participant) endPublication(pub *publication) {
	p.mu.Lock()
	for i, x := range p.pubs {
		if x == pub {
			p.pubs = append(p.pubs[:i:i], p.pubs[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	if downs := pub.downs.Load(); downs != nil {
		for _, d := range *downs {
			d.sub.unsubscribe(pub)
		}
	}
}

func (p *participant) handleCandidate(pc string, c *protocol.GroupICECandidate) {
	if strings.TrimSpace(c.Candidate) == "" {
		return // end of candidates
	}
	var conn *webrtc.PeerConnection
	if pc == protocol.PCUp {
		conn = p.up.Load()
	} else {
		p.mu.Lock()
		conn = p.down
		p.mu.Unlock()
	}
	if conn == nil || conn.RemoteDescription() == nil {
		p.fail(protocol.GroupErrBadField, "candidate before the "+pc+" connection's description")
		return
	}
	err := conn.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
	if err != nil {
		p.fail(protocol.GroupErrBadField, "candidate refused: "+truncate(err.Error(), 200))
	}
}

// audioReserve is the share of a subscriber's estimate set aside per forwarded audio
// track before the rest is split between videos (Opus in a call stays under 64 kbps).
const audioReserve = 64_000

// chooseLayers sets, for each video p receives, the layer that fits p's estimate and tile.
func (p *participant) chooseLayers(now time.Time) {
	p.mu.Lock()
	estimate := p.downlinkLocked(now)
	var videos []*downTrack
	audios := 0
	for _, d := range p.downs {
		if d.pub.video {
			videos = append(videos, d)
		} else {
			audios++
		}
	}
	views := make(map[string]view, len(p.views))
	for k, v := range p.views {
		views[k] = v
	}
	p.mu.Unlock()
	if len(videos) == 0 {
		return
	}
	budget := uint64(0)
	if reserve := uint64(audios) * audioReserve; estimate > reserve {
		budget = estimate - reserve
	}
	share := budget / uint64(len(videos))
	for _, d := range videos {
		v := views[d.pub.owner.id]
		if t := chooseLayer(d.pub.views(now), d.current(), share, v.w, v.h); t >= 0 {
			d.setTarget(t)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
