package relaystate

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/room"
)

// aclFleet is two instances whose Redis user an admin connection can restrict with real
// ACL rules, so that the writes done after a script (indexes, notices) fail for real
// while the scripts on the rooms' keys go through.
type aclFleet struct {
	*fleet
	admin  *redis.Client
	user   string
	prefix string
	errs   *errcount.Counter
	logs   *testsync.Buffer
}

func newACLFleet(t *testing.T, srv *redistest.Server, admin *redis.Client, n int) *aclFleet {
	t.Helper()
	id := prefixes.Add(1)
	f := &aclFleet{admin: admin, user: fmt.Sprintf("u%d", id), prefix: fmt.Sprintf("acl%d:", id), logs: &testsync.Buffer{}}
	f.errs = errcount.New(slog.New(slog.NewJSONHandler(f.logs, nil)), time.Hour)
	f.allow(t, "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: f.user, Password: "pw", MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	rooms := room.NewRedis(rdb, f.prefix).ReportTo(f.errs)
	f.fleet = &fleet{rdb: rdb, rooms: rooms, clock: newClock()}
	for i := range n {
		s := NewRedis(rdb, rooms, f.prefix, fmt.Sprintf("i%d", i), grace).ReportTo(f.errs)
		s.now = f.clock.now
		f.insts = append(f.insts, s)
		f.rinsts = append(f.rinsts, s)
	}
	return f
}

// allow sets the user's rules: the rooms' keys and the counters always, and the indexes
// and channels as restrict says: "" everything, else a list of "-grace" (no access),
// "rgrace" (read only) and the like for grace, owned, instances and turn, and "-pubsub".
func (f *aclFleet) allow(t *testing.T, restrict string) {
	t.Helper()
	rules := []string{"SETUSER", f.user, "reset", "on", ">pw", "+@all", "~" + f.prefix + "{*", "~" + f.prefix + "stats"}
	limited := strings.Fields(restrict)
	has := func(r string) bool {
		for _, l := range limited {
			if l == r {
				return true
			}
		}
		return false
	}
	for _, k := range []string{"grace", "owned:*", "instances", "turn"} {
		name := strings.TrimSuffix(k, ":*")
		switch {
		case has("-" + name):
		case has("r" + name):
			rules = append(rules, "%R~"+f.prefix+k)
		default:
			rules = append(rules, "~"+f.prefix+k)
		}
	}
	if !has("-pubsub") {
		rules = append(rules, "allchannels")
	}
	args := []any{"ACL"}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := f.admin.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("ACL %v: %v", rules, err)
	}
}

