//go:build !js

package sfutest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/protocol"
)

// Received is what the client got from one remote participant.
type Received struct {
	AudioPackets, VideoPackets int
	AudioBytes, VideoBytes     int
	LastAudio, LastVideo       time.Time
	// MaxAudioGap and MaxVideoGap are the longest silences between two packets since the
	// first packet or the last ResetGaps.
	MaxAudioGap, MaxVideoGap time.Duration
	Video                    []VideoPacket
	// VideoSSRC is the SSRC the video arrives on (for RTCP about it).
	VideoSSRC uint32
	// PaddingPackets are the packets (among VideoPackets and AudioPackets) that carried no
	// payload.
	PaddingPackets int
}

// VideoPacket is one received video packet as the test reads it.
type VideoPacket struct {
	Seq       uint16
	TS        uint32
	Layer     int  // the publisher's layer index written into the payload (-1: unknown)
	Keyframe  bool // the first packet of a key frame
	Width     int  // key frames only
	PictureID uint16
	At        time.Time
	Padding   bool // a padding-only packet (a probe): no VP8, no layer
}

// maxVideoLog bounds the video packets kept per remote participant.
const maxVideoLog = 20000

// Publish offers the up connection with what Options say, waits for the answer and starts
// sending media until Close.
func (c *Client) Publish(ctx context.Context) error {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.up = pc
	c.mu.Unlock()
	var audio *webrtc.TrackLocalStaticRTP
	var audioTr *webrtc.RTPTransceiver
	if c.opts.Audio {
		if audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", c.ID); err != nil {
			return err
		}
		if audioTr, err = pc.AddTransceiverFromTrack(audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
	}
	var video []*webrtc.TrackLocalStaticRTP
	var videoTr *webrtc.RTPTransceiver
	for i, l := range c.opts.Layers {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if l.RID != "" {
			opts = append(opts, webrtc.WithRTPStreamID(l.RID))
		}
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", c.ID, opts...)
		if err != nil {
			return err
		}
		video = append(video, t)
		if i == 0 {
			if videoTr, err = pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				return err
			}
		} else if err := videoTr.Sender().AddEncoding(t); err != nil {
			return fmt.Errorf("simulcast layer %s: %w", l.RID, err)
		}
	}
	var screen *webrtc.TrackLocalStaticRTP
	var screenTr *webrtc.RTPTransceiver
	if c.opts.Screen {
		if screen, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "screen", c.ID); err != nil {
			return err
		}
		if screenTr, err = pc.AddTransceiverFromTrack(screen, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := c.gathered(gathered); err != nil {
		return err
	}
	mark := c.Mark()
	msg := protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: pc.LocalDescription().SDP}
	if screenTr != nil {
		msg.Screen = screenTr.Mid()
	}
	if err := c.Send(msg); err != nil {
		return err
	}
	m, err := c.WaitFrom(ctx, mark, func(m protocol.GroupMessage) bool {
		return (m.Type == protocol.GroupAnswer && m.PC == protocol.PCUp) || m.Type == protocol.GroupError
	})
	if err != nil {
		return err
	}
	if m.Type == protocol.GroupError {
		return &RefusedError{Code: m.Code, Message: m.Message}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
		return fmt.Errorf("up answer: %w", err)
	}
	if audio != nil {
		c.startAudio(audio, audioTr)
	}
	if len(video) > 0 {
		c.startVideo(video, videoTr, c.opts.Layers)
	}
	if screen != nil {
		c.startVideo([]*webrtc.TrackLocalStaticRTP{screen}, screenTr, []Layer{{Width: 1920, Height: 1080, FrameBytes: 900}})
	}
	return nil
}

