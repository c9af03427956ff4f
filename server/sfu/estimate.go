package sfu

import (
	"math"
	"time"
)

// A subscriber's downlink estimate comes from its REMB when it sends one (browsers do,
// since the down connection negotiates goog-remb and not transport-cc). A client that sends
// none (a pion bot) still sends receiver reports; from their loss the SFU keeps an estimate
// of its own, with the loss-based rule of Google's congestion control: above 10 % loss
// the estimate shrinks by half the loss, below 2 % it grows by 8 % a second, in between
// it holds.

const (
	lossHigh      = 0.10
	lossLow       = 0.02
	lossGrowth    = 1.08                   // per second without loss
	lossMinGap    = 300 * time.Millisecond // between two decreases: one loss burst, one cut
	minEstimate   = 64_000
	maxEstimate   = 50_000_000
	rembFreshness = 5 * time.Second // a REMB older than this no longer counts
)

type lossEstimator struct {
	bps          float64
	lastIncrease time.Time
	lastDecrease time.Time
}

// report takes one receiver report's fraction lost (0–255 of 256) and returns the new
// estimate; start is the estimate before the first report.
func (e *lossEstimator) report(fractionLost uint8, now time.Time, start uint64) uint64 {
	if e.bps == 0 {
		e.bps = float64(start)
		e.lastIncrease = now
	}
	loss := float64(fractionLost) / 256
	switch {
	case loss > lossHigh:
		if now.Sub(e.lastDecrease) >= lossMinGap {
			e.bps *= 1 - 0.5*loss
			e.lastDecrease = now
		}
		e.lastIncrease = now
	case loss < lossLow:
		dt := math.Min(now.Sub(e.lastIncrease).Seconds(), 1)
		if dt > 0 {
			e.bps *= math.Pow(lossGrowth, dt)
		}
		e.lastIncrease = now
	default:
		e.lastIncrease = now
	}
	e.bps = math.Max(minEstimate, math.Min(maxEstimate, e.bps))
	return uint64(e.bps)
}