// Each write the State does after its script, refused by Redis, is counted under its op
// and logged once; the operation itself still succeeds (the script decided), and what the
// failed write left behind is made good once Redis takes writes again.
func TestRedisStateCountsFailedUpkeep(t *testing.T) {
	srv := redistest.Start(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *aclFleet)
		restrict string
		act      func(t *testing.T, f *aclFleet)
		want     map[errcount.Op]int64
		// recover, when set, runs with every right back and checks nothing stayed wrong.
		recover func(t *testing.T, f *aclFleet)
	}{
		{
			name: "takeover notice unpublished",
			setup: func(t *testing.T, f *aclFleet) {
				f.join(t, 0, "r", "A")
				mustRegister(t, f.rinsts[0], "r", "A", 1)
			},
			restrict: "-pubsub",
			act: func(t *testing.T, f *aclFleet) {
				if reg, err := f.rinsts[1].Register(ctx, "r", "A", f.rinsts[1].Owner(2)); err != nil || reg.Previous != f.rinsts[0].Owner(1) {
					t.Fatalf("register on the other instance = %+v, %v", reg, err)
				}
			},
			want: map[errcount.Op]int64{errcount.RelayNotice: 1, errcount.RelayIndex: 0},
		},
		{
			name: "detach without the owned index",
			setup: func(t *testing.T, f *aclFleet) {
				f.join(t, 0, "r", "A")
				mustRegister(t, f.rinsts[0], "r", "A", 1)
			},
			restrict: "rowned",
			act: func(t *testing.T, f *aclFleet) {
				if err := f.rinsts[0].Detach(ctx, "r", "A", f.rinsts[0].Owner(1)); err != nil {
					t.Fatalf("detach: %v", err)
				}
			},
			want: map[errcount.Op]int64{errcount.RelayIndex: 1},
		},
		{
			name: "removal without indexes or notice",
			setup: func(t *testing.T, f *aclFleet) {
				f.join(t, 0, "r", "A")
				f.join(t, 0, "r", "B")
				mustRegister(t, f.rinsts[0], "r", "A", 1)
				mustRegister(t, f.rinsts[1], "r", "B", 1)
			},
			restrict: "rgrace rowned -pubsub",
			act: func(t *testing.T, f *aclFleet) {
				if gone, err := f.rinsts[0].Remove(ctx, "r", "B"); err != nil || gone.Client != "B" {
					t.Fatalf("remove = %+v, %v", gone, err)
				}
			},
			// The grace entry, the owned entry, the notice to instance 1.
			want: map[errcount.Op]int64{errcount.RelayIndex: 2, errcount.RelayNotice: 1},
			recover: func(t *testing.T, f *aclFleet) {
				// The stale grace entry goes at the next reap that reaches it; A, online,
				// stays.
				f.clock.add(grace + time.Second)
				if gone, err := f.rinsts[0].Reap(ctx, 10); err != nil || len(gone) != 0 {
					t.Fatalf("reap = %v, %v; want nothing removed", gone, err)
				}
				if n := f.admin.ZCard(ctx, f.prefix+"grace").Val(); n != 0 {
					t.Fatalf("grace entries after reap = %d, want none", n)
				}
				if st, err := f.rooms.Stats(ctx); err != nil || st != (room.Stats{Rooms: 1, Clients: 1}) {
					t.Fatalf("room stats = %+v, %v; want A alone", st, err)
				}
			},
		},
		{
			name: "reap without the grace index",
			setup: func(t *testing.T, f *aclFleet) {
				f.join(t, 0, "r", "A")
				f.clock.add(grace + time.Second)
			},
			restrict: "rgrace",
			act: func(t *testing.T, f *aclFleet) {
				if gone, err := f.rinsts[0].Reap(ctx, 10); err != nil || len(gone) != 1 {
					t.Fatalf("reap = %v, %v; want A removed", gone, err)
				}
			},
			want: map[errcount.Op]int64{errcount.RelayIndex: 1},
			recover: func(t *testing.T, f *aclFleet) {
				if gone, err := f.rinsts[0].Reap(ctx, 10); err != nil || len(gone) != 0 {
					t.Fatalf("reap = %v, %v", gone, err)
				}
				if n := f.admin.ZCard(ctx, f.prefix+"grace").Val(); n != 0 {
					t.Fatalf("grace entries = %d, want none", n)
				}
				if st, err := f.rooms.Stats(ctx); err != nil || st != (room.Stats{}) {
					t.Fatalf("room stats = %+v, %v; want none", st, err)
				}
			},
		},
		{
			// A dead instance is forgotten from the instance list only once its other
			// keys are gone: a failed step is done again by the next pass.
			name: "dead instance's TURN entry refused",
			setup: func(t *testing.T, f *aclFleet) {
				for _, s := range f.rinsts {
					if _, err := s.heartbeat(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.rinsts[1].AdvertiseTURN(ctx, []string{"turn:i1"}); err != nil {
					t.Fatal(err)
				}
				f.join(t, 1, "r", "A")
				mustRegister(t, f.rinsts[1], "r", "A", 1)
				f.clock.add(6 * time.Second)
				if _, err := f.rinsts[0].heartbeat(ctx); err != nil {
					t.Fatal(err)
				}
			},
			restrict: "rturn",
			act: func(t *testing.T, f *aclFleet) {
				if _, err := f.rinsts[0].reapInstances(ctx, 5*time.Second); err == nil {
					t.Fatal("ReapInstances hid the failure to forget the dead instance")
				}
				if _, err := f.admin.ZScore(ctx, f.prefix+"instances", "i1").Result(); err != nil {
					t.Fatalf("dead instance forgotten with its TURN entry left behind: %v", err)
				}
			},
			want: map[errcount.Op]int64{errcount.RelayIndex: 0},
			recover: func(t *testing.T, f *aclFleet) {
				dead, err := f.rinsts[0].reapInstances(ctx, 5*time.Second)
				if err != nil || strings.Join(dead, ",") != "i1" {
					t.Fatalf("second pass = %v, %v; want i1", dead, err)
				}
				if f.admin.HExists(ctx, f.prefix+"turn", "i1").Val() || f.admin.Exists(ctx, f.prefix+"owned:i1").Val() != 0 {
					t.Fatal("the dead instance's keys are still there")
				}
				if _, err := f.admin.ZScore(ctx, f.prefix+"instances", "i1").Result(); err != redis.Nil {
					t.Fatalf("dead instance still listed: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newACLFleet(t, srv, admin, 2)
			tt.setup(t, f)
			f.allow(t, tt.restrict)
			tt.act(t, f)
			for op, want := range tt.want {
				if got := f.errs.Count(op); got != want {
					t.Errorf("%s errors = %d, want %d", op, got, want)
				}
				lines := strings.Count(f.logs.String(), `"op":"`+string(op)+`"`)
				if want > 0 && lines != 1 {
					t.Errorf("%d log lines for %d %s errors, want 1:\n%s", lines, want, op, f.logs.String())
				}
			}
			if tt.recover != nil {
				f.allow(t, "")
				tt.recover(t, f)
			}
		})
	}
}

func mustRegister(t *testing.T, s *Redis, roomID, clientID string, socket uint64) {
	t.Helper()
	if _, err := s.Register(ctx, roomID, clientID, s.Owner(socket)); err != nil {
		t.Fatalf("register %s: %v", clientID, err)
	}
}
