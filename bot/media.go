//go:build !js

package bot

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media"
	"github.com/pion/webrtc/v3/pkg/media/ivfreader"
	"github.com/pion/webrtc/v3/pkg/media/oggreader"
)

// The clips are described in media/README.
var (
	//go:embed media/video.ivf
	videoIVF []byte
	//go:embed media/audio.ogg
	audioOgg []byte
)

// opusFrame is the duration of one Ogg page of audio.ogg (one Opus packet).
const opusFrame = 20 * time.Millisecond

// sampleSource yields the samples of a clip, looping at its end.
type sampleSource interface {
	next() (media.Sample, error)
}

type ivfSource struct {
	clip  []byte
	r     *ivfreader.IVFReader
	frame time.Duration
	// keyWanted, when set, makes next skip ahead to the clip's next key frame: how the bot
	// answers a receiver's request for one (PLI or FIR), as an encoder would by sending one.
	keyWanted *atomic.Bool
}

func newIVFSource() (*ivfSource, error) { return newIVFSourceOf(videoIVF) }

// newIVFSourceOf reads the VP8 clip in clip, an IVF file.
func newIVFSourceOf(clip []byte) (*ivfSource, error) {
	r, h, err := ivfreader.NewWith(bytes.NewReader(clip))
	if err != nil {
		return nil, fmt.Errorf("video clip: %w", err)
	}
	if h.FourCC != "VP80" || h.TimebaseDenominator == 0 {
		return nil, fmt.Errorf("video clip: codec %q, timebase %d/%d", h.FourCC, h.TimebaseNumerator, h.TimebaseDenominator)
	}
	frame := time.Duration(float64(time.Second) * float64(h.TimebaseNumerator) / float64(h.TimebaseDenominator))
	return &ivfSource{clip: clip, r: r, frame: frame, keyWanted: new(atomic.Bool)}, nil
}

func (s *ivfSource) next() (media.Sample, error) {
	skip := s.keyWanted.Swap(false)
	for rewound := false; ; {
		frame, _, err := s.r.ParseNextFrame()
		switch {
		case err == nil:
			if skip && !isVP8KeyFrame(frame) {
				continue
			}
			return media.Sample{Data: frame, Duration: s.frame}, nil
		case !errors.Is(err, io.EOF):
			return media.Sample{}, fmt.Errorf("video clip: %w", err)
		case rewound:
			return media.Sample{}, errors.New("video clip: empty")
		}
		// The clip starts with a key frame (TestClipsLoop), so a skip ends here at the latest.
		s.r.ResetReader(func(int64) io.Reader { return bytes.NewReader(s.clip[32:]) })
		rewound = true
	}
}

// isVP8KeyFrame: bit 0 of a VP8 frame's first byte is 0 for a key frame (RFC 6386 9.1).
func isVP8KeyFrame(frame []byte) bool { return len(frame) > 0 && frame[0]&1 == 0 }

// rtcpBuf holds one RTCP compound packet: pion reads at most its receive MTU (1460).
const rtcpBuf = 1500

// readRTCP reads a sender's RTCP with read until its connection ends (reading drives the
// interceptors: NACK answers, reports), and passes a receiver's request for a key frame
// (PLI or FIR) on to keyWanted (nil for audio). The single-layer bot reads an RTPSender
// (senderRTCP), the simulcast bot each layer's own reader (layerTrack).
func readRTCP(read func([]byte) (int, error), keyWanted *atomic.Bool) {
	buf := make([]byte, rtcpBuf)
	for {
		n, err := read(buf)
		if err != nil {
			return
		}
		if keyWanted == nil {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue // one malformed compound packet; the next may be fine
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				keyWanted.Store(true)
			}
		}
	}
}

// senderRTCP reads the RTCP of s's (first) encoding.
func senderRTCP(s *webrtc.RTPSender) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		n, _, err := s.Read(b)
		return n, err
	}
}

type oggSource struct {
	r *oggreader.OggReader
}

func newOggSource() (*oggSource, error) {
	r, h, err := oggreader.NewWith(bytes.NewReader(audioOgg))
	if err != nil {
		return nil, fmt.Errorf("audio clip: %w", err)
	}
	if h.SampleRate != 48000 {
		return nil, fmt.Errorf("audio clip: sample rate %d", h.SampleRate)
	}
	return &oggSource{r: r}, nil
}

func (s *oggSource) next() (media.Sample, error) {
	for range 3 {
		page, _, err := s.r.ParseNextPage()
		if err == nil {
			if isOggHeaderPage(page) {
				continue // OpusTags after a rewind
			}
			return media.Sample{Data: page, Duration: opusFrame}, nil
		}
		if !errors.Is(err, io.EOF) {
			return media.Sample{}, fmt.Errorf("audio clip: %w", err)
		}
		fresh, _, err := oggreader.NewWith(bytes.NewReader(audioOgg))
		if err != nil {
			return media.Sample{}, fmt.Errorf("audio clip: %w", err)
		}
		s.r = fresh
	}
	return media.Sample{}, errors.New("audio clip: empty")
}

func isOggHeaderPage(p []byte) bool {
	return bytes.HasPrefix(p, []byte("OpusHead")) || bytes.HasPrefix(p, []byte("OpusTags"))
}

// mediaTracks are the bot's outgoing tracks, shared by every peer of the bot: a static
// sample track writes to all the PeerConnections it is bound to.
type mediaTracks struct {
	video, audio *webrtc.TrackLocalStaticSample
	// keyWanted: a receiver of video asked for a key frame.
	keyWanted atomic.Bool
}

// readRTCP reads the RTCP of the sender of one of m's tracks.
func (m *mediaTracks) readRTCP(s *webrtc.RTPSender) {
	if s.Track() == webrtc.TrackLocal(m.video) {
		readRTCP(senderRTCP(s), &m.keyWanted)
		return
	}
	readRTCP(senderRTCP(s), nil)
}

func newMediaTracks(streamID string) (*mediaTracks, error) {
	v, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", streamID)
	if err != nil {
		return nil, fmt.Errorf("video track: %w", err)
	}
	a, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", streamID)
	if err != nil {
		return nil, fmt.Errorf("audio track: %w", err)
	}
	return &mediaTracks{video: v, audio: a}, nil
}

// pump writes the clips to the tracks in real time until ctx is done.
func (m *mediaTracks) pump(ctx context.Context) error {
	vs, err := newIVFSource()
	if err != nil {
		return err
	}
	vs.keyWanted = &m.keyWanted
	as, err := newOggSource()
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- pumpTrack(ctx, m.video, vs, vs.frame) }()
	go func() { errc <- pumpTrack(ctx, m.audio, as, opusFrame) }()
	err = <-errc
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

func pumpTrack(ctx context.Context, t *webrtc.TrackLocalStaticSample, src sampleSource, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s, err := src.next()
		if err != nil {
			return err
		}
		// Unbound (no peer yet) or closing peers are not errors for a looping source.
		_ = t.WriteSample(s)
	}
}
