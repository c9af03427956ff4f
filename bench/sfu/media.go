package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
)

// Every packet a participant publishes ends with a stamp the SFU forwards untouched (it
// rewrites sequence numbers, timestamps and the VP8 picture id, never the payload's end):
// which stream it belongs to, a counter of that stream's packets and the send time. Loss
// and latency are read from it, so nothing depends on what the server rewrites.
const (
	stampLen   = 16
	stampMagic = 0xb5
)

// stream kinds in the stamp: audio, or video layer L as kindVideo+L (0: the top layer).
const (
	kindAudio = 0
	kindVideo = 1
)

// layerRIDs name the simulcast layers, top layer first: Galène takes the layers in the
// offer's order as decreasing in rate (onertc orders them by size and rate itself).
var layerRIDs = []string{"f", "h", "q"}

// videoKind is the stamp kind of video layer l.
func videoKind(l int) byte { return kindVideo + byte(l) }

// epoch is the clock of every stamp: publishers and subscribers live in this process.
var epoch = time.Now()

func nowNs() int64 { return int64(time.Since(epoch)) }

// streamID names one published stream: the publisher's index in the run and the kind
// (each simulcast layer is a stream of its own).
func streamID(pub int, kind byte) uint32 { return uint32(pub)<<8 | uint32(kind) }

// sourceOf is the publisher's audio or video a stream belongs to: the layers of a video
// are one source.
func sourceOf(id uint32) uint32 {
	if id&0xff >= kindVideo {
		return id&^0xff | kindVideo
	}
	return id
}

func putStamp(b []byte, kind byte, pub int, counter uint32, sent int64) {
	b[0], b[1] = stampMagic, kind
	binary.BigEndian.PutUint16(b[2:], uint16(pub))
	binary.BigEndian.PutUint32(b[4:], counter)
	binary.BigEndian.PutUint64(b[8:], uint64(sent))
}

func readStamp(payload []byte) (id, counter uint32, sent int64, ok bool) {
	if len(payload) < stampLen {
		return 0, 0, 0, false
	}
	b := payload[len(payload)-stampLen:]
	if b[0] != stampMagic {
		return 0, 0, 0, false
	}
	return streamID(int(binary.BigEndian.Uint16(b[2:])), b[1]), binary.BigEndian.Uint32(b[4:]), int64(binary.BigEndian.Uint64(b[8:])), true
}

// MediaConfig is what every participant publishes.
type MediaConfig struct {
	// VideoBitrate is the VP8 payload rate in bits per second, at FPS frames a second.
	VideoBitrate int
	FPS          int
	// PacketBytes is the most VP8 bytes per packet.
	PacketBytes int
	// Layers is 1 (one VP8 stream) or up to 3 simulcast layers, each a quarter of the
	// rate of the one above (VideoBitrate is the top layer's).
	Layers int
}

// received is one packet as a subscriber saw it.
type received struct {
	stream  uint32
	counter uint32
	latency int64 // ns from the publisher's write to the subscriber's read
}

// Participant is one load participant: its pion API, what it publishes (one Opus stream
// and one VP8 stream, each packet stamped) and what it receives. A Protocol adapter
// creates its PeerConnections with NewPeerConnection, lets AddMedia put the tracks on the
// publishing one and Subscribe watch each receiving one, and calls StartMedia once the
// publishing connection is answered.
type Participant struct {
	Index int // unique in the run; written into every stamp
	Name  string
	cfg   MediaConfig
	api   *webrtc.API

	audio            *webrtc.TrackLocalStaticRTP
	video            []*webrtc.TrackLocalStaticRTP // one per layer, top layer first
	audioTr, videoTr *webrtc.RTPTransceiver
	audioCnt         atomic.Uint32 // the next counter of each stream
	videoCnt         [3]atomic.Uint32
	keyWant          atomic.Bool
	started          atomic.Bool
	// gate holds the media back until it is closed: every room joins before any media
	// loads the machine.
	gate <-chan struct{}

	mu        sync.Mutex
	recording bool
	log       []received
	firsts    map[uint32]bool // sources seen at all (recording or not)
	stop      chan struct{}
	wg        sync.WaitGroup
	pcs       []*webrtc.PeerConnection
	videoSSRC []uint32
}

// NewParticipant makes participant index with the media cfg says, sent once gate is
// closed.
func NewParticipant(index int, cfg MediaConfig, gate <-chan struct{}) (*Participant, error) {
	api, err := newAPI()
	if err != nil {
		return nil, err
	}
	return &Participant{Index: index, Name: fmt.Sprintf("load%d", index), cfg: cfg, api: api, gate: gate, firsts: make(map[uint32]bool), stop: make(chan struct{})}, nil
}

