// Package shaper limits the rate at which packet connections receive, as a bottleneck link
// does: a token bucket passes what fits and drops the rest. Tests wrap a TURN server's relay
// sockets with it to cap one client's downlink, and change or lift the cap while the call
// goes on.
package shaper

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limit is one token bucket, shared by every connection it wraps (one link). The zero rate
// passes everything.
type Limit struct {
	// now is the clock; tests of the bucket replace it.
	now func() time.Time

	mu     sync.Mutex
	rate   float64 // bytes per second; 0: no limit
	burst  float64 // bytes the bucket holds
	tokens float64
	last   time.Time

	passed, dropped, passedBytes atomic.Int64
}

// New returns a limit of bps bits per second (0: none) whose bucket holds burst's worth of
// bytes at that rate (at least two full-size packets, so one packet always fits).
func New(bps int, burst time.Duration) *Limit {
	l := &Limit{now: time.Now}
	l.Set(bps, burst)
	return l
}

// maxPacket is the largest datagram the bucket must be able to pass whole.
const maxPacket = 1500

// Set changes the rate to bps bits per second (0 lifts the limit) and the bucket to burst's
// worth of bytes; the bucket starts full.
func (l *Limit) Set(bps int, burst time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = float64(bps) / 8
	l.burst = max(l.rate*burst.Seconds(), 2*maxPacket)
	l.tokens = l.burst
	l.last = l.now()
}

// allow takes n bytes from the bucket, or reports that they do not fit.
func (l *Limit) allow(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return true
	}
	now := l.now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if float64(n) > l.tokens {
		return false
	}
	l.tokens -= float64(n)
	return true
}

// Counts returns the datagrams passed and dropped so far.
func (l *Limit) Counts() (passed, dropped int64) {
	return l.passed.Load(), l.dropped.Load()
}

// PassedBytes returns the bytes of the datagrams passed so far.
func (l *Limit) PassedBytes() int64 { return l.passedBytes.Load() }

// Wrap returns pc whose ReadFrom drops the datagrams that exceed the limit, as if they had
// been lost on the way in. Writes are not limited.
func (l *Limit) Wrap(pc net.PacketConn) net.PacketConn {
	return &conn{PacketConn: pc, l: l}
}

type conn struct {
	net.PacketConn
	l *Limit
}

func (c *conn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.l.allow(n) {
			if err == nil {
				c.l.passed.Add(1)
				c.l.passedBytes.Add(int64(n))
			}
			return n, addr, err
		}
		c.l.dropped.Add(1)
	}
}
