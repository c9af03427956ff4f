package grouproom

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/server/relaystate"
)

// TestRedisMovesAGroupOffADeadInstance: the group's SFU instance dies with sockets open.
// Two instances reading the record at once move it, and they agree on where; every ticket
// stays and places its holder there; the dead instance's open sockets no longer count, so
// each participant's next socket and its end work as before; a participant that does not
// come back within the ticket's life lapses.
func TestRedisMovesAGroupOffADeadInstance(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	var mu sync.Mutex
	live := []string{"i1", "i2", "i3"}
	liveNow := func(context.Context) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), live...), nil
	}
	stores := map[string]*Redis{}
	for _, inst := range live {
		stores[inst] = must(NewRedis(rdb, "p:", RedisConfig{Config: Config{Size: 8, Member: m.state.Member, TicketTTL: 30 * time.Second, Now: clk.Now},
			Instance: inst, Live: liveNow}))(t)
	}
	// i3 takes the group (fewest packets), i2 would be next, i1 the busiest.
	for inst, pps := range map[string]uint64{"i1": 9000, "i2": 3000, "i3": 100} {
		noErr(t, stores[inst].Advertise(ctx, Load{URL: "http://" + inst, PacketsPerSecond: pps}))
	}
	m.set("r", "a", true)
	m.set("r", "b", true)
	noErr(t, stores["i1"].Joined(ctx, "r", "a", true, true))
	noErr(t, stores["i1"].Joined(ctx, "r", "b", true, false))
	c := must(stores["i1"].Admit(ctx, "r", ids()))(t).ID
	participants := []string{"a", "b", c}
	for _, id := range participants {
		if inst := must(placed(ctx, stores["i1"], "r", id))(t); inst != "i3" {
			t.Fatalf("%s placed on %q before the death, want i3", id, inst)
		}
		// i3 serves the sockets; it dies before any ends.
		if _, ok, err := stores["i3"].Open(ctx, "r", id); !ok || err != nil {
			t.Fatalf("Open(%s) on i3 = %v, %v", id, ok, err)
		}
	}
	mu.Lock()
	live = []string{"i1", "i2"}
	mu.Unlock()

	// i1 and i2 notice at once, each for a participant of its own.
	got := make([]string, 2)
	var wg sync.WaitGroup
	for i, inst := range []string{"i1", "i2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = placed(ctx, stores[inst], "r", participants[i])
		}()
	}
	wg.Wait()
	if got[0] != "i2" || got[1] != "i2" {
		t.Fatalf("the instances placed the moved group on %q and %q, want both i2 (the live one forwarding the least)", got[0], got[1])
	}
	for _, id := range participants {
		if inst := must(placed(ctx, stores["i1"], "r", id))(t); inst != "i2" {
			t.Fatalf("%s placed on %q after the move, want i2", id, inst)
		}
	}
	if n := must(stores["i1"].Count(ctx, "r"))(t); n != 3 {
		t.Fatalf("count %d after the move, want the 3 tickets", n)
	}

	// a and b come back on i2; c does not.
	var done []func()
	for _, id := range []string{"a", "b"} {
		d, ok, err := stores["i2"].Open(ctx, "r", id)
		if !ok || err != nil {
			t.Fatalf("Open(%s) on i2 after the move = %v, %v", id, ok, err)
		}
		done = append(done, d)
	}
	clk.now = clk.now.Add(time.Minute)
	if n := must(stores["i2"].Count(ctx, "r"))(t); n != 2 {
		t.Fatalf("count %d once c's ticket had its time to come back, want 2", n)
	}
	// Their sockets' ends are counted from the new SFU's alone: the last ends the group.
	for _, d := range done {
		d()
	}
	if n := must(rdb.Exists(ctx, "p:{r}:group").Result())(t); n != 0 {
		t.Fatal("the moved group's record outlived its last socket (the dead instance's sockets still counted)")
	}
}

func placed(ctx context.Context, st *Redis, roomID, id string) (string, error) {
	inst, _, err := st.Placed(ctx, roomID, id)
	return inst, err
}

