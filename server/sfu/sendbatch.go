package sfu

import (
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
)

// sendBatch is the SFU's UDP socket as pion writes to it. A published packet goes to every
// subscriber: pion's SRTP and ICE layers write one datagram per subscriber, in the
// goroutine that read the packet and one after the other. Sent one by one, each is a system
// call, the largest part of the SFU's cost per forwarded packet. A fan-out holds the batch
// while it runs; what is written meanwhile, by it or by any other goroutine, waits in the
// batch, and the end of a fan-out sends everything waiting with one sendmmsg. A datagram
// therefore waits at most for the end of the fan-out running beside it (microseconds); with
// no fan-out running, a write goes out at once.
type sendBatch struct {
	net.PacketConn
	pc *ipv4.PacketConn // nil: no batching (not a UDP socket of this platform)

	mu    sync.Mutex
	holds int
	n     int
	msgs  [maxSendBatch]ipv4.Message
	slots [maxSendBatch]sendSlot
	// dropped counts datagrams a batch could not send (the socket's error): pion's own
	// writes lose them the same way, UDP being what it is.
	dropped atomic.Uint64
}

type sendSlot struct {
	buf  [sendSlotSize]byte
	bufs [1][]byte
}

const (
	maxSendBatch = 64
	// sendSlotSize holds any datagram pion writes (its MTU is 1200 bytes of RTP plus SRTP's
	// tag); a larger one is sent on its own.
	sendSlotSize = 1500
)

func newSendBatch(c net.PacketConn) *sendBatch {
	b := &sendBatch{PacketConn: c}
	if uc, ok := c.(*net.UDPConn); ok && batchingSupported {
		b.pc = ipv4.NewPacketConn(uc)
		for i := range b.msgs {
			b.msgs[i].Buffers = b.slots[i].bufs[:]
		}
	}
	return b
}

// hold opens a fan-out: writes wait for its release.
func (b *sendBatch) hold() {
	if b.pc == nil {
		return
	}
	b.mu.Lock()
	b.holds++
	b.mu.Unlock()
}

// release ends a fan-out and sends what waits.
func (b *sendBatch) release() {
	if b.pc == nil {
		return
	}
	b.mu.Lock()
	b.holds--
	b.flushLocked()
	b.mu.Unlock()
}

func (b *sendBatch) WriteTo(p []byte, addr net.Addr) (int, error) {
	if b.pc == nil {
		return b.PacketConn.WriteTo(p, addr)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holds == 0 || len(p) > sendSlotSize {
		b.flushLocked() // what waits goes first
		return b.PacketConn.WriteTo(p, addr)
	}
	if b.n == maxSendBatch {
		b.flushLocked()
	}
	s := &b.slots[b.n]
	s.bufs[0] = s.buf[:copy(s.buf[:], p)]
	b.msgs[b.n].Addr = addr
	b.n++
	return len(p), nil
}

func (b *sendBatch) flushLocked() {
	for sent := 0; sent < b.n; {
		k, err := b.pc.WriteBatch(b.msgs[sent:b.n], 0)
		if k < 0 {
			k = 0
		}
		if err != nil {
			// The first datagram of the rest failed (the kernel says which): count it and
			// go on with the others, as separate writes would have.
			b.dropped.Add(1)
			k++
		}
		sent += k
	}
	for i := range b.n {
		b.msgs[i].Addr = nil
	}
	b.n = 0
}
