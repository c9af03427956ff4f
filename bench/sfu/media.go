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

// stream kinds in the stamp.
const (
	kindAudio = 0
	kindVideo = 1
)

// epoch is the clock of every stamp: publishers and subscribers live in this process.
var epoch = time.Now()

func nowNs() int64 { return int64(time.Since(epoch)) }

// streamID names one published stream: the publisher's index in the run and the kind.
func streamID(pub int, kind byte) uint32 { return uint32(pub)<<8 | uint32(kind) }

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

	audio, video       *webrtc.TrackLocalStaticRTP
	audioTr, videoTr   *webrtc.RTPTransceiver
	audioCnt, videoCnt atomic.Uint32 // the next counter of each stream
	keyWant            atomic.Bool
	started            atomic.Bool
	// gate holds the media back until it is closed: every room joins before any media
	// loads the machine.
	gate <-chan struct{}

	mu        sync.Mutex
	recording bool
	log       []received
	firsts    map[uint32]bool // streams seen at all (recording or not)
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
	if p.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", id); err != nil {
		return err
	}
	if p.videoTr, err = pc.AddTransceiverFromTrack(p.video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return fmt.Errorf("%s: video transceiver: %w", p.Name, err)
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
	p.wg.Add(3)
	go p.sendAudio(extID(p.audioTr, sdp.SDESMidURI), extID(p.audioTr, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), p.audioTr.Mid())
	go p.sendVideo(extID(p.videoTr, sdp.SDESMidURI), p.videoTr.Mid())
	go p.readPublisherRTCP()
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

func (p *Participant) sendVideo(midID uint8, mid string) {
	defer p.wg.Done()
	if !p.waitGate() {
		return
	}
	fps := p.cfg.FPS
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	frameBytes := p.cfg.VideoBitrate / 8 / fps
	seq, ts, pid := uint16(1), uint32(0), uint16(0)
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		key := p.keyWant.Swap(false)
		size := frameBytes
		if key {
			size *= 3
		}
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
					copy(payload[4:], []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}) // 640×480
				} else {
					copy(payload[4:], []byte{0x11, 0x02, 0x00})
				}
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: end == size}, Payload: payload}
			if midID != 0 {
				_ = pkt.Header.SetExtension(midID, []byte(mid))
			}
			putStamp(payload[len(payload)-stampLen:], kindVideo, p.Index, p.videoCnt.Add(1)-1, nowNs())
			_ = p.video.WriteRTP(pkt)
			seq++
		}
		pid = (pid + 1) & 0x7fff
		ts += 90000 / uint32(fps)
	}
}

// readPublisherRTCP answers key frame requests; it ends when the connection closes.
func (p *Participant) readPublisherRTCP() {
	defer p.wg.Done()
	for {
		pkts, _, err := p.videoTr.Sender().ReadRTCP()
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
		p.firsts[id] = true
		if p.recording {
			p.log = append(p.log, received{stream: id, counter: counter, latency: at - sent})
		}
		p.mu.Unlock()
	}
}

// Streams is how many distinct remote streams arrived so far.
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

// Counters are the next counter of the participant's audio and video streams.
func (p *Participant) Counters() (audio, video uint32) {
	return p.audioCnt.Load(), p.videoCnt.Load()
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
