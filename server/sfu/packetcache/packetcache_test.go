package packetcache

import (
	"bytes"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New(4)
	pkt := func(b byte) []byte { return []byte{b, b, b} }
	for _, s := range []uint16{65534, 65535, 0, 1} {
		if !c.Store(s, pkt(byte(s)), now) {
			t.Fatalf("store %d refused", s)
		}
	}
	c.Store(2, pkt(2), now) // evicts 65534 (same slot modulo 4)
	tests := []struct {
		name string
		seq  uint16
		want []byte
	}{
		{"kept across the wrap", 65535, pkt(255)},
		{"kept after the wrap", 0, pkt(0)},
		{"newest", 2, pkt(2)},
		{"evicted by a newer one in its slot", 65534, nil},
		{"never stored", 7, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, MaxPacket)
			n := c.Load(tc.seq, buf)
			if tc.want == nil {
				if n != 0 {
					t.Fatalf("load %d = %x, want nothing", tc.seq, buf[:n])
				}
				return
			}
			if !bytes.Equal(buf[:n], tc.want) {
				t.Fatalf("load %d = %x, want %x", tc.seq, buf[:n], tc.want)
			}
		})
	}
	if c.Store(9, make([]byte, MaxPacket+1), now) {
		t.Fatal("an oversized packet was stored")
	}
	if n := c.Load(2, make([]byte, 2)); n != 0 {
		t.Fatalf("load into a short buffer copied %d bytes", n)
	}
}

// packet is a recognisable packet of n bytes for sequence number seq.
func packet(seq uint16, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int(seq) + i)
	}
	return b
}

// TestRing feeds a stream of fixed packet size and rate for a while and checks what the
// ring grew to and which of the latest packets it can still give back.
func TestRing(t *testing.T) {
	tests := []struct {
		name      string
		size      int // packets in the index
		bytes     int // per packet
		perSecond int
		seconds   int
		// The ring must stay within maxRing bytes and give back the last wantBack packets.
		maxRing  int
		wantBack int
	}{
		// 50 packets of 100 bytes a second: the first ring holds 1.6 s.
		{"audio grows once", 512, 100, 50, 20, 16 << 10, 2 * 50},
		// ~1 Mbps: grows until MinAge fits, with its margin.
		{"video grows to MinAge", 512, 1100, 110, 20, 3 * 110 * 1100, 2 * 110},
		// Growth that does not keep the ring a multiple of its old size.
		{"uneven growth", 512, 1000, 30, 20, 80 << 10, 2 * 30},
		// The index is the limit for a stream of many small packets.
		{"index bounds the count", 64, 100, 1000, 5, 1 << 20, 64},
		// Largest packets at a high rate: the ring stops at its maximum.
		{"capped at the maximum", 16, MaxPacket, 1000, 5, 32 << 10, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.size)
			start := time.Unix(1000, 0)
			total := tc.perSecond * tc.seconds
			step := time.Second / time.Duration(tc.perSecond)
			buf := make([]byte, MaxPacket)
			grown := 0
			for i := range total {
				seq := uint16(60000 + i) // wraps over 65535
				before := c.Bytes()
				if !c.Store(seq, packet(seq, tc.bytes), start.Add(time.Duration(i)*step)) {
					t.Fatalf("store %d refused", seq)
				}
				if before == 0 || c.Bytes() == before {
					continue
				}
				// Grown: what the old ring held is still there.
				grown++
				for back := 1; back <= min(i, 5); back++ {
					old := seq - uint16(back)
					if n := c.Load(old, buf); !bytes.Equal(buf[:n], packet(old, tc.bytes)) {
						t.Fatalf("packet %d lost when the ring grew to %d bytes", old, c.Bytes())
					}
				}
			}
			if tc.maxRing > initialRing && grown == 0 {
				t.Error("the ring never grew")
			}
			if got := c.Bytes(); got > tc.maxRing {
				t.Errorf("ring is %d bytes, want at most %d", got, tc.maxRing)
			}
			for back := 1; back <= tc.wantBack; back++ {
				seq := uint16(60000 + total - back)
				n := c.Load(seq, buf)
				if !bytes.Equal(buf[:n], packet(seq, tc.bytes)) {
					t.Fatalf("packet %d back (seq %d): got %d bytes, not the packet stored", back, seq, n)
				}
			}
			// What the index no longer holds is not given back, and nothing stale is.
			for back := tc.wantBack + 1; back <= total; back++ {
				seq := uint16(60000 + total - back)
				if n := c.Load(seq, buf); n != 0 && !bytes.Equal(buf[:n], packet(seq, tc.bytes)) {
					t.Fatalf("packet %d back (seq %d): stale bytes returned", back, seq)
				}
			}
		})
	}
}

