package grouproom

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/server/relaystate"
)

// members drives the real in-process room table the server gives the record.
type members struct {
	t     *testing.T
	state *relaystate.Memory
}

func (m *members) set(room, id string, in bool) {
	m.t.Helper()
	ctx := context.Background()
	var err error
	if in {
		_, err = m.state.Rooms().Join(ctx, room, func() string { return id })
	} else {
		err = m.state.Rooms().Remove(ctx, room, id, nil)
	}
	if err != nil {
		m.t.Fatalf("room table: %v", err)
	}
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// kind makes a store of one implementation for a test; records counts the records it
// holds.
type kind struct {
	name string
	make func(t *testing.T, cfg Config) (st Store, records func() int)
}

// redisPrefix gives each Redis store of a test keys of its own.
var redisPrefix atomic.Int64

func kinds() []kind {
	return []kind{
		{"memory", func(t *testing.T, cfg Config) (Store, func() int) {
			tab, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return tab, tab.Rooms
		}},
		{"redis", func(t *testing.T, cfg Config) (Store, func() int) {
			srv := redistest.Start(t)
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { rdb.Close() })
			prefix := fmt.Sprintf("t%d:", redisPrefix.Add(1))
			st, err := NewRedis(rdb, prefix, RedisConfig{Config: cfg, Instance: "i1",
				Live: func(context.Context) ([]string, error) { return []string{"i1"}, nil }})
			if err != nil {
				t.Fatal(err)
			}
			return st, func() int {
				keys, err := rdb.Keys(context.Background(), prefix+"*group").Result()
				if err != nil {
					t.Fatalf("records: %v", err)
				}
				return len(keys)
			}
		}},
	}
}

func newTable(t *testing.T, k kind, size int) (Store, *members, *clock, func() int) {
	t.Helper()
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	st, records := k.make(t, Config{Size: size, Member: m.state.Member, TicketTTL: 30 * time.Second, Now: c.Now})
	return st, m, c, records
}

// must takes a call's two results; given the test, it fails it on the error and returns the
// value.
func must[V any](v V, err error) func(*testing.T) V {
	return func(t *testing.T) V {
		t.Helper()
		noErr(t, err)
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("g%d", n) }
}

func TestNewRefusesBadConfig(t *testing.T) {
	member := relaystate.NewMemory(time.Second).Member
	for _, cfg := range []Config{{Size: 2, Member: member}, {Size: 8}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestAdmitRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		capable  [2]bool
		inTable  [2]bool
		wantErr  error
		wantMove int
	}{
		{"both capable", [2]bool{true, true}, [2]bool{true, true}, nil, 2},
		{"an AppRTC client", [2]bool{true, false}, [2]bool{true, true}, ErrNotCapable, 0},
		{"a capable client gone from the table", [2]bool{true, true}, [2]bool{true, false}, ErrNotCapable, 0},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				tab, m, _, _ := newTable(t, k, 3)
				for i, id := range []string{"a", "b"} {
					m.set("r", id, true)
					noErr(t, tab.Joined(ctx, "r", id, tt.capable[i], i == 0))
				}
				for i, id := range []string{"a", "b"} {
					if !tt.inTable[i] {
						m.set("r", id, false)
					}
				}
				if grow := must(tab.Growable(ctx, "r"))(t); grow != (tt.wantErr == nil) {
					t.Fatalf("Growable = %v before the third", grow)
				}
				adm, err := tab.Admit(ctx, "r", ids())
				if !errors.Is(err, tt.wantErr) || len(adm.Moved) != tt.wantMove {
					t.Fatalf("Admit = %+v, %v; want %d moved, %v", adm, err, tt.wantMove, tt.wantErr)
				}
				if err != nil {
					if must(tab.IsGroup(ctx, "r"))(t) {
						t.Fatal("a refused group join made a group")
					}
					return
				}
				group, n := must(tab.IsGroup(ctx, "r"))(t), must(tab.Count(ctx, "r"))(t)
				if !group || n != 3 {
					t.Fatalf("after the third: group %v count %d, want a group of 3", group, n)
				}
				if must(tab.Growable(ctx, "r"))(t) {
					t.Fatal("a group counts as growable")
				}
				if _, err := tab.Admit(ctx, "r", ids()); !errors.Is(err, ErrFull) {
					t.Fatalf("fourth into a group of 3: %v, want ErrFull", err)
				}
			})
		}
	}
}

