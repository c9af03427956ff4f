package room_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/roomtest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/room"
)

// truth counts the rooms and clients Redis holds under prefix, walking every room: what
// the counters Stats reads must agree with.
func truth(t *testing.T, rdb *redis.Client, prefix string) room.Stats {
	t.Helper()
	ctx := context.Background()
	var st room.Stats
	iter := rdb.Scan(ctx, 0, prefix+"{*}:clients", 100).Iterator()
	for iter.Next(ctx) {
		n, err := rdb.LLen(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatalf("count clients of %s: %v", iter.Val(), err)
		}
		st.Rooms++
		st.Clients += int(n)
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan rooms: %v", err)
	}
	return st
}

// A failed counter update (Redis refusing it while the room scripts go through: here a
// real ACL that denies the counters' key) is counted, logged once for the burst, and made
// good once Redis takes it again, without any room changing after.
func TestRedisStatsRecoverAfterFailedUpdates(t *testing.T) {
	type op struct {
		join         bool
		room, client string
	}
	tests := []struct {
		name   string
		during []op // done while the counters' key is refused
		after  []op // done once it is allowed again
	}{
		{name: "joins", during: []op{{true, "r1", "B"}, {true, "r1", "C"}, {true, "r2", "D"}}},
		{name: "joins and leaves", during: []op{{true, "r1", "B"}, {false, "r0", "A"}, {true, "r2", "C"}, {false, "r2", "C"}}},
		{name: "a change after", during: []op{{true, "r1", "B"}, {true, "r1", "C"}}, after: []op{{false, "r1", "B"}}},
		{name: "nothing during", after: []op{{true, "r1", "B"}}},
	}
	srv := redistest.Start(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("acl%d:", i)
			user := fmt.Sprintf("app%d", i)
			// The user may touch the rooms' keys ({room}) but not yet the counters'.
			if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~"+prefix+"{*", "+@all").Err(); err != nil {
				t.Fatalf("ACL SETUSER: %v", err)
			}
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: user, Password: "pw", MaxRetries: -1})
			t.Cleanup(func() { rdb.Close() })
			var logs testsync.Buffer
			errs := errcount.New(slog.New(slog.NewJSONHandler(&logs, nil)), errcount.DefaultEvery)
			s := room.NewRedis(rdb, prefix).ReportTo(errs)
			do := func(o op) {
				t.Helper()
				if o.join {
					roomtest.MustJoin(t, s, o.room, o.client)
				} else if err := s.Remove(ctx, o.room, o.client, nil); err != nil {
					t.Fatalf("remove %s from %s: %v", o.client, o.room, err)
				}
			}
			// Before: counted while allowed (the user may write the counters at first).
			if err := admin.Do(ctx, "ACL", "SETUSER", user, "~"+prefix+"stats").Err(); err != nil {
				t.Fatalf("ACL SETUSER: %v", err)
			}
			do(op{true, "r0", "A"})
			if err := admin.Do(ctx, "ACL", "SETUSER", user, "resetkeys", "~"+prefix+"{*").Err(); err != nil {
				t.Fatalf("ACL SETUSER: %v", err)
			}
			for _, o := range tt.during {
				do(o)
			}
			if got, want := errs.Count(errcount.RoomStats), int64(len(tt.during)); got != want {
				t.Fatalf("room_stats errors = %d, want %d (one per refused update)", got, want)
			}
			if n := strings.Count(logs.String(), `"op":"room_stats"`); len(tt.during) > 0 && n != 1 {
				t.Fatalf("%d log lines for %d failures, want 1:\n%s", n, len(tt.during), logs.String())
			}
			if _, err := s.Stats(ctx); err == nil {
				t.Fatal("Stats answered while its key is refused")
			}
			if err := admin.Do(ctx, "ACL", "SETUSER", user, "~"+prefix+"stats").Err(); err != nil {
				t.Fatalf("ACL SETUSER: %v", err)
			}
			for _, o := range tt.after {
				do(o)
			}
			got, err := s.Stats(ctx)
			if err != nil {
				t.Fatalf("Stats after recovery: %v", err)
			}
			if want := truth(t, admin, prefix); got != want {
				t.Fatalf("Stats after recovery = %+v, want the rooms Redis holds: %+v", got, want)
			}
		})
	}
}
