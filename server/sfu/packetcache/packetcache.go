// Package packetcache keeps the last packets of one RTP stream, indexed by sequence number,
// so that the SFU answers a subscriber's NACK without asking the publisher again.
package packetcache

import "sync"

// MaxPacket is the largest packet kept; a longer one is not cached (an RTP packet over a
// path MTU of 1500 cannot be longer).
const MaxPacket = 1500

type slot struct {
	seq   uint16
	valid bool
	n     int
	buf   [MaxPacket]byte
}

// Cache holds the last Size packets of one stream. Its methods are safe for concurrent use:
// the publisher's reader stores while subscribers' NACK handlers load.
type Cache struct {
	mu    sync.Mutex
	slots []slot
}

// New returns a cache of size packets (at least 1).
func New(size int) *Cache {
	if size < 1 {
		size = 1
	}
	return &Cache{slots: make([]slot, size)}
}

// Store keeps a copy of packet under seq, replacing whatever used its slot. It reports
// false for a packet too long to keep.
func (c *Cache) Store(seq uint16, packet []byte) bool {
	if len(packet) > MaxPacket {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[int(seq)%len(c.slots)]
	s.seq, s.valid, s.n = seq, true, copy(s.buf[:], packet)
	return true
}

// Load copies the packet stored under seq into buf and returns its length, or 0 when it is
// not (or no longer) in the cache or buf is too short.
func (c *Cache) Load(seq uint16, buf []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[int(seq)%len(c.slots)]
	if !s.valid || s.seq != seq || len(buf) < s.n {
		return 0
	}
	return copy(buf, s.buf[:s.n])
}
