package main

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
	"time"
)

// Every payload the load sends starts with the step id (1 byte) and its send time (8 bytes,
// nanoseconds since epoch on this process's monotonic clock). Sender and receiver are this
// process in every mode (pairs, external peers, the floor without a server), so the receive
// time minus the stamp is the one-way time through the server, with no clock to align.
const stampLen = 9

var epoch = time.Now()

// monoNow is the time since epoch: time.Since reads the monotonic clock.
func monoNow() int64 { return int64(time.Since(epoch)) }

// stamp writes the step id and the send time at the start of payload.
func stamp(payload []byte, step int) {
	payload[0] = byte(step)
	binary.BigEndian.PutUint64(payload[1:stampLen], uint64(monoNow()))
}

// latSubBits is the precision of latHist: 2^latSubBits buckets per power of two, so a
// percentile read from a bucket's middle is within 1/2^(latSubBits+1) (1.6 %) of the sample.
const (
	latSubBits = 5
	latSub     = 1 << latSubBits
	latBuckets = (64 - latSubBits + 1) * latSub
)

// latHist counts durations in log-linear buckets: fixed size, recorded with one atomic add, so
// the receive loops of many allocations share it without a lock or an allocation per packet.
type latHist struct {
	n      atomic.Uint64
	counts [latBuckets]atomic.Uint64
}

// latBucket is the bucket of v ns: values under latSub have one each, above that each power
// of two is cut into latSub equal buckets.
func latBucket(v uint64) int {
	if v < latSub {
		return int(v)
	}
	shift := bits.Len64(v) - latSubBits - 1
	return (shift+1)<<latSubBits + int(v>>shift) - latSub
}

// latBounds is the range [lo, lo+width) of bucket i.
func latBounds(i int) (lo, width uint64) {
	if i < latSub {
		return uint64(i), 1
	}
	shift := i>>latSubBits - 1
	return uint64(i&(latSub-1)+latSub) << shift, 1 << shift
}

func (h *latHist) record(d time.Duration) {
	if d < 0 { // cannot happen on one monotonic clock; a zero rather than a wrapped huge value
		d = 0
	}
	h.counts[latBucket(uint64(d))].Add(1)
	h.n.Add(1)
}

// percentile is the q-quantile (0 < q <= 1) of what was recorded, the middle of its bucket;
// ok is false with no samples.
func (h *latHist) percentile(q float64) (d time.Duration, ok bool) {
	n := h.n.Load()
	if n == 0 {
		return 0, false
	}
	rank := uint64(q*float64(n) + 0.999999) // the ceil(q n)-th smallest sample, 1-based
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, w := latBounds(i)
			return time.Duration(lo + w/2), true
		}
	}
	// Recorded concurrently with this read: n ran ahead of the counts; the last bucket seen.
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i].Load() > 0 {
			lo, w := latBounds(i)
			return time.Duration(lo + w/2), true
		}
	}
	return 0, false
}

// stampOf is the send time stamped in payload.
func stampOf(payload []byte) (int64, bool) {
	if len(payload) < stampLen {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(payload[1:stampLen])), true
}
