package sfutest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGatheredEndsWithTheClient: a wait for a gathering that never completes (its
// PeerConnection closed while it gathered) ends when the client closes, so Close, which waits
// for the read loop, cannot hang on it.
func TestGatheredEndsWithTheClient(t *testing.T) {
	c := &Client{}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	never := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- c.gathered(never) }()
	select {
	case err := <-done:
		t.Fatalf("returned %v before the client closed", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting 5 s after the client closed")
	}

	complete := make(chan struct{})
	close(complete)
	c2 := &Client{}
	c2.ctx, c2.cancel = context.WithCancel(context.Background())
	defer c2.cancel()
	if err := c2.gathered(complete); err != nil {
		t.Fatalf("completed gathering: %v", err)
	}
}
