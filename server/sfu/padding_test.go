package sfu

import (
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestPaddingOnlyPacketsReachSubscribersIntact: a browser probing its uplink sends packets
// of padding only on its media streams, audio included. The SFU forwarded them with the
// padding bit set but without the padding, which no RTP parser accepts: a pion
// subscriber's track reader ended there, and with it all of that track from that
// publisher (issue 20: a bot in TestGroupThreeTabsTwoBots got four packets of a tab's
// video, then none; the bots in TestGroupRelayOnlyTabBehindA443OnlyFirewall got a tab's
// first audio or video packets, then none).
func TestPaddingOnlyPacketsReachSubscribersIntact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers []sfutest.Layer
		audio  bool // pad the audio, not the video
	}{
		{"simulcast", sfutest.DefaultLayers, false},
		{"one layer", plainVideo, false},
		{"audio", plainVideo, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			pub := h.join("pad", "pub", sfutest.Options{Audio: true, Layers: tc.layers})
			h.publish(pub)
			// The subscriber comes late, as a bot joining a running group does.
			sub := h.join("pad", "sub", sfutest.Options{})
			testsync.Eventually(t, 20*time.Second, "sub receiving pub's audio and video", func() bool {
				r := sub.Received("pub")
				return r.VideoPackets > 30 && r.AudioPackets > 30
			})
			count := func(r sfutest.Received) int { return r.VideoPackets }
			if tc.audio {
				pub.PadAudio(5)
				count = func(r sfutest.Received) int { return r.AudioPackets }
			} else {
				pub.PadVideo(5)
			}
			before := count(sub.Received("pub"))
			testsync.Eventually(t, 20*time.Second, "sub receiving the padding, then more", func() bool {
				r := sub.Received("pub")
				return r.PaddingPackets >= 5 && count(r) > before+60
			})
		})
	}
}
