package proc

import (
	"os"
	"testing"
	"time"
)

// The test process's own figures: CPU time grows with work, in clock ticks, RSS is plausible, a process that
// does not exist is an error.
func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := CPUMicros(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Spin until a clock tick of CPU is counted (a busy machine may take a while to give it).
	after := before
	for deadline := time.Now().Add(10 * time.Second); after == before && time.Now().Before(deadline); {
		for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
		}
		if after, err = CPUMicros(pid); err != nil {
			t.Fatal(err)
		}
	}
	if after <= before || (after-before)%10000 != 0 {
		t.Fatalf("CPU %d then %d: want it grown by whole 10 ms ticks while spinning", before, after)
	}
	rss, err := RSSBytes(pid)
	if err != nil || rss < 1<<20 || rss > 1<<34 {
		t.Fatalf("RSS %d (%v): want a plausible size", rss, err)
	}
	if _, err := CPUMicros(1 << 30); err == nil {
		t.Fatal("CPU of a process that does not exist: no error")
	}
	if _, err := RSSBytes(1 << 30); err == nil {
		t.Fatal("RSS of a process that does not exist: no error")
	}
}
