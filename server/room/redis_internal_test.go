package room

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/errcount"
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

// A Redis that restarts empty (no persistence) has lost the rooms along with the counters:
// this process's earlier changes must not come back, and what it does after counts.
func TestRedisCountsAfterRedisLostItsData(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	r := NewRedis(rdb, "wiped:")
	ctx := context.Background()
	for _, id := range []string{"A", "B"} {
		if _, err := r.Join(ctx, "r", func() string { return id }); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := r.Stats(ctx); err != nil || st != (Stats{Rooms: 1, Clients: 2}) {
		t.Fatalf("Stats before = %+v, %v", st, err)
	}
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want Stats
	}{
		{"nothing yet", func() error { return nil }, Stats{}},
		{"a join", func() error { _, err := r.Join(ctx, "s", func() string { return "C" }); return err }, Stats{Rooms: 1, Clients: 1}},
		{"a second", func() error { _, err := r.Join(ctx, "s", func() string { return "D" }); return err }, Stats{Rooms: 1, Clients: 2}},
		{"a leave", func() error { return r.Remove(ctx, "s", "C", nil) }, Stats{Rooms: 1, Clients: 1}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got, err := r.Stats(ctx); err != nil || got != st.want {
			t.Fatalf("after %s: Stats = %+v, %v; want %+v", st.name, got, err, st.want)
		}
	}
}
