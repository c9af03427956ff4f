package fleettest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// GapWatch samples counters of received media (one per client) every 10 ms and keeps, per
// client, the longest time its counter did not grow since the last Reset: the media gap a
// person at that client would have seen.
type GapWatch struct {
	mu      sync.Mutex
	count   []func() int64
	last    []int64
	lastNew []time.Time // when each counter last grew
	longest []time.Duration
}

// WatchGaps starts sampling counters until ctx ends.
func WatchGaps(ctx context.Context, counters ...func() int64) *GapWatch {
	n := len(counters)
	w := &GapWatch{count: counters, last: make([]int64, n), lastNew: make([]time.Time, n), longest: make([]time.Duration, n)}
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				w.sample(now)
			}
		}
	}()
	return w
}

func (w *GapWatch) sample(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range w.count {
		if v := f(); v > w.last[i] {
			if !w.lastNew[i].IsZero() {
				w.longest[i] = max(w.longest[i], now.Sub(w.lastNew[i]))
			}
			w.last[i], w.lastNew[i] = v, now
		}
	}
}

// Reset starts a new measurement of the longest gaps.
func (w *GapWatch) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.longest)
}

// FlowingSince reports whether every counter grew after t.
func (w *GapWatch) FlowingSince(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !slices.ContainsFunc(w.lastNew, func(at time.Time) bool { return !at.After(t) })
}

// Longest is each client's longest gap since the last Reset. A gap still open counts up to
// now, so a client whose media never came back shows it.
func (w *GapWatch) Longest() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := slices.Clone(w.longest)
	now := time.Now()
	for i, at := range w.lastNew {
		if !at.IsZero() {
			out[i] = max(out[i], now.Sub(at))
		}
	}
	return out
}

// Restart starts killed instance i again on its addresses and returns once the balancer
// sends requests to it; it counts as alive again.
func (f *MediaFleet) Restart(t testing.TB, i int) {
	t.Helper()
	f.Instances[i].Restart(t)
	f.dead[i] = false
	f.Instances[i].WaitBalanced(t, f.LB)
}