// TestRedisMoveAway: a draining instance moves its own group to the live instance that
// forwards the least among the others (never to itself, though it forwards the least), and
// the tickets stay; it moves no group of another instance's, and none when no other
// instance offers an SFU.
func TestRedisMoveAway(t *testing.T) {
	ctx := context.Background()
	live := []string{"i1", "i2", "i3"}
	stores := groupOfThree(t, map[string]uint64{"i1": 10, "i2": 5000, "i3": 3000}, func(rc *RedisConfig) {
		rc.Live = func(context.Context) ([]string, error) { return live, nil }
	})
	if inst := must(placed(ctx, stores["i2"], "r", "a"))(t); inst != "i1" {
		t.Fatalf("group placed on %q, want i1", inst)
	}
	if to := must(stores["i2"].MoveAway(ctx, "r"))(t); to != "" {
		t.Fatalf("i2 moved i1's group to %q", to)
	}
	if to := must(stores["i1"].MoveAway(ctx, "r"))(t); to != "i3" {
		t.Fatalf("i1 moved its group to %q, want i3", to)
	}
	for _, id := range []string{"a", "b"} {
		if inst := must(placed(ctx, stores["i2"], "r", id))(t); inst != "i3" {
			t.Fatalf("%s placed on %q after the move, want i3", id, inst)
		}
	}
	noErr(t, stores["i1"].Withdraw(ctx))
	noErr(t, stores["i2"].Withdraw(ctx))
	if to := must(stores["i3"].MoveAway(ctx, "r"))(t); to != "" {
		t.Fatalf("i3 moved its group to %q with no other SFU offered", to)
	}
}

// TestRedisSocketEndsAfterMoveAway: a draining instance moves its group, then its sockets
// end (after the SFU's wait for a resume) while the participants' new sockets are open on
// the new SFU: those late ends count for nothing, so the tickets and the record stay, and a
// later drain of the new instance moves the group again. Counted, they dropped every
// ticket and the record with them.
func TestRedisSocketEndsAfterMoveAway(t *testing.T) {
	ctx := context.Background()
	live := []string{"i1", "i2", "i3"}
	stores := groupOfThree(t, map[string]uint64{"i1": 10, "i2": 5000, "i3": 3000}, func(rc *RedisConfig) {
		rc.Live = func(context.Context) ([]string, error) { return live, nil }
	})
	ids := []string{"a", "b"}
	open := func(inst string) []func() {
		var done []func()
		for _, id := range ids {
			d, ok, err := stores[inst].Open(ctx, "r", id)
			if !ok || err != nil {
				t.Fatalf("Open(%s) on %s = %v, %v", id, inst, ok, err)
			}
			done = append(done, d)
		}
		return done
	}
	old := open("i1")
	if to := must(stores["i1"].MoveAway(ctx, "r"))(t); to != "i3" {
		t.Fatalf("i1 moved its group to %q, want i3", to)
	}
	open("i3")
	for _, d := range old {
		d()
	}
	for _, id := range ids {
		if inst := must(placed(ctx, stores["i2"], "r", id))(t); inst != "i3" {
			t.Fatalf("%s placed on %q after the old sockets ended, want i3", id, inst)
		}
	}
	if n := must(stores["i2"].Count(ctx, "r"))(t); n != 3 {
		t.Fatalf("count %d after the old sockets ended, want the 3 tickets", n)
	}
	if to := must(stores["i3"].MoveAway(ctx, "r"))(t); to != "i1" {
		t.Fatalf("i3 moved the group to %q on its own drain, want i1", to)
	}
}