func extID(params webrtc.RTPParameters, uri string) uint8 {
	for _, e := range params.HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

func (c *Client) startAudio(t *webrtc.TrackLocalStaticRTP, tr *webrtc.RTPTransceiver) {
	levelID := extID(tr.Sender().GetParameters().RTPParameters, "urn:ietf:params:rtp-hdrext:ssrc-audio-level")
	// The audio sender's RTCP is not read: a pion v3 sender's read may outlive its Stop.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		seq, ts := uint16(1000), uint32(0)
		payload := make([]byte, 80)
		payload[0] = 0x78 // Opus TOC: 20 ms CELT frame
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-tick.C:
			}
			c.mu.Lock()
			level := c.level
			c.mu.Unlock()
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
			if levelID != 0 {
				_ = pkt.Header.SetExtension(levelID, []byte{level & 0x7f})
			}
			_ = t.WriteRTP(pkt)
			seq++
			c.mu.Lock()
			pad := c.padAudio > 0
			if pad {
				c.padAudio--
			}
			c.mu.Unlock()
			if pad {
				_ = t.WriteRTP(paddingOnly(seq, ts))
				seq++
			}
			ts += 960
		}
	}()
}

// videoLayer is the sending state of one layer.
type videoLayer struct {
	Layer
	idx     int
	track   *webrtc.TrackLocalStaticRTP
	seq     uint16
	pid     uint16
	tl0     uint8
	mu      sync.Mutex
	keyWant bool
}

func (c *Client) startVideo(tracks []*webrtc.TrackLocalStaticRTP, tr *webrtc.RTPTransceiver, specs []Layer) {
	params := tr.Sender().GetParameters()
	midID := extID(params.RTPParameters, sdp.SDESMidURI)
	ridID := extID(params.RTPParameters, sdp.SDESRTPStreamIDURI)
	mid := tr.Mid()
	layers := make([]*videoLayer, len(tracks))
	for i, t := range tracks {
		layers[i] = &videoLayer{Layer: specs[i], idx: i, track: t, seq: uint16(i * 10000), pid: uint16(i * 1000), keyWant: true}
	}
	// pion v3's RTPSender.Stop (PeerConnection.Close) rewrites the encodings that
	// ReadSimulcastRTCP walks without a lock: the readers poll with a deadline and are
	// gone before Close closes the connection. They start once the connection is up: until
	// SRTP runs, a sender's read and even its SetReadDeadline block until Stop.
	c.whenConnected(func() {
		for _, l := range layers {
			c.startRTCPReader(tr, l)
		}
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(c.opts.FPS))
		defer tick.Stop()
		ts := uint32(0)
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-tick.C:
			}
			c.mu.Lock()
			pad := c.padVideo > 0
			if pad {
				c.padVideo--
			}
			c.mu.Unlock()
			for _, l := range layers {
				c.mu.Lock()
				paused := c.paused[l.RID]
				c.mu.Unlock()
				n := 0
				if paused {
					// Probes only, as Chromium sends on a layer it paused; a key frame
					// asked for waits for the resume.
					if sendPadding(l, ts, midID, ridID, mid) {
						n++
					}
				} else {
					l.mu.Lock()
					key := l.keyWant
					l.keyWant = false
					l.mu.Unlock()
					n = c.sendFrame(l, key, ts, midID, ridID, mid)
				}
				if pad && sendPadding(l, ts, midID, ridID, mid) {
					n++
				}
				c.mu.Lock()
				c.sent[l.RID] += n
				c.mu.Unlock()
			}
			ts += 90000 / uint32(c.opts.FPS)
		}
	}()
}

// maxChunk is the VP8 bytes per packet.
const maxChunk = 1000