// TestTicketsAndForgetting: unused tickets stop counting after their TTL; a group whose
// last socket closed is forgotten; a reconnecting socket keeps its ticket.
func TestTicketsAndForgetting(t *testing.T) {
	ctx := context.Background()
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			tab, m, clk, records := newTable(t, k, 4)
			m.set("r", "a", true)
			m.set("r", "b", true)
			noErr(t, tab.Joined(ctx, "r", "a", true, true))
			noErr(t, tab.Joined(ctx, "r", "b", true, false))
			adm := must(tab.Admit(ctx, "r", ids()))(t)
			open := func(room, id string) (func(), bool) {
				t.Helper()
				done, ok, err := tab.Open(ctx, room, id)
				noErr(t, err)
				if _, placed, err := tab.Placed(ctx, room, id); err != nil || placed != ok {
					t.Fatalf("Placed(%s, %s) = %v, %v; Open said %v", room, id, placed, err, ok)
				}
				return done, ok
			}
			if _, ok := open("r", "nobody"); ok {
				t.Fatal("Open admitted an id never issued")
			}
			if _, ok := open("s", adm.ID); ok {
				t.Fatal("Open admitted a participant of another room")
			}
			doneA, ok := open("r", "a")
			if !ok {
				t.Fatal("a table client of a group room refused")
			}
			doneC1, _ := open("r", adm.ID)
			doneC2, ok := open("r", adm.ID) // a resume on a second socket
			if !ok {
				t.Fatal("second socket of a participant refused")
			}
			clk.now = clk.now.Add(time.Minute) // b never came: its ticket lapses
			if n := must(tab.Count(ctx, "r"))(t); n != 2 {
				t.Fatalf("count %d after b's ticket lapsed, want 2", n)
			}
			if _, ok, _ := tab.Placed(ctx, "r", "b"); ok {
				t.Fatal("a lapsed ticket still places its holder")
			}
			doneC1()
			doneC1() // twice changes nothing
			if n := must(tab.Count(ctx, "r"))(t); n != 2 {
				t.Fatalf("count %d with c's second socket open, want 2", n)
			}
			doneC2()
			doneA()
			if must(tab.IsGroup(ctx, "r"))(t) || records() != 0 {
				t.Fatalf("the group outlived its last socket: records %d", records())
			}
			// The next join is a 1:1 join again, and its record starts afresh.
			noErr(t, tab.Joined(ctx, "r", "a", true, true))
			if must(tab.Growable(ctx, "r"))(t) {
				t.Fatal("a new room of one is growable")
			}
		})
	}
}

