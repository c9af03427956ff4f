//go:build !js

package bot

import (
	"context"
	_ "embed"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/client"
)

// simulcastRIDs are the layers a simulcast bot publishes, lowest first, and
// simulcastClips the clip each sends (media/README): 160x120 at ~60 kbit/s, 320x240 at
// ~150 kbit/s, 640x480 at ~450 kbit/s, all 15 fps with key frames on the same frames.
// The layers must differ as a browser's do: the SFU orders them by size and bitrate and
// fits them to a subscriber's bandwidth, so with one clip on every layer the "lowest" would
// be whichever measured a few bits less, and a subscriber behind a slow link would gain
// nothing by a switch.
var (
	simulcastRIDs = []string{"q", "h", "f"}

	//go:embed media/video-q.ivf
	videoQIVF []byte
	//go:embed media/video-f.ivf
	videoFIVF []byte

	simulcastClips = [][]byte{videoQIVF, videoIVF, videoFIVF}
)

// simulcast is the video of a simulcast bot: one RTP track per layer, packetized here,
// since pion v3 adds neither the mid nor the rid header extension a simulcast receiver
// needs to tell the layers apart (docs/facts.md).
type simulcast struct {
	api    *webrtc.API
	layers []*layerTrack
	video  chan *webrtc.RTPTransceiver // the up peers' video, newest last
	// keyWanted: a receiver asked for a key frame on one of the layers.
	keyWanted atomic.Bool
}

// layerTrack is one simulcast layer. Each binding to an up peer reads that layer's RTCP
// and passes a request for a key frame on to keyWanted. It reads the RTCP reader pion hands
// the binding rather than RTPSender.ReadSimulcastRTCP, which in pion v3 reads the sender's
// encodings unlocked while Stop clears them (a data race at every hang-up).
type layerTrack struct {
	*webrtc.TrackLocalStaticRTP
	keyWanted *atomic.Bool
}

func (l *layerTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, err := l.TrackLocalStaticRTP.Bind(ctx)
	if err != nil {
		return codec, err
	}
	// The read ends when the sender stops: its SRTCP stream is closed.
	r := ctx.RTCPReader()
	go readRTCP(func(b []byte) (int, error) {
		n, _, err := r.Read(b, nil)
		return n, err
	}, l.keyWanted)
	return codec, nil
}

// newSimulcast builds the API of the up peer (the extensions registered) and the layers.
func newSimulcast(b *Bot, streamID string) (*simulcast, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
	} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, fmt.Errorf("register %s: %w", e.uri, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	ir.Add(counterFactory{c: &b.cnt})
	se := webrtc.SettingEngine{LoggerFactory: client.PionLoggerFactory(b.log)}
	se.SetIncludeLoopbackCandidate(b.opts.IncludeLoopback)
	if b.opts.RelayOnly {
		se.SetRelayAcceptanceMinWait(0)
	}
	s := &simulcast{api: webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)),
		video: make(chan *webrtc.RTPTransceiver, 4)}
	for _, rid := range simulcastRIDs {
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"video", streamID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, fmt.Errorf("simulcast layer %s: %w", rid, err)
		}
		s.layers = append(s.layers, &layerTrack{TrackLocalStaticRTP: t, keyWanted: &s.keyWanted})
	}
	return s, nil
}

// attach adds the layers to pc as one send-only video with three encodings.
func (s *simulcast) attach(pc *webrtc.PeerConnection) error {
	tr, err := pc.AddTransceiverFromTrack(s.layers[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("simulcast video: %w", err)
	}
	for i, t := range s.layers[1:] {
		if err := tr.Sender().AddEncoding(t); err != nil {
			return fmt.Errorf("simulcast layer %s: %w", simulcastRIDs[i+1], err)
		}
	}
	select {
	case s.video <- tr:
	default:
	}
	return nil
}

// pump packetizes each layer's clip once per frame and writes it on its layer, with the mid
// and rid extensions at the IDs the up connection negotiated, until ctx is done.
func (s *simulcast) pump(ctx context.Context) error {
	srcs := make([]*ivfSource, len(simulcastClips))
	for i, clip := range simulcastClips {
		src, err := newIVFSourceOf(clip)
		if err != nil {
			return fmt.Errorf("simulcast layer %s: %w", simulcastRIDs[i], err)
		}
		// One clock for all: the layers' frames (and key frames) stay aligned.
		if i > 0 && src.frame != srcs[0].frame {
			return fmt.Errorf("simulcast layer %s: frame duration %v, not %v", simulcastRIDs[i], src.frame, srcs[0].frame)
		}
		srcs[i] = src
	}
	packetizers := make([]rtp.Packetizer, len(s.layers))
	for i := range packetizers {
		packetizers[i] = rtp.NewPacketizer(1200, 96, 0, &codecs.VP8Payloader{}, rtp.NewRandomSequencer(), 90000)
	}
	var video *webrtc.RTPTransceiver
	tick := time.NewTicker(srcs[0].frame)
	defer tick.Stop()
	samples := uint32(90000 * srcs[0].frame / time.Second)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// A key frame asked for on any layer comes on every layer, from the same frame of
		// the clips: the layers then still show the same moment, so a subscriber that the
		// SFU moves to another layer sees no jump. Had one layer skipped alone, it would
		// run up to a key interval (2 s) ahead of the others until the next request.
		if s.keyWanted.Swap(false) {
			for _, src := range srcs {
				src.keyWanted.Store(true)
			}
		}
		for drained := false; !drained; {
			select {
			case video = <-s.video:
			default:
				drained = true
			}
		}
		var frames [][]byte
		for _, src := range srcs {
			frame, err := src.next()
			if err != nil {
				return err
			}
			frames = append(frames, frame.Data)
		}
		if video == nil {
			continue
		}
		var midID, ridID uint8
		for _, e := range video.Sender().GetParameters().HeaderExtensions {
			switch e.URI {
			case sdp.SDESMidURI:
				midID = uint8(e.ID)
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(e.ID)
			}
		}
		mid := video.Mid()
		for i, t := range s.layers {
			for _, p := range packetizers[i].Packetize(frames[i], samples) {
				if midID != 0 && mid != "" {
					_ = p.Header.SetExtension(midID, []byte(mid))
				}
				if ridID != 0 {
					_ = p.Header.SetExtension(ridID, []byte(simulcastRIDs[i]))
				}
				// Unbound or closing peers are not errors for a looping source.
				_ = t.WriteRTP(p)
			}
		}
	}
}
