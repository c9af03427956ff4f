package sfu

import (
	"testing"
	"time"
)

// TestLossEstimatorHoldsBelowTheLoss covers the hold after loss (TestLossEstimator in
// pure_test.go the rule without it). Each report of 64/256 loss cuts by 12.5 %.
func TestLossEstimatorHoldsBelowTheLoss(t *testing.T) {
	type rep struct {
		at   time.Duration
		lost uint8
	}
	const s = time.Second
	for _, tt := range []struct {
		name     string
		reports  []rep
		want     uint64
		wantHold time.Duration
	}{
		// Loss at 1 Mbps: 875 kbps, held under 850 kbps, so not growing, for 4 s.
		{"no growth during the hold", []rep{{0, 64}, {s, 0}, {2 * s, 0}, {3 * s, 0}}, 875_000, holdFirst},
		{"growth after it", []rep{{0, 64}, {5 * s, 0}}, 945_000, holdFirst},
		// Below the held rate it grows up to it.
		{"growth up to 85 % of the rate of the loss", []rep{{0, 128}, {s, 0}, {2 * s, 0}, {3 * s, 0}}, 850_000, holdFirst},
		// Loss again a second after the hold: 765,625 bps, held for 8 s from 5 s.
		{"loss soon after a hold doubles it", []rep{{0, 64}, {5 * s, 64}, {10 * s, 0}, {12 * s, 0}}, 765_625, 2 * holdFirst},
		{"and growth resumes after the doubled hold", []rep{{0, 64}, {5 * s, 64}, {10 * s, 0}, {14 * s, 0}}, 826_875, 2 * holdFirst},
		{"loss during a hold keeps its length", []rep{{0, 64}, {2 * s, 64}, {7 * s, 0}}, 826_875, holdFirst},
		{"loss long after a hold starts afresh", []rep{{0, 64}, {5 * s, 64}, {40 * s, 64}, {45 * s, 0}}, 723_516, holdFirst},
		{"the hold stops doubling at its maximum", []rep{{0, 64}, {5 * s, 64}, {14 * s, 64}, {31 * s, 64}, {64 * s, 64}, {97 * s, 64}}, 448_795, holdMax},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e lossEstimator
			t0 := time.Unix(0, 0)
			var got uint64
			for _, r := range tt.reports {
				got = e.report(r.lost, t0.Add(r.at), 1_000_000)
			}
			if d := int64(got) - int64(tt.want); d < -1 || d > 1 {
				t.Errorf("estimate %d, want %d", got, tt.want)
			}
			if e.hold != tt.wantHold {
				t.Errorf("hold %v, want %v", e.hold, tt.wantHold)
			}
		})
	}
}
