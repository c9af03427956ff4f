package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/server/sfu/packetcache"
)

// publication is one track a participant publishes: audio, or video in one to three
// simulcast layers (one pion TrackRemote per layer, all on one RTPReceiver).
type publication struct {
	owner    *participant
	id       string // the forwarded track's id, unique in the SFU
	video    bool
	codec    webrtc.RTPCodecCapability
	receiver *webrtc.RTPReceiver

	mu     sync.Mutex
	layers []*upLayer
	live   int  // layers whose reader still runs
	ended  bool // every layer's reader has stopped
	downs  atomic.Pointer[[]*downTrack]
}

// upLayer is one received stream: a simulcast layer, or the only stream of a track.
type upLayer struct {
	idx   int
	rid   string
	track *webrtc.TrackRemote
	cache *packetcache.Cache

	bytes      atomic.Uint64 // since the last measure
	bitrate    atomic.Uint64 // bits per second, smoothed
	lastPacket atomic.Int64  // unix nanoseconds, of the last packet with media
	lastProbe  atomic.Int64  // unix nanoseconds, of the last padding-only packet
	width      atomic.Int32  // from the last key frame
	height     atomic.Int32
	lastPLI    atomic.Int64 // unix nanoseconds
}

// activeWithin is how long after its last packet a layer still counts as sent: a publisher
// that lost bandwidth stops its top layer, which must then not be chosen.
const activeWithin = time.Second

// pausedAfter is how soon a layer counts as paused when probes come on it but no media:
// Chromium's sign of a layer it stopped, clearer than a frame rate that merely fell.
const pausedAfter = 300 * time.Millisecond

func (l *upLayer) view(now time.Time) layerView {
	media, probe := time.Unix(0, l.lastPacket.Load()), time.Unix(0, l.lastProbe.Load())
	silent := now.Sub(media)
	return layerView{
		bitrate: l.bitrate.Load(),
		width:   int(l.width.Load()),
		height:  int(l.height.Load()),
		active:  silent < activeWithin && !(probe.After(media) && silent >= pausedAfter),
	}
}

func (pub *publication) snapshot() []*upLayer {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	return append([]*upLayer(nil), pub.layers...)
}

func (pub *publication) layer(i int) *upLayer {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if i < 0 || i >= len(pub.layers) {
		return nil
	}
	return pub.layers[i]
}

func (pub *publication) views(now time.Time) []layerView {
	layers := pub.snapshot()
	out := make([]layerView, len(layers))
	for i, l := range layers {
		out[i] = l.view(now)
	}
	return out
}

func (pub *publication) ssrcs() []uint32 {
	var out []uint32
	for _, l := range pub.snapshot() {
		out = append(out, uint32(l.track.SSRC()))
	}
	return out
}

// measure turns the bytes counted since the last tick into each layer's bitrate.
func (pub *publication) measure(now time.Time, dt time.Duration) {
	if dt <= 0 {
		return
	}
	for _, l := range pub.snapshot() {
		rate := float64(l.bytes.Swap(0)*8) / dt.Seconds()
		old := float64(l.bitrate.Load())
		if old == 0 {
			old = rate
		}
		// Smoothed over a few ticks: a key frame is several times a delta frame's size.
		l.bitrate.Store(uint64(0.7*old + 0.3*rate))
		// The layer chooser orders layers and matches tiles by the size key frames carry.
		// pion consumes a simulcast layer's first packets (its first key frame with them)
		// to identify the layer, so a layer whose size is unknown is asked for one.
		if pub.video && l.width.Load() == 0 && l.view(now).active {
			pub.requestKeyframe(l.idx)
		}
	}
}

// addLayer starts forwarding one more stream of the publication. It reports false when
// the publication already ended or has its maximum of layers.
func (pub *publication) addLayer(track *webrtc.TrackRemote, max int) (*upLayer, bool) {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if pub.ended || len(pub.layers) >= max {
		return nil, false
	}
	l := &upLayer{idx: len(pub.layers), rid: track.RID(), track: track, cache: packetcache.New(pub.owner.sfu.cfg.PacketCache)}
	pub.layers = append(pub.layers, l)
	pub.live++
	return l, true
}

