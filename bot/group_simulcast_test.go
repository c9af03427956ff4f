//go:build !js

package bot

import (
	"encoding/binary"
	"testing"
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