// sendFrame packetizes one synthetic VP8 frame: a descriptor with a 15-bit picture id and
// TL0PICIDX on every packet, the frame tag (and for key frames the start code and size) on
// the first, and the layer's index in the last byte of every packet.
func (c *Client) sendFrame(l *videoLayer, key bool, ts uint32, midID, ridID uint8, mid string) int {
	size := l.FrameBytes
	if key {
		size *= 3
	}
	var first []byte
	if key {
		first = []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0}
		binary.LittleEndian.PutUint16(first[6:], uint16(l.Width))
		binary.LittleEndian.PutUint16(first[8:], uint16(l.Height))
	} else {
		first = []byte{0x11, 0x02, 0x00}
	}
	body := make([]byte, size)
	copy(body, first)
	sent := 0
	for off := 0; off < size; off += maxChunk {
		end := min(off+maxChunk, size)
		b0 := byte(0x80)
		if off == 0 {
			b0 |= 0x10
		}
		payload := append([]byte{b0, 0xc0, 0x80 | byte(l.pid>>8), byte(l.pid), l.tl0}, body[off:end]...)
		payload = append(payload, 0xa0|byte(l.idx))
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: l.seq, Timestamp: ts, Marker: end == size}, Payload: payload}
		if midID != 0 {
			_ = pkt.Header.SetExtension(midID, []byte(mid))
		}
		if ridID != 0 && l.RID != "" {
			_ = pkt.Header.SetExtension(ridID, []byte(l.RID))
		}
		c.mu.Lock()
		drop := c.dropVideo > 0
		if drop {
			c.dropVideo--
			c.dropped = append(c.dropped, l.seq)
		}
		c.mu.Unlock()
		if drop {
			l.seq++
			continue
		}
		if err := l.track.WriteRTP(pkt); err == nil {
			sent++
		}
		l.seq++
	}
	l.pid = (l.pid + 1) & 0x7fff
	l.tl0++
	return sent
}

// paddingBytes is the padding of a padding-only packet (a browser probing sends up to 255).
const paddingBytes = 224

// paddingOnly is a padding-only packet, as a browser probing its uplink sends on its media
// streams when it has no RTX: the padding bit set, no payload, the timestamp of the frame
// before. pion writes a packet's header and payload but not its PaddingSize, so the padding
// goes out as the payload, its last byte the padding's length (RFC 3550, section 5.1).
func paddingOnly(seq uint16, ts uint32) *rtp.Packet {
	pad := make([]byte, paddingBytes)
	pad[len(pad)-1] = paddingBytes
	return &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, SequenceNumber: seq, Timestamp: ts}, Payload: pad}
}

// sendPadding sends one padding-only packet on layer l.
func sendPadding(l *videoLayer, ts uint32, midID, ridID uint8, mid string) bool {
	pkt := paddingOnly(l.seq, ts)
	if midID != 0 {
		_ = pkt.Header.SetExtension(midID, []byte(mid))
	}
	if ridID != 0 && l.RID != "" {
		_ = pkt.Header.SetExtension(ridID, []byte(l.RID))
	}
	l.seq++
	return l.track.WriteRTP(pkt) == nil
}

// ScreenKey is the key under which Received files a participant's screen share.
func ScreenKey(id string) string { return id + "/screen" }

func (c *Client) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	from := track.StreamID()
	if strings.HasPrefix(track.ID(), "screen-") {
		from = ScreenKey(from)
	}
	video := track.Kind() == webrtc.RTPCodecTypeVideo
	c.mu.Lock()
	r := c.recv[from]
	if r == nil {
		r = &Received{}
		c.recv[from] = r
	}
	if video {
		r.VideoSSRC = uint32(track.SSRC())
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			now := time.Now()
			c.mu.Lock()
			if video {
				if !r.LastVideo.IsZero() && now.Sub(r.LastVideo) > r.MaxVideoGap {
					r.MaxVideoGap = now.Sub(r.LastVideo)
				}
				r.VideoPackets++
				if len(pkt.Payload) == 0 {
					r.PaddingPackets++
				}
				r.VideoBytes += len(pkt.Payload)
				r.LastVideo = now
				if len(r.Video) < maxVideoLog {
					r.Video = append(r.Video, parseTestVP8(pkt, now))
				}
			} else {
				if !r.LastAudio.IsZero() && now.Sub(r.LastAudio) > r.MaxAudioGap {
					r.MaxAudioGap = now.Sub(r.LastAudio)
				}
				r.AudioPackets++
				if len(pkt.Payload) == 0 {
					r.PaddingPackets++
				}
				r.AudioBytes += len(pkt.Payload)
				r.LastAudio = now
			}
			c.mu.Unlock()
		}
	}()
}

