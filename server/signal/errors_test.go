package signal

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testsync"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/redistest"
	"github.com/onertc/onertc/server/relaystate"
	roomtable "github.com/onertc/onertc/server/room"
)

// With Redis gone, the relay's background passes fail every half second and its leave at
// shutdown fails too: each failure is counted, and the log has one line per kind, not one
// per failure.
func TestRelayCountsBackgroundFailures(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	var logs testsync.Buffer
	errs := errcount.New(slog.New(slog.NewJSONHandler(&logs, nil)), time.Hour)
	rooms := roomtable.NewRedis(rdb, "bg:").ReportTo(errs)
	state := relaystate.New(rdb, rooms, "bg:", "i0", time.Second).ReportTo(errs)
	r := New(Config{State: state, Errors: errs, Grace: time.Second})
	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	testsync.Eventually(t, 10*time.Second, "several failed reaping passes", func() bool {
		return errs.Count(errcount.RelayReap) >= 3
	})
	cancel()
	<-done
	if n := errs.Count(errcount.RelayLeave); n != 1 {
		t.Errorf("relay_leave errors = %d, want 1 (Leave with Redis gone)", n)
	}
	for _, op := range []errcount.Op{errcount.RelayReap, errcount.RelayLeave} {
		if n := strings.Count(logs.String(), `"op":"`+string(op)+`"`); n != 1 {
			t.Errorf("%d log lines for %s, want 1:\n%s", n, op, logs.String())
		}
	}
}
