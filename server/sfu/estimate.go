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
//
// That rule alone, behind a link that drops what exceeds its rate, climbs back without
// end: loss-free on the layer that fits, the estimate grows until the next layer up is
// chosen, which overflows the link, and the cut brings it back down, every few seconds
// (TestGroupCappedDownlinkGetsTheLowLayer saw a capped subscriber switch between two
// layers all along, losing a tenth of its packets for seconds at each climb). So once loss
// shows where the link ends, growth stops below that rate for a while (holdFirst), and
// each climb that runs into loss again soon after doubles the wait (up to holdMax): a
// capped subscriber tries the next layer ever more rarely, while one whose link got better
// finds out within holdMax plus the climb.

const (
	lossHigh      = 0.10
	lossLow       = 0.02
	lossGrowth    = 1.08                   // per second without loss
	lossMinGap    = 300 * time.Millisecond // between two decreases: one loss burst, one cut
	minEstimate   = 64_000
	maxEstimate   = 50_000_000
	rembFreshness = 5 * time.Second // a REMB older than this no longer counts

	// holdBelow is how close to the rate where loss last appeared the estimate may grow
	// while it holds: far enough below it that the layer choice does not climb back.
	holdBelow = 0.85
	holdFirst = 4 * time.Second
	holdMax   = 32 * time.Second
	// holdRetry is how soon after a hold ended new loss counts as the climb failing
	// again (the climb, the wait for a key frame and a report take about this long).
	holdRetry = 15 * time.Second
)

type lossEstimator struct {
	bps          float64
	lastIncrease time.Time
	lastDecrease time.Time

	lossAt    float64       // the estimate when loss last exceeded lossHigh (0: never)
	hold      time.Duration // how long growth stays below lossAt after such loss
	holdUntil time.Time
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
			e.holdAfterLoss(now)
			e.bps *= 1 - 0.5*loss
			e.lastDecrease = now
		}
		e.lastIncrease = now
	case loss < lossLow:
		dt := math.Min(now.Sub(e.lastIncrease).Seconds(), 1)
		if dt > 0 {
			next := e.bps * math.Pow(lossGrowth, dt)
			if now.Before(e.holdUntil) {
				next = math.Max(e.bps, math.Min(next, holdBelow*e.lossAt))
			}
			e.bps = next
		}
		e.lastIncrease = now
	default:
		e.lastIncrease = now
	}
	e.bps = math.Max(minEstimate, math.Min(maxEstimate, e.bps))
	return uint64(e.bps)
}

// holdAfterLoss records the rate at which loss appeared and how long to stay below it: the
// same hold while it lasts (the cut was not yet deep enough), twice as long when the loss
// comes soon after a hold ended (the climb failed again), the first hold otherwise.
func (e *lossEstimator) holdAfterLoss(now time.Time) {
	switch {
	case e.hold == 0 || now.Sub(e.holdUntil) > holdRetry:
		e.hold = holdFirst
	case !now.Before(e.holdUntil):
		e.hold = min(2*e.hold, holdMax)
	}
	e.lossAt = e.bps
	e.holdUntil = now.Add(e.hold)
}
