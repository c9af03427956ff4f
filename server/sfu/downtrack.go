package sfu

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/sfu/packetcache"
)

// downTrack forwards one publication to one subscriber.
type downTrack struct {
	pub    *publication
	sub    *participant
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	// live is set once the subscriber's connection is up with this track negotiated:
	// before, packets would be dropped by pion, the first key frame with them.
	live atomic.Bool
	// offerGen is the down offer that first carried this track (0: none yet); guarded by
	// the subscriber's mu.
	offerGen int

	// mu orders everything written to the track: the layers' readers forward, NACKs
	// retransmit, the room's tick sets the target.
	mu     sync.Mutex
	rw     *rewriter
	target int // the layer to forward (-1: the first that brings a key frame)
	closed bool
	// resends is allocated on the track's first NACK: its guard and buffer (17.5 KiB)
	// were a tenth of a participant's heap in rooms whose subscribers lose nothing.
	resends *resender
	payload [packetcache.MaxPacket]byte
	out     rtp.Packet
}

func newDownTrack(pub *publication, sub *participant) (*downTrack, error) {
	// The stream id is the publisher's participant id: that is how a client tells whose
	// tile a track belongs to.
	track, err := webrtc.NewTrackLocalStaticRTP(pub.codec, pub.id, pub.owner.id)
	if err != nil {
		return nil, err
	}
	return &downTrack{pub: pub, sub: sub, track: track, rw: newRewriter(pub.codec.ClockRate), target: -1}, nil
}

// forward sends one packet of layer li to the subscriber if that layer feeds it, switching
// to the target layer on its key frame.
func (d *downTrack) forward(li int, pkt *rtp.Packet, info vp8Info, now time.Time) {
	if !d.live.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if d.target < 0 {
		d.target = li
	}
	cur := d.rw.layer()
	src := srcPacket{layer: li, seq: pkt.SequenceNumber, ts: pkt.Timestamp, pid: info.pid, tl0: info.tl0, probe: len(pkt.Payload) == 0}
	if li == d.target && cur != d.target {
		if !d.pub.video || info.keyframe {
			d.rw.switchTo(src, now)
			if cur >= 0 {
				d.sub.sfu.counters.layerSwitches.Add(1)
			}
			if d.pub.video {
				d.announceLayer(li, info)
			}
		} else {
			d.pub.requestKeyframe(li)
		}
	}
	ids, ok := d.rw.rewrite(src, now)
	if !ok {
		return
	}
	d.write(pkt, info, ids)
}

// write sends pkt with its rewritten numbers. Called with d.mu held.
func (d *downTrack) write(pkt *rtp.Packet, info vp8Info, ids outIDs) {
	d.out.Header = pkt.Header
	// The publisher's header extensions were negotiated on its own connection, with ids
	// that mean something else (or nothing) on the subscriber's.
	d.out.Header.Extension = false
	d.out.Header.Extensions = nil
	// A track writes a packet's header and payload, not its padding: with the padding bit
	// kept, a padding-only packet (browsers probe their uplink with them) would reach the
	// subscriber announcing padding it lacks, which pion cannot parse. The padding is of
	// no use downstream; the packet keeps its sequence number.
	d.out.Header.Padding = false
	d.out.PaddingSize = 0
	d.out.Header.SequenceNumber = ids.seq
	d.out.Header.Timestamp = ids.ts
	d.out.Payload = pkt.Payload
	if d.pub.video && (info.pidOff >= 0 || info.tl0Off >= 0) && len(pkt.Payload) <= len(d.payload) {
		n := copy(d.payload[:], pkt.Payload)
		setVP8IDs(d.payload[:n], info, ids.pid, ids.tl0)
		d.out.Payload = d.payload[:n]
	}
	if err := d.track.WriteRTP(&d.out); err != nil {
		return
	}
	c := &d.sub.sfu.counters
	c.forwardedPackets.Add(1)
	c.forwardedBytes.Add(uint64(d.out.MarshalSize()))
}

// retransmit resends the packet the subscriber received as seq, from the cache of the
// layer that fed it, unless it was resent often or recently enough (resend.go).
func (d *downTrack) retransmit(seq uint16) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	if d.resends == nil {
		d.resends = new(resender)
	}
	if !d.resends.guard.allow(seq, time.Now()) {
		return false
	}
	e, in, ok := d.rw.lookup(seq)
	if !ok {
		return false
	}
	l := d.pub.layer(e.layer)
	if l == nil {
		return false
	}
	n := l.cache.Load(in, d.resends.cached[:])
	if n == 0 {
		return false
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(d.resends.cached[:n]); err != nil {
		return false
	}
	var info vp8Info
	if d.pub.video {
		info, _ = parseVP8(pkt.Payload)
	}
	d.write(&pkt, info, e.apply(srcPacket{layer: e.layer, seq: pkt.SequenceNumber, ts: pkt.Timestamp, pid: info.pid, tl0: info.tl0}))
	d.sub.sfu.counters.retransmits.Add(1)
	return true
}

// setTarget makes layer the one to forward from its next key frame, asking for it.
func (d *downTrack) setTarget(layer int) {
	d.mu.Lock()
	changed := layer != d.target
	d.target = layer
	waiting := d.rw.layer() != layer
	d.mu.Unlock()
	if changed && waiting {
		d.pub.requestKeyframe(layer)
	}
}

func (d *downTrack) current() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rw.layer()
}

// ssrc is the SSRC the subscriber receives this track on.
func (d *downTrack) ssrc() uint32 {
	if enc := d.sender.GetParameters().Encodings; len(enc) > 0 {
		return uint32(enc[0].SSRC)
	}
	return 0
}

func (d *downTrack) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

func (d *downTrack) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
}

// announceLayer tells the subscriber which layer of whose video it now receives.
func (d *downTrack) announceLayer(li int, info vp8Info) {
	l := d.pub.layer(li)
	if l == nil {
		return
	}
	w, h := info.width, info.height
	if w == 0 {
		w, h = int(l.width.Load()), int(l.height.Load())
	}
	d.sub.send(protocol.GroupMessage{Type: protocol.GroupLayer, Participant: d.pub.owner.id, Layer: l.rid, Width: w, Height: h})
}

// readRTCP handles what the subscriber says about this track until the sender stops:
// NACKs are answered from the cache, PLI and FIR go to the publisher (rate-limited there),
// REMB sets the subscriber's downlink estimate, receiver reports its loss-based one.
//
// The read has a deadline and the loop ends once the track is closed: a pion v3 sender's
// RTCP read may outlive the sender's Stop, which would hold the participant's goroutines.
func (d *downTrack) readRTCP() {
	for {
		_ = d.sender.SetReadDeadline(time.Now().Add(rtcpPoll))
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			if isTimeout(err) && !d.isClosed() {
				continue
			}
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				for _, pair := range p.Nacks {
					for _, seq := range pair.PacketList() {
						d.retransmit(seq)
					}
				}
				// Counted once answered, so that a test seeing the count sees the answer.
				d.sub.sfu.counters.nacks.Add(1)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if cur := d.current(); cur >= 0 {
					d.pub.requestKeyframe(cur)
				}
			case *rtcp.ReceiverEstimatedMaximumBitrate:
				d.sub.setEstimate(uint64(p.Bitrate))
			case *rtcp.ReceiverReport:
				ssrc := d.ssrc()
				for _, r := range p.Reports {
					if r.SSRC == ssrc {
						d.sub.reportLoss(r.FractionLost)
					}
				}
			}
		}
	}
}

// rtcpPoll is how long an RTCP read waits before its loop checks whether to end.
const rtcpPoll = time.Second

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