// TestOverwritten checks that a packet whose bytes the ring reused is not returned even
// though its index slot still names it: an index larger than the ring holds.
func TestOverwritten(t *testing.T) {
	c := New(1024)
	now := time.Unix(1000, 0)
	// A second apart: the ring never grows.
	for i := range 30 {
		c.Store(uint16(i), packet(uint16(i), 1000), now.Add(time.Duration(i)*time.Second))
	}
	buf := make([]byte, MaxPacket)
	if n := c.Load(0, buf); n != 0 {
		t.Fatalf("packet 0 came back (%d bytes) after the ring went round", n)
	}
	if n := c.Load(29, buf); !bytes.Equal(buf[:n], packet(29, 1000)) {
		t.Fatal("the newest packet is not given back")
	}
	if got := c.Bytes(); got != initialRing {
		t.Fatalf("ring grew to %d bytes for a slow stream", got)
	}
}

// TestRisingRate grows the ring many times, with packets of varying size, from sizes that
// are not multiples of each other: every packet given back is the one stored, and the last
// few always are.
func TestRisingRate(t *testing.T) {
	c := New(512)
	now := time.Unix(1000, 0)
	buf := make([]byte, MaxPacket)
	sizes := make(map[uint16]int)
	for i := range 3000 {
		seq := uint16(i)
		n := 300 + (i*37)%1100
		sizes[seq] = n
		c.Store(seq, packet(seq, n), now)
		// From 2 to about 200 packets a second.
		now = now.Add(time.Second / time.Duration(2+i/15))
		for back := range min(i+1, 100) {
			old := seq - uint16(back)
			got := c.Load(old, buf)
			if got == 0 && back < 4 {
				t.Fatalf("after packet %d: packet %d not given back (ring %d bytes)", i, old, c.Bytes())
			}
			if got != 0 && !bytes.Equal(buf[:got], packet(old, sizes[old])) {
				t.Fatalf("after packet %d: packet %d given back wrong (ring %d bytes)", i, old, c.Bytes())
			}
		}
	}
}

// TestRingFollowsRate feeds a burst, then a steady stream, and checks that the ring grown
// for the burst ends near the steady stream's fit and still gives back MinAge of it.
func TestRingFollowsRate(t *testing.T) {
	tests := []struct {
		name                  string
		burstRate, burstSecs  int // packets per second (of 1100 bytes), seconds
		steadyRate, steadySec int
		maxRing               int
	}{
		// A reader that caught up after lagging: four times the rate for a second.
		{"shrinks after a burst", 440, 1, 110, 20, 3 * 110 * 1100},
		// Steady from the start: ends where it grew to.
		{"steady stays", 110, 1, 110, 20, 3 * 110 * 1100},
		// A rate that drops to a sixth: follows it down.
		{"follows a drop", 110, 10, 18, 30, 3 * 18 * 1100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(512)
			at := time.Unix(1000, 0)
			seq := uint16(0)
			feed := func(rate, secs int) {
				for range rate * secs {
					c.Store(seq, packet(seq, 1100), at)
					seq++
					at = at.Add(time.Second / time.Duration(rate))
				}
			}
			feed(tc.burstRate, tc.burstSecs)
			feed(tc.steadyRate, tc.steadySec)
			if got := c.Bytes(); got > tc.maxRing {
				t.Errorf("ring is %d bytes after the steady stream, want at most %d", got, tc.maxRing)
			}
			buf := make([]byte, MaxPacket)
			for back := uint16(1); back <= uint16(tc.steadyRate*int(MinAge/time.Second)); back++ {
				if n := c.Load(seq-back, buf); !bytes.Equal(buf[:n], packet(seq-back, 1100)) {
					t.Fatalf("packet %d back (of MinAge at the steady rate) not given back", back)
				}
			}
		})
	}
}
