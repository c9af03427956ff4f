package sfu

import (
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestPaddingOnlyPacketsReachSubscribersIntact: a browser probing its uplink sends packets
// of padding only on its video streams. The SFU forwarded them with the padding bit set but
// without the padding, which no RTP parser accepts: a pion subscriber's track reader ended
// there, and with it all video from that publisher, while its audio went on (issue 20:
// a bot in TestGroupThreeTabsTwoBots got four packets of a tab's video, then none).
func TestPaddingOnlyPacketsReachSubscribersIntact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers []sfutest.Layer
	}{
		{"simulcast", sfutest.DefaultLayers},
		{"one layer", plainVideo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			pub := h.join("pad", "pub", sfutest.Options{Audio: true, Layers: tc.layers})
			h.publish(pub)
			// The subscriber comes late, as a bot joining a running group does.
			sub := h.join("pad", "sub", sfutest.Options{})
			testsync.Eventually(t, 20*time.Second, "sub receiving pub's video", func() bool {
				return sub.Received("pub").VideoPackets > 30
			})
			pub.PadVideo(5)
			before := sub.Received("pub")
			var r sfutest.Received
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("sub got from pub: %d video packets before the padding, %d (%d of padding) and %d audio packets by the end",
						before.VideoPackets, r.VideoPackets, r.PaddingPackets, r.AudioPackets)
				}
			})
			testsync.Eventually(t, 20*time.Second, "sub receiving the padding, then more video", func() bool {
				r = sub.Received("pub")
				return r.PaddingPackets >= 5 && r.VideoPackets > before.VideoPackets+60
			})
		})
	}
}
