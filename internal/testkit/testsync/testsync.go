// Package testsync holds the synchronisation helpers the tests of every package share:
// polling until a condition holds (instead of sleeping a fixed time), and a buffer that a
// logger on another goroutine writes while the test reads it.
package testsync

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"
)

// pollEvery is how often Eventually re-checks: short enough not to slow a test, long enough
// not to spin a core that the servers under test need.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond until it holds, and fails the test if timeout passes first. It must
// be called from the test's own goroutine (it may call t.Fatalf).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// Buffer is a bytes.Buffer safe for concurrent writers and readers (a logger writing while
// the test inspects what was logged).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Goroutine returns a testing.TB for a goroutine the test started: t.Fatal and friends may
// only be called from the test's own goroutine, so its Fatal, Fatalf and FailNow record the
// failure with t.Errorf and end only the calling goroutine (deferred calls, such as a
// WaitGroup's Done, still run). Everything else goes to t.
func Goroutine(t testing.TB) testing.TB { return goroutineTB{t} }

type goroutineTB struct{ testing.TB }

func (g goroutineTB) Fatal(args ...any) {
	g.TB.Helper()
	g.TB.Error(args...)
	runtime.Goexit()
}

func (g goroutineTB) Fatalf(format string, args ...any) {
	g.TB.Helper()
	g.TB.Errorf(format, args...)
	runtime.Goexit()
}

func (g goroutineTB) FailNow() {
	g.TB.Fail()
	runtime.Goexit()
}

// StallWatch measures how late the test process's own goroutines wake: a timing bound on
// media (a gap in received packets) that a loaded machine stretched by stalling the whole
// process is judged against that stall, not failed for it.
type StallWatch struct {
	stop    chan struct{}
	done    chan struct{}
	last    time.Time
	longest time.Duration
}

// stallTick is how often StallWatch wakes to see how late it is.
const stallTick = 10 * time.Millisecond

// WatchStalls starts a StallWatch; Stop ends it.
func WatchStalls() *StallWatch {
	w := &StallWatch{stop: make(chan struct{}), done: make(chan struct{}), last: time.Now()}
	go func() {
		defer close(w.done)
		t := time.NewTicker(stallTick)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.woke(time.Now())
			}
		}
	}()
	return w
}

// woke records a wake-up at now: anything beyond stallTick since the last one was a stall.
func (w *StallWatch) woke(now time.Time) {
	if late := now.Sub(w.last) - stallTick; late > w.longest {
		w.longest = late
	}
	w.last = now
}

// Stop ends the watch and returns the longest time a wake-up came late.
func (w *StallWatch) Stop() time.Duration {
	close(w.stop)
	<-w.done
	w.woke(time.Now())
	return w.longest
}
