package sfu

import (
	"time"

	"github.com/onertc/onertc/server/sfu/packetcache"
)

// A subscriber's NACK for a packet is answered from the cache, but not every NACK for the
// same packet: pion's NACK generator (the bots') asks again every 100 ms for as long as
// the packet is missing, so behind a bottleneck that drops what exceeds it each lost
// packet was resent ten times a second; the resends were dropped in turn and asked for
// again, until retransmissions filled the link (4,000 packets a second dropped on a
// 400 kbit/s cap in TestGroupCappedDownlinkGetsTheLowLayer) and the subscriber's loss, and
// so its loss-based estimate, never recovered even on the lowest layer. A packet is resent
// at most maxResends times, resendEvery apart, as a receiver's own NACK module would
// space its requests.
const (
	maxResends  = 3
	resendEvery = 250 * time.Millisecond
	// resendSlots is how many recent outgoing sequence numbers the guard remembers (a
	// power of two; more than a NACK generator's window reaches back in practice).
	resendSlots = 1024
	// resendForget is when a slot counts as free again, for the sequence numbers wrap.
	// pion's NACK generator asks for a packet while it is among the last 512 received:
	// 25 s of a 20-packet-a-second low layer; a wrap within 30 s would take over 2,000
	// packets a second on one track.
	resendForget = 30 * time.Second
)

// resendSlot keeps its time as Unix nanoseconds: a time.Time would make each guard 32 KiB
// instead of 16, and every subscriber has one per remote track.
type resendSlot struct {
	seq   uint16
	count uint8
	at    int64
}

// resender is what a down track needs only once its subscriber NACKs: the guard, and the
// buffer a cached packet is copied into.
type resender struct {
	guard  resendGuard
	cached [packetcache.MaxPacket]byte
}

// resendGuard decides which NACKed packets of one outgoing stream to resend.
type resendGuard struct {
	slots [resendSlots]resendSlot
}

// allow reports whether the packet sent as seq may be resent now, and counts it if so.
func (g *resendGuard) allow(seq uint16, now time.Time) bool {
	s := &g.slots[seq%resendSlots]
	at := now.UnixNano()
	since := time.Duration(at - s.at)
	if s.count == 0 || s.seq != seq || since > resendForget {
		*s = resendSlot{seq: seq, count: 1, at: at}
		return true
	}
	if s.count >= maxResends || since < resendEvery {
		return false
	}
	s.count++
	s.at = at
	return true
}