// TestRedisPlacesTheGroup: the join that makes a group places its SFU on the live instance
// that forwards the fewest packets, and every participant's ticket names it; a dead
// instance's report counts for nothing.
func TestRedisPlacesTheGroup(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	live := []string{"i1", "i2", "i3"}
	stores := map[string]*Redis{}
	for _, inst := range []string{"i1", "i2", "i3", "dead"} {
		stores[inst] = must(NewRedis(rdb, "p:", RedisConfig{Config: Config{Size: 8, Member: m.state.Member}, Instance: inst,
			Live: func(context.Context) ([]string, error) { return live, nil }}))(t)
	}
	for inst, l := range map[string]Load{
		"i1": {URL: "http://i1", PacketsPerSecond: 5000, Participants: 4, Weight: 3}, // 1,667 a unit of weight
		"i2": {URL: "http://i2", PacketsPerSecond: 1200, Participants: 9},
		"i3": {URL: "http://i3", PacketsPerSecond: 1200, Participants: 3},
		// Dead: its last report must not draw the room.
		"dead": {URL: "http://dead"},
	} {
		noErr(t, stores[inst].Advertise(ctx, l))
	}
	if url := must(stores["i1"].URL(ctx, "i2"))(t); url != "http://i2" {
		t.Fatalf("URL of i2 = %q", url)
	}
	m.set("r", "a", true)
	m.set("r", "b", true)
	noErr(t, stores["i1"].Joined(ctx, "r", "a", true, true))
	noErr(t, stores["i2"].Joined(ctx, "r", "b", true, false))
	adm := must(stores["i1"].Admit(ctx, "r", ids()))(t) // decided on i1, placed on i3
	adm2 := must(stores["i2"].Admit(ctx, "r", ids()))(t)
	for _, id := range []string{"a", "b", adm.ID, adm2.ID} {
		inst, ok, err := stores["i2"].Placed(ctx, "r", id)
		if err != nil || !ok || inst != "i3" {
			t.Fatalf("Placed(%s) = %q, %v, %v; want i3", id, inst, ok, err)
		}
	}
	noErr(t, stores["i3"].Withdraw(ctx))
	loads := must(stores["i1"].Loads(ctx))(t)
	if len(loads) != 2 {
		t.Fatalf("loads after i3 withdrew: %+v, want i1 and i2", loads)
	}
	for _, l := range loads {
		if want := map[string]float64{"i1": 3, "i2": 0}[l.Instance]; l.Weight != want {
			t.Fatalf("%s's weight read back as %v, want %v", l.Instance, l.Weight, want)
		}
	}
	// i3 dies: its group moves (TestRedisMovesAGroupOffADeadInstance), it stays a group.
	live = []string{"i1", "i2"}
	if inst, ok, err := stores["i1"].Placed(ctx, "r", "a"); !ok || err != nil || inst == "i3" {
		t.Fatalf("Placed on a dead SFU = %q, %v, %v; want a live instance", inst, ok, err)
	}
	if group := must(stores["i2"].IsGroup(ctx, "r"))(t); !group {
		t.Fatal("a group whose SFU died is no group any more")
	}
}

func TestSweepForgetsEnded1to1Rooms(t *testing.T) {
	ctx := context.Background()
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	tab := must(New(Config{Size: 8, Member: m.state.Member}))(t)
	m.set("r", "a", true)
	noErr(t, tab.Joined(ctx, "r", "a", true, true))
	tab.Sweep(ctx)
	if tab.Rooms() != 1 {
		t.Fatal("a live 1:1 room's record was swept")
	}
	m.set("r", "a", false)
	tab.Sweep(ctx)
	if tab.Rooms() != 0 {
		t.Fatal("an ended 1:1 room's record was kept")
	}
}

// TestRedisEmptied: the record of a 1:1 room goes when its room table empties; a group's
// stays (its participants left the room table for the SFU).
func TestRedisEmptied(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	st := must(NewRedis(rdb, "p:", RedisConfig{Config: Config{Size: 8, Member: m.state.Member}, Instance: "i1",
		Live: func(context.Context) ([]string, error) { return []string{"i1"}, nil }}))(t)
	for _, room := range []string{"one-to-one", "group"} {
		for i, id := range []string{"a", "b"} {
			m.set(room, id, true)
			noErr(t, st.Joined(ctx, room, id, true, i == 0))
		}
	}
	must(st.Admit(ctx, "group", ids()))(t)
	for _, tt := range []struct {
		room string
		kept int64
	}{{"one-to-one", 0}, {"group", 1}} {
		noErr(t, st.Emptied(ctx, tt.room))
		if n := must(rdb.Exists(ctx, "p:{"+tt.room+"}:group").Result())(t); n != tt.kept {
			t.Errorf("record of %s after its room table emptied: %d, want %d", tt.room, n, tt.kept)
		}
	}
}