// TestRedisRefusedMovesAtOnce: an instance that refused a connection moves its group before
// the instance timeout only when its heartbeat is older than RefusedAfter too; a refusal
// from an instance that beat a moment ago moves nothing. The new place is never the refused
// instance, though Live still lists it.
func TestRedisRefusedMovesAtOnce(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	recent := []string{"i1", "i2", "i3"} // heartbeat within RefusedAfter
	var asked []time.Duration
	stores := groupOnI3(t, func(_ context.Context, d time.Duration) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, d)
		return append([]string(nil), recent...), nil
	})

	// A refusal while i3 beats: nothing moves.
	if now := must(stores["i1"].Refused(ctx, "r", "i3"))(t); now != "i3" {
		t.Fatalf("a refusal from a beating instance moved the group to %q", now)
	}
	if len(asked) != 1 || asked[0] != RefusedAfter {
		t.Fatalf("heartbeats asked within %v, want [%v]", asked, RefusedAfter)
	}
	// i3's heartbeat is late: the refusal moves the group, to i2, never back to i3.
	mu.Lock()
	recent = []string{"i1", "i2"}
	mu.Unlock()
	if now := must(stores["i1"].Refused(ctx, "r", "i3"))(t); now != "i2" {
		t.Fatalf("after a refusal and a late heartbeat the group is on %q, want i2", now)
	}
	for _, id := range []string{"a", "b"} {
		if inst := must(placed(ctx, stores["i2"], "r", id))(t); inst != "i2" {
			t.Fatalf("%s placed on %q after the move, want i2", id, inst)
		}
	}
	// A second refusal of the old instance (another participant's socket) changes nothing.
	if now := must(stores["i2"].Refused(ctx, "r", "i3"))(t); now != "i2" {
		t.Fatalf("a late refusal moved the group again, to %q", now)
	}
}

// TestRedisRefusedMovesOnlyToABeatingInstance: when the refused instance is not the only one
// whose heartbeat is late, the group moves to one that beat within RefusedAfter, not to the
// other late one that the loads would pick (it may be as dead: it was in
// TestGroupSocketRefusedBySFUInstance, which left two such instances in the directory).
func TestRedisRefusedMovesOnlyToABeatingInstance(t *testing.T) {
	ctx := context.Background()
	stores := groupOnI3(t, func(context.Context, time.Duration) ([]string, error) { return []string{"i1"}, nil })
	if now := must(stores["i1"].Refused(ctx, "r", "i3"))(t); now != "i1" {
		t.Fatalf("after a refusal the group is on %q, want i1, the one instance that beat lately", now)
	}
}

// groupOnI3 is groupOfThree with all three instances live and within answering LiveWithin,
// loads under which i3 takes the group and would still win a placement on packets.
func groupOnI3(t *testing.T, within func(context.Context, time.Duration) ([]string, error)) map[string]*Redis {
	t.Helper()
	all := func(context.Context) ([]string, error) { return []string{"i1", "i2", "i3"}, nil }
	stores := groupOfThree(t, map[string]uint64{"i1": 9000, "i2": 3000, "i3": 100}, func(rc *RedisConfig) {
		rc.Live, rc.LiveWithin = all, within
	})
	if inst := must(placed(context.Background(), stores["i1"], "r", "a"))(t); inst != "i3" {
		t.Fatalf("placed on %q, want i3", inst)
	}
	return stores
}

// groupOfThree makes stores of instances i1, i2 and i3 on a fresh redis-server (edit sets
// each one's liveness), with the loads pps, and room "r" a group of a, b and a third
// participant, placed on the instance the loads pick.
func groupOfThree(t *testing.T, pps map[string]uint64, edit func(*RedisConfig)) map[string]*Redis {
	t.Helper()
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	stores := map[string]*Redis{}
	for _, inst := range []string{"i1", "i2", "i3"} {
		rc := RedisConfig{Config: Config{Size: 8, Member: m.state.Member}, Instance: inst}
		edit(&rc)
		stores[inst] = must(NewRedis(rdb, "p:", rc))(t)
		noErr(t, stores[inst].Advertise(ctx, Load{URL: "http://" + inst, PacketsPerSecond: pps[inst]}))
	}
	m.set("r", "a", true)
	m.set("r", "b", true)
	noErr(t, stores["i1"].Joined(ctx, "r", "a", true, true))
	noErr(t, stores["i1"].Joined(ctx, "r", "b", true, false))
	must(stores["i1"].Admit(ctx, "r", ids()))(t)
	return stores
}
