package redisconn

import (
	"context"
	"time"
)

// Hold calls try until it succeeds, fails for good (permanent reports it), ctx ends, or a
// further try would start after hold: the caller's request is held through a short Redis
// outage instead of failing at once. Each try gets its own deadline of attempt. It returns
// try's last error.
func Hold(ctx context.Context, hold, attempt time.Duration, permanent func(error) bool, try func(context.Context) error) error {
	until := time.Now().Add(hold)
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		actx, cancel := context.WithTimeout(ctx, attempt)
		err := try(actx)
		cancel()
		if err == nil || permanent(err) || ctx.Err() != nil || time.Now().Add(backoff).After(until) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
	}
}
