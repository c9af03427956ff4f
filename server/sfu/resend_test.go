package sfu

import (
	"testing"
	"time"
	"unsafe"
)

func TestResendGuard(t *testing.T) {
	type nack struct {
		at   time.Duration
		seq  uint16
		want bool
	}
	for _, tt := range []struct {
		name  string
		nacks []nack
	}{
		{"the first NACK is answered", []nack{{0, 7, true}}},
		{"a NACK repeated within the spacing is not", []nack{{0, 7, true}, {100 * time.Millisecond, 7, false}, {200 * time.Millisecond, 7, false}}},
		{"one after the spacing is", []nack{{0, 7, true}, {100 * time.Millisecond, 7, false}, {300 * time.Millisecond, 7, true}}},
		{"at most three resends of one packet", []nack{{0, 7, true}, {time.Second, 7, true}, {2 * time.Second, 7, true}, {2500 * time.Millisecond, 7, false}, {20 * time.Second, 7, false}}},
		{"other packets are counted apart", []nack{{0, 7, true}, {0, 8, true}, {10 * time.Millisecond, 9, true}, {20 * time.Millisecond, 8, false}}},
		{"a number sharing a slot is a new packet", []nack{{0, 7, true}, {10 * time.Millisecond, 7 + resendSlots, true}, {20 * time.Millisecond, 7, true}}},
		{"after the numbers wrap the same number is a new packet", []nack{{0, 7, true}, {time.Second, 7, true}, {2 * time.Second, 7, true}, {40 * time.Second, 7, true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var g resendGuard
			t0 := time.Unix(100, 0)
			for i, n := range tt.nacks {
				if got := g.allow(n.seq, t0.Add(n.at)); got != n.want {
					t.Fatalf("NACK %d (seq %d at %v): resend %v, want %v", i, n.seq, n.at, got, n.want)
				}
			}
		})
	}
}

// TestResendGuardSize keeps the guard small: every subscriber holds one per remote track.
func TestResendGuardSize(t *testing.T) {
	if got, limit := unsafe.Sizeof(resendGuard{}), uintptr(16*resendSlots); got > limit {
		t.Fatalf("resendGuard is %d bytes, want at most %d", got, limit)
	}
}