func parseTestVP8(pkt *rtp.Packet, at time.Time) VideoPacket {
	v := VideoPacket{Seq: pkt.SequenceNumber, TS: pkt.Timestamp, Layer: -1, At: at, Padding: len(pkt.Payload) == 0}
	p := pkt.Payload
	if len(p) < 6 {
		return v
	}
	v.PictureID = binary.BigEndian.Uint16(p[2:]) & 0x7fff
	if last := p[len(p)-1]; last&0xf0 == 0xa0 {
		v.Layer = int(last & 0x0f)
	}
	if p[0]&0x10 != 0 && p[5]&0x01 == 0 {
		v.Keyframe = true
		if len(p) >= 15 {
			v.Width = int(binary.LittleEndian.Uint16(p[11:]) & 0x3fff)
		}
	}
	return v
}

// Received returns a copy of what came from participant id so far.
func (c *Client) Received(id string) Received {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.recv[id]
	if r == nil {
		return Received{}
	}
	out := *r
	out.Video = append([]VideoPacket(nil), r.Video...)
	return out
}

// ResetGaps starts measuring the longest gaps afresh.
func (c *Client) ResetGaps() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.recv {
		r.MaxAudioGap, r.MaxVideoGap = 0, 0
	}
}

// DropVideo makes the publisher skip sending its next n video packets (their sequence
// numbers are used up), as a lossy uplink would.
func (c *Client) DropVideo(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropVideo += n
}

// PadVideo makes the publisher follow each of its next n video frames, on every layer,
// with a padding-only packet.
func (c *Client) PadVideo(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.padVideo += n
}

// PauseLayer stops (or resumes) the frames of the simulcast layer rid; while paused the
// layer sends a padding-only packet per frame instead, as Chromium does with a layer it
// paused; a key frame asked for meanwhile comes with the resume.
func (c *Client) PauseLayer(rid string, paused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == nil {
		c.paused = make(map[string]bool)
	}
	c.paused[rid] = paused
}

// PadAudio makes the publisher follow each of its next n audio packets with a padding-only
// packet.
func (c *Client) PadAudio(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.padAudio += n
}

// Dropped returns the sequence numbers DropVideo skipped, and Nacked those the server asked
// for again.
func (c *Client) Dropped() (dropped, nacked []uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint16(nil), c.dropped...), append([]uint16(nil), c.nacked...)
}

// PublisherREMB is the last bitrate ceiling (REMB) the server sent the client's video.
func (c *Client) PublisherREMB() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remb
}

// whenConnected runs f once the up connection is connected, unless Close came first.
func (c *Client) whenConnected(f func()) {
	c.mu.Lock()
	c.onConnected = append(c.onConnected, f)
	first := len(c.onConnected) == 1
	c.mu.Unlock()
	run := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stopping {
			return
		}
		for _, f := range c.onConnected {
			f()
		}
		c.onConnected = nil
	}
	if first {
		c.up.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				run()
			}
		})
	}
	if c.up.ConnectionState() == webrtc.PeerConnectionStateConnected {
		run()
	}
}

// startRTCPReader watches one layer's RTCP for key frame requests until Close.
func (c *Client) startRTCPReader(tr *webrtc.RTPTransceiver, l *videoLayer) {
	c.rtcpWG.Add(1)
	go func() {
		defer c.rtcpWG.Done()
		for c.ctx.Err() == nil {
			var pkts []rtcp.Packet
			var err error
			if l.RID != "" {
				_ = tr.Sender().SetReadDeadlineSimulcast(time.Now().Add(100*time.Millisecond), l.RID)
				pkts, _, err = tr.Sender().ReadSimulcastRTCP(l.RID)
			} else {
				_ = tr.Sender().SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				pkts, _, err = tr.Sender().ReadRTCP()
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					l.mu.Lock()
					l.keyWant = true
					l.mu.Unlock()
				case *rtcp.ReceiverEstimatedMaximumBitrate:
					c.mu.Lock()
					c.remb = uint64(p.Bitrate)
					c.mu.Unlock()
				case *rtcp.TransportLayerNack:
					c.mu.Lock()
					for _, pair := range p.Nacks {
						c.nacked = append(c.nacked, pair.PacketList()...)
					}
					c.mu.Unlock()
				}
			}
		}
	}()
}