func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register Opus: %w", err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
		PayloadType: 96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register VP8: %w", err)
	}
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{"urn:ietf:params:rtp-hdrext:ssrc-audio-level", webrtc.RTPCodecTypeAudio},
	} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("register %s: %w", e.uri, err)
		}
	}
	se := webrtc.SettingEngine{}
	// pion logs to stdout by default, which scripts/bench-sfu keeps as the results.
	se.LoggerFactory = &logging.DefaultLoggerFactory{Writer: os.Stderr, DefaultLogLevel: logging.LogLevelWarn, ScopeLevels: map[string]logging.LogLevel{}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)), nil
}

// NewPeerConnection makes a PeerConnection the participant closes in Close.
func (p *Participant) NewPeerConnection() (*webrtc.PeerConnection, error) {
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("%s: new PeerConnection: %w", p.Name, err)
	}
	p.mu.Lock()
	p.pcs = append(p.pcs, pc)
	p.mu.Unlock()
	return pc, nil
}

// AddMedia adds the sendonly audio and video transceivers to the publishing connection.
func (p *Participant) AddMedia(pc *webrtc.PeerConnection) error {
	var err error
	id := fmt.Sprintf("p%d", p.Index)
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", id); err != nil {
		return err
	}
	if p.audioTr, err = pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return fmt.Errorf("%s: audio transceiver: %w", p.Name, err)
	}
	p.video = nil
	for l := range p.cfg.Layers {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if p.cfg.Layers > 1 {
			opts = append(opts, webrtc.WithRTPStreamID(layerRIDs[l]))
		}
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", id, opts...)
		if err != nil {
			return err
		}
		p.video = append(p.video, t)
	}
	if p.videoTr, err = pc.AddTransceiverFromTrack(p.video[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return fmt.Errorf("%s: video transceiver: %w", p.Name, err)
	}
	for l, t := range p.video[1:] {
		if err := p.videoTr.Sender().AddEncoding(t); err != nil {
			return fmt.Errorf("%s: simulcast layer %s: %w", p.Name, layerRIDs[l+1], err)
		}
	}
	return nil
}

func extID(tr *webrtc.RTPTransceiver, uri string) uint8 {
	for _, e := range tr.Sender().GetParameters().HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// StartMedia starts sending, once the publishing connection has its answer: Opus-sized
// audio every 20 ms and VP8 frames at the configured rate, a key frame first and on every
// PLI or FIR.
func (p *Participant) StartMedia() {
	if p.started.Swap(true) {
		return
	}
	p.keyWant.Store(true)
	p.wg.Add(2)
	go p.sendAudio(extID(p.audioTr, sdp.SDESMidURI), extID(p.audioTr, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), p.audioTr.Mid())
	go p.sendVideo(extID(p.videoTr, sdp.SDESMidURI), extID(p.videoTr, sdp.SDESRTPStreamIDURI), p.videoTr.Mid())
	if len(p.video) == 1 {
		p.wg.Add(1)
		go p.readPublisherRTCP(p.videoTr.Sender().ReadRTCP)
		return
	}
	for _, rid := range layerRIDs[:len(p.video)] {
		p.wg.Add(1)
		go p.readPublisherRTCP(func() ([]rtcp.Packet, interceptor.Attributes, error) {
			return p.videoTr.Sender().ReadSimulcastRTCP(rid)
		})
	}
}

// waitGate reports false when the participant closed before its media could start.
func (p *Participant) waitGate() bool {
	select {
	case <-p.gate:
		return true
	case <-p.stop:
		return false
	}
}

func (p *Participant) sendAudio(midID, levelID uint8, mid string) {
	defer p.wg.Done()
	if !p.waitGate() {
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seq, ts := uint16(1), uint32(0)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		payload := make([]byte, 100)
		payload[0] = 0x78 // Opus TOC: a 20 ms CELT frame
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
		if midID != 0 {
			_ = pkt.Header.SetExtension(midID, []byte(mid))
		}
		if levelID != 0 {
			_ = pkt.Header.SetExtension(levelID, []byte{0x7f}) // silence: nobody takes the speaker mark
		}
		putStamp(payload[len(payload)-stampLen:], kindAudio, p.Index, p.audioCnt.Add(1)-1, nowNs())
		_ = p.audio.WriteRTP(pkt)
		seq++
		ts += 960
	}
}

// sendVideo sends every layer's frame at each tick; a key frame request (from any layer)
// makes the next frame a key frame on all of them.
func (p *Participant) sendVideo(midID, ridID uint8, mid string) {
	defer p.wg.Done()
	if !p.waitGate() {
		return
	}
	fps := p.cfg.FPS
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	seqs, pids := make([]uint16, len(p.video)), make([]uint16, len(p.video))
	ts := uint32(0)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		key := p.keyWant.Swap(false)
		for l := range p.video {
			size := p.cfg.VideoBitrate / 8 / fps >> (2 * l)
			if key {
				size *= 3
			}
			rid := ""
			if len(p.video) > 1 {
				rid = layerRIDs[l]
			}
			seqs[l] = p.sendFrame(l, size, key, seqs[l], ts, pids[l], midID, ridID, mid, rid)
			pids[l] = (pids[l] + 1) & 0x7fff
		}
		ts += 90000 / uint32(fps)
	}
}

