package main

import "time"

// burstSpan is the most of the schedule one tick sends at once: a backlog beyond it (the
// load cannot keep up) is skipped and counted as not sent.
const burstSpan = 5 * time.Millisecond

// pacer is the fixed send schedule of one step: packet k is due at origin + k/rate, for
// length. Each tick of the send loop sends the packets that fell due since the previous
// tick. Two kinds of lateness are told apart by the kernel's count of the time the loop's
// thread spent runnable but waiting for its CPU (run delay, /proc/thread-self/schedstat):
//   - A stall: run delay, another process had the load's CPU. The schedule is paused for
//     it: origin moves on by the delay, and what fell due is sent after it at the scheduled
//     spacing, so no catch-up burst reaches the server and one stall does not end a ramp;
//     the step lasts that much longer (its rates are per second of schedule, stalls
//     excluded, and the stalls are reported).
//   - Overload: the loop had its CPU and still fell behind (its own work, its Go runtime,
//     the kernel's work in its system calls). The backlog beyond burstSpan is skipped,
//     counted as not sent, so sent/offered shows the load's own limit.
//
// Both rules depend only on the load's own scheduling, never on the server's answers, so
// they treat every server the same.
type pacer struct {
	rate      float64 // pkt/s
	length    int64   // ns of schedule
	burst     uint64
	origin    int64 // monoNow of schedule time 0, moved on by stalls
	due       uint64
	skipped   uint64
	stalled   int64
	lastDelay int64 // run delay at the previous tick
}

// newPacer starts a schedule at monoNow now, the loop thread's run delay being delay ns.
func newPacer(rate float64, length time.Duration, now, delay int64) *pacer {
	return &pacer{
		rate: rate, length: int64(length),
		burst:  max(uint64(rate*burstSpan.Seconds()), 8),
		origin: now, lastDelay: delay,
	}
}

// tick is the send loop's turn at monoNow now with run delay delay: n packets are due now
// (the caller sends them), end is true once the schedule is over.
func (p *pacer) tick(now, delay int64) (n uint64, end bool) {
	if off := delay - p.lastDelay; off > 0 {
		p.origin += off
		p.stalled += off
	}
	p.lastDelay = delay
	el := now - p.origin
	if el >= p.length {
		el, end = p.length, true
	}
	target := uint64(float64(el) * p.rate / 1e9)
	if target <= p.due {
		return 0, end
	}
	n = target - p.due
	if n > p.burst {
		p.skipped += n - p.burst
		n = p.burst
	}
	p.due = target
	return n, end
}

// next is how long until the next packet falls due, at wall time now.
func (p *pacer) next(now int64) time.Duration {
	at := p.origin + int64(float64(p.due+1)*1e9/p.rate)
	return time.Duration(max(at-now, 0))
}

// active is the schedule's own time at wall time now: elapsed, stalls excluded.
func (p *pacer) active(now int64) time.Duration {
	return time.Duration(min(now-p.origin, p.length))
}
