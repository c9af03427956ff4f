//go:build !js

package bot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"
	"github.com/pion/webrtc/v3/pkg/media/ivfreader"
)

// TestSimulcastClipsAreAlignedLayers checks what the SFU's layer choice relies on: the
// simulcast layers grow in size and bitrate from q to f, and their key frames fall on the
// same frames, also across the loop.
func TestSimulcastClipsAreAlignedLayers(t *testing.T) {
	const frames = 2 * 60 // two loops of the 4 s clips
	var keys [][]int
	prevWidth, prevBytes := 0, 0
	for i, clip := range simulcastClips {
		src, err := newIVFSourceOf(clip)
		if err != nil {
			t.Fatalf("layer %s: %v", simulcastRIDs[i], err)
		}
		width, bytes := 0, 0
		var k []int
		for f := range frames {
			s, err := src.next()
			if err != nil {
				t.Fatalf("layer %s frame %d: %v", simulcastRIDs[i], f, err)
			}
			bytes += len(s.Data)
			// A key frame's header (RFC 6386 9.1) holds the width after the start code.
			if isVP8KeyFrame(s.Data) && len(s.Data) >= 10 {
				k = append(k, f)
				width = int(binary.LittleEndian.Uint16(s.Data[6:8]) & 0x3fff)
			}
		}
		if len(k) == 0 || k[0] != 0 {
			t.Fatalf("layer %s: key frames at %v, want one first", simulcastRIDs[i], k)
		}
		if width <= prevWidth || bytes <= 2*prevBytes {
			t.Errorf("layer %s: %d wide, %d bytes; the layer below is %d wide, %d bytes (want wider and over twice the bytes)",
				simulcastRIDs[i], width, bytes, prevWidth, prevBytes)
		}
		t.Logf("layer %s: %d wide, %.0f kbit/s, key frames at %v", simulcastRIDs[i], width, float64(bytes*8)/(frames/15.0)/1000, k)
		prevWidth, prevBytes = width, bytes
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		if len(keys[i]) != len(keys[0]) {
			t.Fatalf("key frames of %s at %v, of %s at %v", simulcastRIDs[i], keys[i], simulcastRIDs[0], keys[0])
		}
		for j := range keys[i] {
			if keys[i][j] != keys[0][j] {
				t.Fatalf("key frames of %s at %v, of %s at %v", simulcastRIDs[i], keys[i], simulcastRIDs[0], keys[0])
			}
		}
	}
}

// clipIndex maps each frame of an IVF clip to its place in the clip, so that a test tells
// by a received frame's content where in the clip it is; keys marks the clip's key frames.
func clipIndex(t *testing.T, clip []byte) (at map[string]int, keys []bool) {
	t.Helper()
	r, _, err := ivfreader.NewWith(bytes.NewReader(clip))
	if err != nil {
		t.Fatal(err)
	}
	at = map[string]int{}
	for n := 0; ; n++ {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return at, keys
		}
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := at[string(f)]; dup {
			t.Fatalf("frames %d and %d of the clip are alike: content does not tell them apart", prev, n)
		}
		at[string(f)] = n
		keys = append(keys, isVP8KeyFrame(f))
	}
}

// A PLI on one layer's SSRC, from a real pion receiver of the three layers, makes every
// layer skip from the same frame to the clips' next key frame: the key frame arrives on
// the asked layer with the frames before it left out (the clip's own would have come after
// them), and the layers stay on the same frame of their clips.
func TestSimulcastBotAnswersPLIOnEveryLayer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := New(Options{Server: "http://127.0.0.1:1", Room: "pli"})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := newSimulcast(b, "pli")
	if err != nil {
		t.Fatal(err)
	}
	var index []map[string]int
	var keys []bool // the clips' key frames, the same in each (TestSimulcastClipsAreAlignedLayers)
	for _, clip := range simulcastClips {
		at, k := clipIndex(t, clip)
		index, keys = append(index, at), k
	}
	loop := len(keys)

	send, err := sim.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	if err := sim.attach(send); err != nil {
		t.Fatal(err)
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	recv, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()

	type frame struct {
		layer, at int // at: the frame's place in its layer's clip (-1: not in the clip)
		key       bool
		prev      int // the place of the layer's frame before it (-1: none)
	}
	frames := make(chan frame, 1024)
	var ssrcs [3]atomic.Uint32
	recv.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		layer := slices.Index(simulcastRIDs, tr.RID())
		if layer < 0 {
			t.Errorf("track with RID %q", tr.RID())
			return
		}
		ssrcs[layer].Store(uint32(tr.SSRC()))
		readFrames(ctx, tr, func(data []byte) {
			at, ok := index[layer][string(data)]
			if !ok {
				at = -1
			}
			select {
			case frames <- frame{layer: layer, at: at, key: isVP8KeyFrame(data)}:
			case <-ctx.Done():
			}
		})
	})
	negotiate(t, send, recv)
	go func() { _ = sim.pump(ctx) }()

	last := [3]int{-1, -1, -1}
	next := func(t *testing.T) frame {
		t.Helper()
		select {
		case f := <-frames:
			if f.at < 0 {
				t.Fatalf("layer %s: a frame not in its clip", simulcastRIDs[f.layer])
			}
			f.prev, last[f.layer] = last[f.layer], f.at
			return f
		case <-ctx.Done():
			t.Fatal("no video frame")
			return frame{}
		}
	}
	// toKey is how many frames after frame at the clips' own next key frame comes.
	toKey := func(at int) int {
		for d := 1; d < loop; d++ {
			if keys[(at+d)%loop] {
				return d
			}
		}
		return loop
	}
	for asked := range simulcastRIDs {
		t.Run("PLI on "+simulcastRIDs[asked], func(t *testing.T) {
			// Ask once every layer plays, when the clips' own next key frame is still far
			// off: at least 20 frames (1.3 s), more than the answer takes even on a loaded
			// machine.
			for {
				f := next(t)
				if f.layer == asked && !f.key && toKey(f.at) >= 20 && !slices.Contains(last[:], -1) {
					break
				}
			}
			pli := &rtcp.PictureLossIndication{MediaSSRC: ssrcs[asked].Load()}
			if err := recv.WriteRTCP([]rtcp.Packet{pli}); err != nil {
				t.Fatal(err)
			}
			// The first key frame after the PLI on each layer, and the frame before it.
			key, before := [3]int{-1, -1, -1}, [3]int{}
			for slices.Contains(key[:], -1) {
				if f := next(t); f.key && key[f.layer] < 0 {
					key[f.layer], before[f.layer] = f.at, f.prev
				}
			}
			for l, rid := range simulcastRIDs {
				skipped := (key[l] - before[l] - 1 + loop) % loop
				t.Logf("layer %s: key frame %d after frame %d, %d frames skipped", rid, key[l], before[l], skipped)
				// Without the answer the key frame is the clip's own, right after the frame
				// before it.
				if skipped < 5 {
					t.Errorf("layer %s: key frame %d came after frame %d: the clip's own, not an answer to the PLI", rid, key[l], before[l])
				}
				if key[l] != key[asked] {
					t.Errorf("layer %s skipped to frame %d, layer %s to %d: the layers no longer show the same moment", rid, key[l], simulcastRIDs[asked], key[asked])
				}
			}
		})
	}
}
