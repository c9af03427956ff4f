package sfu

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// TestSendBatch: on a real UDP socket, datagrams written during a fan-out leave only when it
// ends, whole and in order, to each one's own address; with no fan-out, or for a datagram
// too large for a slot, a write leaves at once, after anything queued; a full batch is sent
// and the rest queue again.
func TestSendBatch(t *testing.T) {
	if !batchingSupported {
		t.Skip("no sendmmsg batching on this platform: writes go straight to the socket") // nothing to test beyond the socket
	}
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := newSendBatch(uc)
	defer b.Close()
	if b.pc == nil {
		t.Fatal("a UDP socket got no batching")
	}
	rx := make([]*net.UDPConn, 3)
	for i := range rx {
		if rx[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
		defer rx[i].Close()
	}
	read := func(c *net.UDPConn, wait time.Duration) ([]byte, bool) {
		t.Helper()
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return nil, false
		}
		if from.Port != uc.LocalAddr().(*net.UDPAddr).Port {
			t.Fatalf("datagram from %v, want the batch's socket", from)
		}
		return buf[:n], true
	}
	payload := func(i int, size int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }

	// A fan-out: nothing before release, everything after it.
	b.hold()
	for i, c := range rx {
		p := payload(i, 1200)
		if n, err := b.WriteTo(p, c.LocalAddr()); err != nil || n != len(p) {
			t.Fatalf("queued write: %d, %v", n, err)
		}
		p[0] = 'X' // the caller reuses its buffer at once
	}
	if got, ok := read(rx[0], 100*time.Millisecond); ok {
		t.Fatalf("a datagram (%d bytes) left while the fan-out held the batch", len(got))
	}
	b.release()
	for i, c := range rx {
		got, ok := read(c, 2*time.Second)
		if !ok || !bytes.Equal(got, payload(i, 1200)) {
			t.Fatalf("receiver %d got %q..., want the datagram as written", i, got[:min(len(got), 8)])
		}
	}

	// No fan-out: at once.
	if _, err := b.WriteTo(payload(0, 100), rx[0].LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got, ok := read(rx[0], 2*time.Second); !ok || len(got) != 100 {
		t.Fatalf("a write outside a fan-out did not leave at once: %v", ok)
	}

	// Too large for a slot: queued ones first, then it, in order.
	b.hold()
	_, _ = b.WriteTo(payload(1, 10), rx[0].LocalAddr())
	if _, err := b.WriteTo(payload(2, sendSlotSize+1), rx[0].LocalAddr()); err != nil {
		t.Fatal(err)
	}
	first, ok1 := read(rx[0], 2*time.Second)
	second, ok2 := read(rx[0], 2*time.Second)
	if !ok1 || !ok2 || len(first) != 10 || len(second) != sendSlotSize+1 {
		t.Fatalf("got %d then %d bytes, want 10 then %d", len(first), len(second), sendSlotSize+1)
	}
	b.release()

	// More than a batch: all of them, in order.
	const many = maxSendBatch*2 + 5
	b.hold()
	for i := range many {
		_, _ = b.WriteTo([]byte{byte(i)}, rx[1].LocalAddr())
	}
	b.release()
	for i := range many {
		got, ok := read(rx[1], 2*time.Second)
		if !ok || len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("datagram %d of %d: %v %v", i, many, got, ok)
		}
	}
}
