package room

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testsync"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/redistest"
)

// A counter update that times out on a frozen Redis still runs when Redis wakes up; the
// next write must not count it a second time.
func TestRedisCountsOnceAfterTimeout(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	errs := errcount.New(nil, 0)
	r := NewRedis(rdb, "frozen:").ReportTo(errs)
	ctx := context.Background()

	r.count(ctx, 1, true)
	srv.Pause()
	r.count(ctx, 1, true) // times out: sent, not answered
	srv.Resume()
	if n := errs.Count(errcount.RoomStats); n != 1 {
		t.Fatalf("room_stats errors = %d, want 1 (the update that timed out)", n)
	}
	// The frozen update reaches Redis's buffer before it froze, so it runs on resume.
	testsync.Eventually(t, 5*time.Second, "the timed-out update to run", func() bool {
		v, err := rdb.HGet(ctx, r.statsKey(), "w:"+r.writer).Result()
		return err == nil && strings.HasPrefix(v, "2 ")
	})
	st, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Rooms: 2, Clients: 2}) {
		t.Fatalf("Stats = %+v, want 2 rooms and 2 clients, each change counted once", st)
	}
	// And an older attempt arriving after a newer one changes nothing.
	if err := statsScript.Run(ctx, rdb, []string{r.statsKey()}, r.writer, 1, 1, 1).Err(); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Stats(ctx); st != (Stats{Rooms: 2, Clients: 2}) {
		t.Fatalf("Stats after a stale attempt = %+v, want 2 and 2", st)
	}
}
