package testsync

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			time.Sleep(time.Millisecond)
			n.Add(1)
		}
	}()
	Eventually(t, 5*time.Second, "three increments", func() bool { return n.Load() == 3 })
}

// recorder is a testing.TB that records a Fatalf instead of stopping the goroutine, so the
// failure path of Eventually can be checked.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestEventuallyFailsNamingWhatItWaitedFor(t *testing.T) {
	calls := 0
	r := &recorder{TB: t}
	// The recorder does not stop the loop, so the condition turns true after the failure.
	Eventually(r, 30*time.Millisecond, "the moon", func() bool { calls++; return r.failed != "" })
	if !strings.Contains(r.failed, "the moon") || !strings.Contains(r.failed, "30ms") {
		t.Fatalf("failure message %q does not name the wait and its timeout", r.failed)
	}
	if calls < 2 {
		t.Fatalf("condition checked %d times, want it polled", calls)
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("buffer holds %d bytes, want 800", got)
	}
}

// errRecorder records Errorf, so Goroutine's failure path can be checked without failing.
type errRecorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestGoroutineFatalEndsOnlyThatGoroutine(t *testing.T) {
	r := &errRecorder{TB: t}
	var wg sync.WaitGroup
	reached := false
	wg.Go(func() {
		g := Goroutine(r)
		g.Fatalf("room %d failed", 7)
		reached = true
	})
	wg.Wait()
	if reached {
		t.Fatal("code after Fatalf ran")
	}
	if len(r.errors) != 1 || r.errors[0] != "room 7 failed" {
		t.Fatalf("recorded %q, want the failure", r.errors)
	}
}

// TestStallWatch: wake-ups on time count no stall; one that comes late counts as the time
// beyond its tick, and the longest is kept; a watch started and stopped at once reports
// about nothing.
func TestStallWatch(t *testing.T) {
	t0 := time.Unix(0, 0)
	w := &StallWatch{last: t0}
	for _, at := range []time.Duration{10, 20, 30, 520, 530, 700, 710} {
		w.woke(t0.Add(at * time.Millisecond))
	}
	if want := 480 * time.Millisecond; w.longest != want {
		t.Fatalf("longest stall %v, want %v", w.longest, want)
	}
	if got := WatchStalls().Stop(); got > time.Second {
		t.Fatalf("a watch stopped at once saw a stall of %v", got)
	}
}
