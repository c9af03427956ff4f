// Package packetcache keeps the last packets of one RTP stream, indexed by sequence number,
// so that the SFU answers a subscriber's NACK without asking the publisher again.
//
// The packets are kept back to back in one ring of bytes rather than in slots of the
// largest packet's size: an audio packet is a tenth of that, and the lower simulcast
// layers send a few packets a second, so fixed slots held mostly unused memory (3 MB of
// the 7.6 MB each participant of a 3-layer room cost the server). The ring starts small
// and grows while it holds less than MinAge of its stream, and shrinks when it holds more
// than twice that, so a stream's memory follows its bitrate.
package packetcache

import (
	"sync"
	"time"
)

// MaxPacket is the largest packet kept; a longer one is not cached (an RTP packet over a
// path MTU of 1500 cannot be longer).
const MaxPacket = 1500

// MinAge is how far back a grown cache reaches at least: a NACK comes a round trip after
// the loss, and the SFU resends one packet for less than a second (server/sfu/resend.go).
// Whenever the ring wraps sooner than this after its previous wrap, it grows to hold
// growMargin times MinAge at the rate it just went round at (at most growStep times at
// once: the first round, a key frame, is faster than the stream).
const MinAge = 2 * time.Second

const (
	growMargin = 1.25
	growStep   = 4
	// A ring that goes round slower than shrinkAge shrinks to the same fit: the rate it
	// grew for was a burst (the key frames every new subscriber asks for, or a reader
	// that fell behind and caught up); in a 20-room benchmark half the video rings had
	// grown to twice what their stream needed, or to maxRing.
	shrinkAge = 2 * MinAge
	// growUnit rounds the ring's sizes.
	growUnit = 4 << 10
)

// initialRing is the ring's first size: several packets of the largest size, and a
// second or more of an audio stream.
const initialRing = 8 << 10

type entry struct {
	start uint64 // the packet's first byte, counted over everything the ring took
	n     uint16 // its length (0: empty)
	seq   uint16
}

// Cache holds the last Size packets of one stream, as far as they fit in its ring. Its
// methods are safe for concurrent use: the publisher's reader stores while subscribers'
// NACK handlers load.
type Cache struct {
	mu      sync.Mutex
	index   []entry // by sequence number modulo its length
	ring    []byte
	maxRing int
	// written counts the bytes the ring took, including the tail skipped at each wrap;
	// a byte counted as x is at ring[x%len(ring)].
	written uint64
	// floor is the lowest offset still intact (the ring's growth keeps only what the old
	// ring held).
	floor uint64
	// lastWrap is when the ring last went round (or took its first packet), lastWritten
	// what written was then.
	lastWrap    time.Time
	lastWritten uint64
}

// New returns a cache of size packets (at least 1).
func New(size int) *Cache {
	if size < 1 {
		size = 1
	}
	maxRing := max(initialRing, (size*MaxPacket+growUnit-1)/growUnit*growUnit)
	return &Cache{index: make([]entry, size), maxRing: maxRing}
}

// Store keeps a copy of packet under seq, received at now, replacing whatever used its
// index slot. It reports false for a packet too long to keep (or empty).
func (c *Cache) Store(seq uint16, packet []byte, now time.Time) bool {
	n := len(packet)
	if n == 0 || n > MaxPacket {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring == nil {
		c.ring = make([]byte, initialRing)
		c.lastWrap = now
	}
	size := uint64(len(c.ring))
	if head := c.written % size; head+uint64(n) > size {
		// The packet does not fit before the end: it goes to the start, and the tail
		// stays unused this round.
		c.written += size - head
		c.wrapped(now)
		size = uint64(len(c.ring))
	}
	head := c.written % size
	copy(c.ring[head:], packet)
	c.index[int(seq)%len(c.index)] = entry{start: c.written, n: uint16(n), seq: seq}
	c.written += uint64(n)
	return true
}

// wrapped resizes the ring when it went round sooner than MinAge (growing it, up to
// maxRing) or later than shrinkAge (shrinking it), keeping the newest bytes that fit.
// Called with mu held, with written at a multiple of the ring's length.
func (c *Cache) wrapped(now time.Time) {
	round, took := now.Sub(c.lastWrap), c.written-c.lastWritten
	c.lastWrap, c.lastWritten = now, c.written
	old := c.ring
	// fit holds growMargin times MinAge at the rate of the round that just ended.
	fit := func() int {
		want := float64(took) * growMargin * float64(MinAge) / float64(round)
		return (int(want) + growUnit - 1) / growUnit * growUnit
	}
	var size int
	switch {
	case round < MinAge && len(old) < c.maxRing:
		want := len(old) * growStep
		if round > 0 {
			want = min(want, fit())
		}
		size = min(want, c.maxRing)
	case round > shrinkAge && len(old) > initialRing:
		size = max(fit(), initialRing)
	default:
		return
	}
	if size == len(old) || (round < MinAge && size < len(old)) {
		return
	}
	oldSize, newSize := uint64(len(old)), uint64(size)
	ring := make([]byte, newSize)
	from := uint64(0)
	if kept := min(oldSize, newSize); c.written > kept {
		from = c.written - kept
	}
	for x := from; x < c.written; {
		i, j := x%oldSize, x%newSize
		k := min(oldSize-i, newSize-j, c.written-x)
		copy(ring[j:j+k], old[i:i+k])
		x += k
	}
	c.ring = ring
	c.floor = max(c.floor, from)
}

// Load copies the packet stored under seq into buf and returns its length, or 0 when it is
// not (or no longer) in the cache or buf is too short.
func (c *Cache) Load(seq uint16, buf []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.index[int(seq)%len(c.index)]
	size := uint64(len(c.ring))
	if e.n == 0 || e.seq != seq || len(buf) < int(e.n) {
		return 0
	}
	// Intact while the writer has not come round to it again.
	if e.start < c.floor || c.written-e.start > size {
		return 0
	}
	// A packet the ring's growth moved may go round its end.
	head := e.start % size
	k := copy(buf[:e.n], c.ring[head:min(head+uint64(e.n), size)])
	return k + copy(buf[k:e.n], c.ring)
}

// Bytes is the size of the cache's ring (what its packets occupy at most).
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ring)
}
