package turn

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// The listener socket as pion reads it (batched with recvmmsg on Linux): every datagram
// arrives whole, in order per source, with its source address; a closed socket ends the read.
func TestGuardedPacketConnRead(t *testing.T) {
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = uc.SetReadBuffer(1 << 20)
	g := newGuardedPacketConn(uc, &Server{})
	const senders, each = 3, 50 // more than a batch
	var from []*net.UDPConn
	for i := 0; i < senders; i++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		from = append(from, c)
	}
	for k := 0; k < each; k++ {
		for i, c := range from {
			// 0x80: not STUN, so the guard passes it through untouched.
			msg := append([]byte{0x80}, fmt.Sprintf("%d-%d-%s", i, k, make([]byte, k*20))...)
			if _, err := c.WriteTo(msg, uc.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
	}
	next := make([]int, senders)
	buf := make([]byte, 1600)
	_ = g.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got := 0; got < senders*each; got++ {
		n, addr, err := g.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", got, err)
		}
		var i int
		for i = 0; i < senders && addr.String() != from[i].LocalAddr().String(); i++ {
		}
		if i == senders {
			t.Fatalf("datagram %d from unknown %v", got, addr)
		}
		want := append([]byte{0x80}, fmt.Sprintf("%d-%d-%s", i, next[i], make([]byte, next[i]*20))...)
		if string(buf[:n]) != string(want) {
			t.Fatalf("datagram %d from %v: %d bytes %q…, want %d bytes %q…", got, addr, n, buf[:min(n, 12)], len(want), want[:12])
		}
		next[i]++
	}
	fills, batched := batchFills(g)
	if runtime.GOOS == "linux" && !batched {
		t.Fatal("an IPv4 UDP socket on Linux is not read in batches (recvmmsg)")
	}
	if batched {
		t.Logf("%d datagrams in %d recvmmsg calls", senders*each, fills)
		if fills >= senders*each {
			t.Errorf("%d recvmmsg calls for %d queued datagrams: not batched", fills, senders*each)
		}
	}

	// Close must end a read that is already blocked: the read has to be still waiting
	// before Close (else a read started after Close would pass whatever Close does).
	if err := g.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := g.ReadFrom(buf)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("read on an empty socket returned before Close: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := g.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked read still blocked 5 s after Close")
	}
}
