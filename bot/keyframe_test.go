//go:build !js

package bot

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media/samplebuilder"
)

// negotiate connects offerer and answerer, their candidates gathered into the descriptions.
func negotiate(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	// local sets pc's description once created, and returns it with pc's candidates.
	local := func(pc *webrtc.PeerConnection) func(webrtc.SessionDescription, error) webrtc.SessionDescription {
		return func(sd webrtc.SessionDescription, err error) webrtc.SessionDescription {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			gathered := webrtc.GatheringCompletePromise(pc)
			if err := pc.SetLocalDescription(sd); err != nil {
				t.Fatal(err)
			}
			<-gathered
			return *pc.LocalDescription()
		}
	}
	if err := answerer.SetRemoteDescription(local(offerer)(offerer.CreateOffer(nil))); err != nil {
		t.Fatal(err)
	}
	if err := offerer.SetRemoteDescription(local(answerer)(answerer.CreateAnswer(nil))); err != nil {
		t.Fatal(err)
	}
}

// peerPair is two plain pion peers, closed when the test ends.
func peerPair(t *testing.T) (send, recv *webrtc.PeerConnection) {
	t.Helper()
	for _, pc := range []**webrtc.PeerConnection{&send, &recv} {
		p, err := webrtc.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		*pc = p
	}
	return send, recv
}

// readFrames passes each VP8 frame that arrives on tr to got until tr ends.
func readFrames(ctx context.Context, tr *webrtc.TrackRemote, got func(frame []byte)) {
	// Room for the packets of the largest key frame (the 640x480 layer's) and then some.
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	for ctx.Err() == nil {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			got(s.Data)
		}
	}
}

// framesToKey counts the frames a source gives until (and with) its next key frame.
func framesToKey(t *testing.T, s *ivfSource) int {
	t.Helper()
	for n := 1; n < 1000; n++ {
		f, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if isVP8KeyFrame(f.Data) {
			return n
		}
	}
	t.Fatal("no key frame in 1000 frames")
	return 0
}

// A key frame asked for comes with the next frame; without asking, the clip's own comes
// much later (one every 2 s, 30 frames), also across the clip's end.
func TestKeyFrameRequestSkipsAhead(t *testing.T) {
	s, err := newIVFSource()
	if err != nil {
		t.Fatal(err)
	}
	natural := framesToKey(t, s) // the first frame
	if natural != 1 {
		t.Fatalf("clip does not start with a key frame (%d)", natural)
	}
	if natural = framesToKey(t, s); natural < 10 {
		t.Fatalf("key frames %d frames apart: the test needs them sparse", natural)
	}
	for range 3 * natural / 2 { // into the middle of a group of frames, then over the clip's end
		if _, err := s.next(); err != nil {
			t.Fatal(err)
		}
		s.keyWanted.Store(true)
		if n := framesToKey(t, s); n != 1 {
			t.Fatalf("a key frame asked for came %d frames later", n)
		}
	}
}

// A PLI from a real pion receiver makes the bot's video track send a key frame within a
// few frames, not at the clip's next one (30 frames apart).
func TestBotAnswersPLIWithKeyFrame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tracks, err := newMediaTracks("pli")
	if err != nil {
		t.Fatal(err)
	}
	send, recv := peerPair(t)
	sender, err := send.AddTrack(tracks.video)
	if err != nil {
		t.Fatal(err)
	}
	go tracks.readRTCP(sender)
	type frame struct {
		key  bool
		ssrc uint32
	}
	frames := make(chan frame, 256)
	recv.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		readFrames(ctx, tr, func(data []byte) {
			select {
			case frames <- frame{isVP8KeyFrame(data), uint32(tr.SSRC())}:
			case <-ctx.Done():
			}
		})
	})
	if _, err := recv.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	negotiate(t, recv, send)
	go func() { _ = tracks.pump(ctx) }()

	next := func() frame {
		select {
		case f := <-frames:
			return f
		case <-ctx.Done():
			t.Fatal("no video frame")
			return frame{}
		}
	}
	// Wait for a key frame, then ask for another two frames later: the clip's own would
	// come 28 frames after that.
	for !next().key {
	}
	next()
	f := next()
	if err := recv.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: f.ssrc}}); err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		if next().key {
			t.Logf("key frame %d frames after the PLI", n)
			break
		}
		if n >= 10 {
			t.Fatalf("no key frame within %d frames of a PLI", n)
		}
	}
}
