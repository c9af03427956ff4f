package sfu

import (
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// TestUnansweredDownOfferIsSentAgain: a subscriber that leaves the SFU's down offers
// unanswered (lost, or given up on a stalled machine: a browser took 13 s to apply one at
// load 48) gets the waiting offer again, answers it, and receives the publisher; without the
// repeat it would never get another offer and nothing more would reach it. A client
// answers a repeat of an offer it answered no second time, so the SFU sees one answer.
func TestUnansweredDownOfferIsSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ignored int
	}{
		{"answers the first", 0},
		{"leaves one unanswered", 1},
		{"leaves two unanswered", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{OfferRepeat: 500 * time.Millisecond})
			pub := h.join("repeat", "pub", sfutest.Options{Audio: true, Layers: plainVideo})
			h.publish(pub)
			sub := h.join("repeat", "sub", sfutest.Options{IgnoreDownOffers: tc.ignored})
			testsync.Eventually(t, 20*time.Second, "sub receiving pub's audio and video", func() bool {
				r := sub.Received("pub")
				return r.VideoPackets > 30 && r.AudioPackets > 30
			})
			offers, errs := 0, 0
			for _, m := range sub.Messages() {
				switch {
				case m.Type == protocol.GroupOffer && m.PC == protocol.PCDown:
					offers++
				case m.Type == protocol.GroupError || m.Type == "client-error":
					errs++
					t.Errorf("sub got %s: %s %s", m.Type, m.Code, m.Message)
				}
			}
			if offers < tc.ignored+1 {
				t.Errorf("sub got %d down offers, want at least %d", offers, tc.ignored+1)
			}
			t.Logf("%d down offers, %d errors", offers, errs)
		})
	}
}