// sendFrame sends one frame of size bytes on layer l, from sequence number seq; it
// returns the next sequence number.
func (p *Participant) sendFrame(l, size int, key bool, seq uint16, ts uint32, pid uint16, midID, ridID uint8, mid, rid string) uint16 {
	for off := 0; off < size; off += p.cfg.PacketBytes {
		end := min(off+p.cfg.PacketBytes, size)
		// VP8 payload descriptor: X, S on a frame's first packet, partition 0; I: a
		// 15-bit picture id. Then, on the first packet, the frame tag (and for a key
		// frame its start code and size); then filler; the stamp last.
		b0 := byte(0x80)
		if off == 0 {
			b0 |= 0x10
		}
		payload := make([]byte, 4+(end-off)+stampLen)
		payload[0], payload[1], payload[2], payload[3] = b0, 0x80, 0x80|byte(pid>>8), byte(pid)
		if off == 0 {
			if key {
				// 640×480 on the top layer, halved on each layer below, as an encoder scales.
				w, h := uint16(640>>l), uint16(480>>l)
				copy(payload[4:], []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)})
			} else {
				copy(payload[4:], []byte{0x11, 0x02, 0x00})
			}
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: end == size}, Payload: payload}
		if midID != 0 {
			_ = pkt.Header.SetExtension(midID, []byte(mid))
		}
		if ridID != 0 && rid != "" {
			_ = pkt.Header.SetExtension(ridID, []byte(rid))
		}
		putStamp(payload[len(payload)-stampLen:], videoKind(l), p.Index, p.videoCnt[l].Add(1)-1, nowNs())
		_ = p.video[l].WriteRTP(pkt)
		seq++
	}
	return seq
}

// readPublisherRTCP answers key frame requests read by read (one layer's RTCP); it ends
// when the connection closes.
func (p *Participant) readPublisherRTCP(read func() ([]rtcp.Packet, interceptor.Attributes, error)) {
	defer p.wg.Done()
	for {
		pkts, _, err := read()
		if err != nil {
			return
		}
		for _, pk := range pkts {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.keyWant.Store(true)
			}
		}
	}
}

// Subscribe reads every track the server sends on pc, and reports a downlink estimate
// (REMB) far above what arrives, as a browser on an unconstrained link would.
func (p *Participant) Subscribe(pc *webrtc.PeerConnection) {
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			p.mu.Lock()
			p.videoSSRC = append(p.videoSSRC, uint32(t.SSRC()))
			p.mu.Unlock()
		}
		p.wg.Add(1)
		go p.readTrack(t)
	})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			p.mu.Lock()
			ssrcs := append([]uint32(nil), p.videoSSRC...)
			p.mu.Unlock()
			if len(ssrcs) > 0 {
				_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 50e6, SSRCs: ssrcs}})
			}
		}
	}()
}

func (p *Participant) readTrack(t *webrtc.TrackRemote) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		at := nowNs()
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		id, counter, sent, ok := readStamp(pkt.Payload)
		if !ok {
			continue
		}
		p.mu.Lock()
		p.firsts[sourceOf(id)] = true
		if p.recording {
			p.log = append(p.log, received{stream: id, counter: counter, latency: at - sent})
		}
		p.mu.Unlock()
	}
}

// Streams is how many distinct remote sources (audio, or video whatever its layer)
// arrived so far.
func (p *Participant) Streams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.firsts)
}

// Record starts (true) or stops recording received packets.
func (p *Participant) Record(on bool) {
	p.mu.Lock()
	p.recording = on
	p.mu.Unlock()
}

// Counters puts the next counter of each of the participant's streams into m, by stream.
func (p *Participant) Counters(m map[uint32]uint32) {
	m[streamID(p.Index, kindAudio)] = p.audioCnt.Load()
	for l := range p.cfg.Layers {
		m[streamID(p.Index, videoKind(l))] = p.videoCnt[l].Load()
	}
}

// Log returns what was recorded.
func (p *Participant) Log() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log
}

// Close stops the media and closes every connection.
func (p *Participant) Close() error {
	close(p.stop)
	p.mu.Lock()
	pcs := p.pcs
	p.mu.Unlock()
	var errs []error
	for _, pc := range pcs {
		if err := pc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		errs = append(errs, fmt.Errorf("%s: media goroutines still running 10 s after close", p.Name))
	}
	return errors.Join(errs...)
}
