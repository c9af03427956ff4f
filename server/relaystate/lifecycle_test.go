package relaystate

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// countingEvents counts what Run reports.
type countingEvents struct{ wakes, closes, resyncs, reclaims atomic.Int32 }

func (e *countingEvents) Wake(string, string)          { e.wakes.Add(1) }
func (e *countingEvents) Close(string, string, string) { e.closes.Add(1) }
func (e *countingEvents) Resync()                      { e.resyncs.Add(1) }
func (e *countingEvents) Reclaim()                     { e.reclaims.Add(1) }

// run runs s until the test ends or stop is called, and reports when it returned.
func run(t *testing.T, s State, events Events) (stop func(), done chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); s.Run(ctx, events) }()
	t.Cleanup(func() { cancel(); <-done })
	return cancel, done
}

// A Memory is alone: always healthy, shared with no instance, its Run only waits; a Redis
// instance is healthy once its heartbeat reached Redis, counts the live instances, and
// leaves them when its Run ends.
func TestRunHealthAndInstances(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		m := NewMemory(grace)
		if !m.Healthy() || m.Instances() != 0 {
			t.Fatalf("memory: healthy %v, instances %d; want true and 0", m.Healthy(), m.Instances())
		}
		stop, done := run(t, m, &countingEvents{})
		stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return when its context ended")
		}
	})
	t.Run("redis", func(t *testing.T) {
		c := newRedisFleet(t, redistest.Start(t), 2)
		a, b := c.rinsts[0], c.rinsts[1]
		if a.Healthy() {
			t.Fatal("healthy before any heartbeat")
		}
		// The fleet's clock stands still; Run's heartbeats must look fresh to Alive.
		a.now, b.now = time.Now, time.Now
		evA := &countingEvents{}
		stopA, doneA := run(t, a, evA)
		run(t, b, &countingEvents{})
		testsync.Eventually(t, 5*time.Second, "both healthy, counting two instances", func() bool {
			return a.Healthy() && b.Healthy() && a.Instances() == 2 && b.Instances() == 2
		})
		// Subscribing asks for a resync: notices published before it are lost.
		testsync.Eventually(t, 5*time.Second, "a resync at subscription", func() bool { return evA.resyncs.Load() >= 1 })
		stopA()
		<-doneA
		testsync.Eventually(t, 5*time.Second, "b to count one instance after a left", func() bool { return b.Instances() == 1 })
	})
}

// Drain: a Memory's clients have nowhere else to go, so it waits for its room table to
// empty (or its context to end) and says the calls did not go on elsewhere; a Redis
// instance's clients move, so it waits the notice only and says they did.
func TestDrain(t *testing.T) {
	const notice = 200 * time.Millisecond
	t.Run("memory", func(t *testing.T) {
		c := newMemoryFleet(1)
		c.join(t, 0, "r", "A")
		m := c.insts[0]
		start := time.Now() // before the context's deadline is set from the clock
		ctx, cancel := context.WithTimeout(context.Background(), 3*notice)
		defer cancel()
		if m.Drain(ctx, notice) {
			t.Fatal("memory Drain says the calls went on elsewhere")
		}
		if took := time.Since(start); took < 3*notice {
			t.Fatalf("Drain returned after %v with a room in use, want its context's %v", took, 3*notice)
		}
		result := make(chan bool, 1)
		start = time.Now()
		go func() { result <- m.Drain(context.Background(), notice) }()
		if _, err := m.Remove(ctx, "r", "A"); err != nil {
			t.Fatal(err)
		}
		select {
		case moved := <-result:
			if moved {
				t.Fatal("memory Drain says the calls went on elsewhere")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Drain still waiting %v after the last room emptied", time.Since(start))
		}
	})
	t.Run("redis", func(t *testing.T) {
		c := newRedisFleet(t, redistest.Start(t), 1)
		c.join(t, 0, "r", "A")
		start := time.Now()
		if !c.insts[0].Drain(context.Background(), notice) {
			t.Fatal("redis Drain says the calls did not go on elsewhere")
		}
		if took := time.Since(start); took < notice {
			t.Fatalf("Drain returned after %v, before the %v notice", took, notice)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start = time.Now()
		c.insts[0].Drain(ctx, time.Hour)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("Drain with its context ended took %v", took)
		}
	})
}