// requestKeyframe asks the publisher for a key frame on layer i, at most once per
// KeyframeInterval per layer whoever asks.
func (pub *publication) requestKeyframe(i int) {
	l := pub.layer(i)
	if l == nil || !pub.video {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pub.owner.sfu.cfg.KeyframeInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	up := pub.owner.upPC()
	if up == nil {
		return
	}
	if err := up.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(l.track.SSRC())}}); err != nil {
		pub.owner.log.Debug("PLI to publisher failed", "err", err)
		return
	}
	pub.owner.sfu.counters.plis.Add(1)
}

func (pub *publication) addDown(d *downTrack) {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	old := pub.downs.Load()
	var next []*downTrack
	if old != nil {
		next = append(next, *old...)
	}
	next = append(next, d)
	pub.downs.Store(&next)
}

func (pub *publication) removeDown(d *downTrack) {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	old := pub.downs.Load()
	if old == nil {
		return
	}
	next := make([]*downTrack, 0, len(*old))
	for _, x := range *old {
		if x != d {
			next = append(next, x)
		}
	}
	pub.downs.Store(&next)
}

// read forwards one layer's packets to every subscriber until the stream ends. It reports
// whether this was the publication's last live layer.
func (pub *publication) read(l *upLayer) (last bool) {
	defer func() {
		pub.mu.Lock()
		pub.live--
		last = pub.live == 0
		if last {
			pub.ended = true
		}
		pub.mu.Unlock()
	}()
	var levelID uint8
	if !pub.video {
		for _, e := range pub.receiver.GetParameters().HeaderExtensions {
			if e.URI == audioLevelURI {
				levelID = uint8(e.ID)
			}
		}
	}
	buf := make([]byte, packetcache.MaxPacket)
	var pkt rtp.Packet
	for {
		n, _, err := l.track.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				pub.owner.log.Debug("track read ended", "track", pub.id, "rid", l.rid, "err", err)
			}
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		now := time.Now()
		l.cache.Store(pkt.SequenceNumber, buf[:n], now)
		// Chromium keeps probing on a simulcast layer it paused (its bandwidth fell, or
		// the camera went from two calls to one), with padding-only packets: no media, so
		// they neither keep the layer active nor add to its rate. Counted, they kept the
		// SFU on a layer that brought no frame (a tile froze 2.4 s in a move).
		if len(pkt.Payload) > 0 {
			l.bytes.Add(uint64(n))
			l.lastPacket.Store(now.UnixNano())
		} else {
			l.lastProbe.Store(now.UnixNano())
		}
		var info vp8Info
		if pub.video {
			info, _ = parseVP8(pkt.Payload)
			if info.keyframe && info.width > 0 {
				l.width.Store(int32(info.width))
				l.height.Store(int32(info.height))
			}
		} else if levelID != 0 {
			if ext := pkt.GetExtension(levelID); len(ext) > 0 {
				pub.owner.room.observeLevel(pub.owner.id, ext[0]&0x7f)
			}
		}
		if downs := pub.downs.Load(); downs != nil {
			out := pub.owner.sfu.out
			out.hold()
			for _, d := range *downs {
				d.forward(l.idx, &pkt, info, now)
			}
			out.release()
		}
	}
}

// drainRTCP reads what the publisher sends on one layer's RTCP (sender reports) so that
// the interceptors see it, until the stream ends.
func (pub *publication) drainRTCP(l *upLayer) {
	for {
		var err error
		if l.rid != "" {
			_ = pub.receiver.SetReadDeadlineSimulcast(time.Now().Add(rtcpPoll), l.rid)
			_, _, err = pub.receiver.ReadSimulcastRTCP(l.rid)
		} else {
			_ = pub.receiver.SetReadDeadline(time.Now().Add(rtcpPoll))
			_, _, err = pub.receiver.ReadRTCP()
		}
		if err != nil && !(isTimeout(err) && !pub.isEnded()) {
			return
		}
	}
}

func (pub *publication) isEnded() bool {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	return pub.ended
}
