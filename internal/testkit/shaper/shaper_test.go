package shaper

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// clock is a hand-moved clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newFrozen(bps int, burst time.Duration) (*Limit, *clock) {
	c := &clock{t: time.Unix(1000, 0)}
	l := &Limit{now: c.now}
	l.Set(bps, burst)
	return l, c
}

func TestBucket(t *testing.T) {
	type step struct {
		advance time.Duration
		packets int // of 1000 bytes
		pass    int
	}
	for _, tt := range []struct {
		name  string
		bps   int
		burst time.Duration
		steps []step
	}{
		{"a full bucket passes its burst, then drops", 80_000, 500 * time.Millisecond,
			[]step{{0, 10, 5}}},
		{"it refills at the rate", 80_000, 500 * time.Millisecond,
			[]step{{0, 5, 5}, {100 * time.Millisecond, 3, 1}, {time.Second, 10, 5}}},
		{"it holds no more than its burst after a long pause", 80_000, 500 * time.Millisecond,
			[]step{{0, 5, 5}, {time.Minute, 10, 5}}},
		{"a small burst still holds two full-size packets", 8_000, time.Millisecond,
			[]step{{0, 5, 3}}},
		{"zero is no limit", 0, 0,
			[]step{{0, 1000, 1000}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, c := newFrozen(tt.bps, tt.burst)
			for i, s := range tt.steps {
				c.t = c.t.Add(s.advance)
				pass := 0
				for range s.packets {
					if l.allow(1000) {
						pass++
					}
				}
				if pass != s.pass {
					t.Fatalf("step %d: %d of %d packets passed, want %d", i, pass, s.packets, s.pass)
				}
			}
		})
	}
}

// TestWrappedConnDropsWhatExceedsAndSetLifts sends real datagrams to a wrapped socket: while
// the clock stands still only the bucket's burst is read, the rest is dropped; once the limit
// is lifted everything is read.
func TestWrappedConnDropsWhatExceedsAndSetLifts(t *testing.T) {
	l, _ := newFrozen(80_000, 500*time.Millisecond) // 5000 bytes
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	pc := l.Wrap(raw)
	send, err := net.Dial("udp4", raw.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()

	burst := func() int {
		t.Helper()
		payload := make([]byte, 1000)
		for range 10 {
			if _, err := send.Write(payload); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		buf := make([]byte, 2000)
		for {
			if err := pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			n, from, err := pc.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return got
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != 1000 || from.String() != send.LocalAddr().String() {
				t.Fatalf("read %d bytes from %s", n, from)
			}
			got++
		}
	}
	if got := burst(); got != 5 {
		t.Fatalf("capped: read %d of 10 datagrams, want the bucket's 5", got)
	}
	if passed, dropped := l.Counts(); passed != 5 || dropped != 5 {
		t.Fatalf("counts: %d passed, %d dropped; want 5 and 5", passed, dropped)
	}
	if b := l.PassedBytes(); b != 5000 {
		t.Fatalf("%d bytes passed, want 5000", b)
	}
	l.Set(0, 0)
	if got := burst(); got != 10 {
		t.Fatalf("lifted: read %d of 10 datagrams", got)
	}
}
