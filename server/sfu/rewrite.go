package sfu

import "time"

// A subscriber receives one outgoing stream per published track, whichever simulcast layer
// feeds it. The rewriter maps each forwarded packet's sequence number, timestamp, VP8
// picture id and TL0PICIDX onto that outgoing stream: constant offsets while one layer
// feeds it (so reordered and retransmitted packets map exactly), new offsets at a switch
// chosen so that the decoder sees the next sequence number, a timestamp advanced by the
// wall-clock time since the last packet, and the next picture id. Nothing jumps back.

// srcPacket is what the rewriter reads of an incoming packet.
type srcPacket struct {
	layer int
	seq   uint16
	ts    uint32
	pid   uint16 // VP8 picture id (0 when absent)
	tl0   uint8  // VP8 TL0PICIDX (0 when absent)
	// probe is a padding-only packet: it takes a sequence number, but its picture id and
	// TL0PICIDX mean nothing and must not be what the next layer continues from.
	probe bool
}

// outIDs are the rewritten fields of a packet.
type outIDs struct {
	seq uint16
	ts  uint32
	pid uint16
	tl0 uint8
}

// epoch is a stretch of the outgoing stream fed by one layer with constant offsets.
type epoch struct {
	layer    int
	inStart  uint16 // first incoming sequence number of the epoch
	outStart uint16 // its outgoing number
	seqOff   uint16
	tsOff    uint32
	pidOff   uint16
	tl0Off   uint8
}

func (e epoch) apply(p srcPacket) outIDs {
	return outIDs{seq: p.seq + e.seqOff, ts: p.ts + e.tsOff, pid: (p.pid + e.pidOff) & 0x7fff, tl0: p.tl0 + e.tl0Off}
}

// keptEpochs is how many past epochs NACKs may still reach (a retransmission asked for a
// packet sent before the last switches).
const keptEpochs = 4

// epochReach is how far behind its newest packet an epoch's start is kept once the epoch
// is longer. The start is compared with 16-bit sequence arithmetic, which wraps half-way
// round: an epoch whose start stayed put would refuse every packet from its 32,768th on
// (eleven minutes of audio at 50 packets a second, which never switches layer). Packets
// this old are of no use to a decoder, nor retransmissions of them.
const epochReach = 1 << 12

type rewriter struct {
	clockRate uint32
	started   bool
	cur       epoch
	past      []epoch // oldest first, at most keptEpochs
	last      outIDs  // the newest packet sent
	lastWall  time.Time
}

func newRewriter(clockRate uint32) *rewriter {
	return &rewriter{clockRate: clockRate}
}

// layer returns the layer feeding the stream, or -1 before the first packet.
func (r *rewriter) layer() int {
	if !r.started {
		return -1
	}
	return r.cur.layer
}

// switchTo starts a new epoch at p, which should be the first packet of a key frame (for
// video) of p.layer.
func (r *rewriter) switchTo(p srcPacket, now time.Time) {
	next := outIDs{seq: p.seq, ts: p.ts, pid: p.pid, tl0: p.tl0}
	if r.started {
		step := uint32(1)
		if d := now.Sub(r.lastWall); d > 0 {
			if s := uint32(d.Seconds() * float64(r.clockRate)); s > step {
				step = s
			}
		}
		next = outIDs{seq: r.last.seq + 1, ts: r.last.ts + step, pid: (r.last.pid + 1) & 0x7fff, tl0: r.last.tl0 + 1}
		r.past = append(r.past, r.cur)
		if len(r.past) > keptEpochs {
			r.past = r.past[1:]
		}
	}
	r.cur = epoch{
		layer:    p.layer,
		inStart:  p.seq,
		outStart: next.seq,
		seqOff:   next.seq - p.seq,
		tsOff:    next.ts - p.ts,
		pidOff:   next.pid - p.pid,
		tl0Off:   next.tl0 - p.tl0,
	}
	if !r.started {
		r.last = next
		r.last.seq-- // so that p counts as newer
	}
	r.started = true
}

// rewrite maps p onto the outgoing stream. It reports false for a packet the stream must
// not carry: another layer's, or one older than the start of the current epoch (its number
// is already taken by the previous layer's packets).
func (r *rewriter) rewrite(p srcPacket, now time.Time) (outIDs, bool) {
	if !r.started || p.layer != r.cur.layer || int16(p.seq-r.cur.inStart) < 0 {
		return outIDs{}, false
	}
	out := r.cur.apply(p)
	if int16(out.seq-r.last.seq) > 0 {
		pid, tl0 := r.last.pid, r.last.tl0
		r.last, r.lastWall = out, now
		if p.probe {
			r.last.pid, r.last.tl0 = pid, tl0
		}
		if p.seq-r.cur.inStart > 2*epochReach {
			r.cur.inStart, r.cur.outStart = p.seq-epochReach, out.seq-epochReach
			// The past epochs end where the current one began, which is no longer known.
			r.past = nil
		}
	}
	return out, true
}

// lookup finds which layer and incoming sequence number fed outgoing number seq, and the
// epoch to rewrite it with, for a retransmission.
func (r *rewriter) lookup(seq uint16) (epoch, uint16, bool) {
	if !r.started || int16(r.last.seq-seq) < 0 {
		return epoch{}, 0, false
	}
	if int16(seq-r.cur.outStart) >= 0 {
		return r.cur, seq - r.cur.seqOff, true
	}
	end := r.cur.outStart
	for i := len(r.past) - 1; i >= 0; i-- {
		e := r.past[i]
		if int16(seq-e.outStart) >= 0 && int16(end-seq) > 0 {
			return e, seq - e.seqOff, true
		}
		end = e.outStart
	}
	return epoch{}, 0, false
}
