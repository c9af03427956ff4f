package main

import (
	"testing"
	"time"
)

// tickAt is one turn of the send loop: at ms after the start, the thread's run delay then.
type tickAt struct{ at, delay time.Duration }

// ticksEvery is a loop ticking each ms from 1 ms, with no run delay, except gaps: at the
// tick after key the loop comes back gap later, with its run delay grown by stall.
func ticksEvery(total time.Duration, gaps map[time.Duration][2]time.Duration) []tickAt {
	var ts []tickAt
	var shift, delay time.Duration
	for t := time.Millisecond; t <= total; t += time.Millisecond {
		if g, ok := gaps[t]; ok {
			shift += g[0]
			delay += g[1]
		}
		ts = append(ts, tickAt{t + shift, delay})
	}
	return ts
}

func TestPacer(t *testing.T) {
	const rate = 1000 // pkt/s, 1 per ms
	tests := []struct {
		name                   string
		ticks                  []tickAt
		sent, skipped, maxTick uint64
		stalled                time.Duration
		endAt                  time.Duration // wall time of the tick that ends the schedule
	}{
		{name: "on time", ticks: ticksEvery(2*time.Second, nil),
			sent: 1000, maxTick: 1, endAt: time.Second},
		{name: "a stall pauses the schedule: nothing skipped, no burst after it",
			ticks: ticksEvery(2*time.Second, map[time.Duration][2]time.Duration{300 * time.Millisecond: {100 * time.Millisecond, 100 * time.Millisecond}}),
			sent:  1000, maxTick: 1, stalled: 100 * time.Millisecond, endAt: 1100 * time.Millisecond},
		{name: "busy and behind (no run delay): the backlog beyond the burst is skipped",
			ticks: ticksEvery(2*time.Second, map[time.Duration][2]time.Duration{300 * time.Millisecond: {100 * time.Millisecond, 0}}),
			// 101 due at once after the gap, the burst (8: more than 5 ms' worth) sent
			sent: 1000 - 93, skipped: 93, maxTick: 8, endAt: time.Second},
		{name: "a stall partly run delay: only the rest counts as behind",
			ticks: ticksEvery(2*time.Second, map[time.Duration][2]time.Duration{300 * time.Millisecond: {100 * time.Millisecond, 96 * time.Millisecond}}),
			sent:  1000, maxTick: 5, stalled: 96 * time.Millisecond, endAt: 1096 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const t0 = int64(time.Hour) // monoNow values need not start at 0
			p := newPacer(rate, time.Second, t0, 0)
			var sent, maxTick uint64
			var endAt time.Duration
			for _, tk := range tt.ticks {
				n, end := p.tick(t0+int64(tk.at), int64(tk.delay))
				sent += n
				maxTick = max(maxTick, n)
				if end {
					endAt = tk.at
					break
				}
			}
			if sent != tt.sent || p.skipped != tt.skipped || maxTick != tt.maxTick {
				t.Errorf("sent %d, skipped %d, most in a tick %d; want %d, %d, %d", sent, p.skipped, maxTick, tt.sent, tt.skipped, tt.maxTick)
			}
			if sent+p.skipped != rate {
				t.Errorf("sent+skipped = %d, want the whole schedule, %d", sent+p.skipped, rate)
			}
			if time.Duration(p.stalled) != tt.stalled {
				t.Errorf("stalled %v, want %v", time.Duration(p.stalled), tt.stalled)
			}
			if endAt != tt.endAt {
				t.Errorf("ended at %v, want %v", endAt, tt.endAt)
			}
			if got := p.active(t0 + int64(endAt) + int64(time.Second)); got != time.Second {
				t.Errorf("active %v after the end, want the schedule's 1s", got)
			}
		})
	}
}

func TestPacerNext(t *testing.T) {
	p := newPacer(1000, time.Second, 0, 0)
	tests := []struct {
		now  time.Duration
		want time.Duration
	}{
		{0, time.Millisecond},
		{2500 * time.Microsecond, 500 * time.Microsecond}, // packets 1, 2 sent, the 3rd due at 3 ms
		{10 * time.Millisecond, time.Millisecond},
		{10*time.Millisecond + 999*time.Microsecond, time.Microsecond},
	}
	for _, tt := range tests {
		p.tick(int64(tt.now), 0)
		if got := p.next(int64(tt.now)); got != tt.want {
			t.Errorf("at %v: next in %v, want %v", tt.now, got, tt.want)
		}
	}
}
