package packetcache

import (
	"bytes"
	"testing"
)

func TestCache(t *testing.T) {
	c := New(4)
	pkt := func(b byte) []byte { return []byte{b, b, b} }
	for _, s := range []uint16{65534, 65535, 0, 1} {
		if !c.Store(s, pkt(byte(s))) {
			t.Fatalf("store %d refused", s)
		}
	}
	c.Store(2, pkt(2)) // evicts 65534 (same slot modulo 4)
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
	if c.Store(9, make([]byte, MaxPacket+1)) {
		t.Fatal("an oversized packet was stored")
	}
	if n := c.Load(2, make([]byte, 2)); n != 0 {
		t.Fatalf("load into a short buffer copied %d bytes", n)
	}
}
