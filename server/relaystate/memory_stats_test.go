package relaystate

import (
	"testing"
	"time"

	"github.com/onertc/onertc/server/room"
)

// walk counts rooms and clients by walking the table under its lock: the truth the
// counters Stats reads must agree with.
func (m *Memory) walk() room.Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := room.Stats{Rooms: len(m.rooms)}
	for _, r := range m.rooms {
		s.Clients += len(r.clients)
	}
	return s
}

// Memory's counters follow joins, refused joins, removals (both ways), detaches and
// reaps.
func TestMemoryStatsMatchRooms(t *testing.T) {
	c := newMemoryFleet(1)
	m := c.insts[0].(*Memory)
	steps := []struct {
		name string
		do   func(t *testing.T)
		want room.Stats
	}{
		{"A joins r", func(t *testing.T) { c.join(t, 0, "r", "A") }, room.Stats{Rooms: 1, Clients: 1}},
		{"B joins r", func(t *testing.T) { c.join(t, 0, "r", "B") }, room.Stats{Rooms: 1, Clients: 2}},
		{"a third is refused", func(t *testing.T) {
			if _, err := c.rooms.Join(ctx, "r", func() string { return "X" }); err == nil {
				t.Fatal("a third client joined")
			}
		}, room.Stats{Rooms: 1, Clients: 2}},
		{"C joins s", func(t *testing.T) { c.join(t, 0, "s", "C") }, room.Stats{Rooms: 2, Clients: 3}},
		{"A registers then detaches", func(t *testing.T) {
			if _, err := m.Register(ctx, "r", "A", m.Owner(1)); err != nil {
				t.Fatal(err)
			}
			if err := m.Detach(ctx, "r", "A", m.Owner(1)); err != nil {
				t.Fatal(err)
			}
		}, room.Stats{Rooms: 2, Clients: 3}},
		{"B removed by the relay", func(t *testing.T) {
			if gone, err := m.Remove(ctx, "r", "B"); err != nil || gone.Client != "B" {
				t.Fatalf("remove = %+v, %v", gone, err)
			}
		}, room.Stats{Rooms: 2, Clients: 2}},
		{"C's join undone by the room table", func(t *testing.T) {
			if err := c.rooms.Remove(ctx, "s", "C", nil); err != nil {
				t.Fatal(err)
			}
		}, room.Stats{Rooms: 1, Clients: 1}},
		{"removing an unknown client", func(t *testing.T) {
			if _, err := m.Remove(ctx, "r", "nobody"); err != nil {
				t.Fatal(err)
			}
		}, room.Stats{Rooms: 1, Clients: 1}},
		{"A reaped after its grace", func(t *testing.T) {
			c.clock.add(grace + time.Second)
			if gone, err := m.Reap(ctx, 10); err != nil || len(gone) != 1 {
				t.Fatalf("reap = %v, %v", gone, err)
			}
		}, room.Stats{}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			got, err := c.rooms.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if walked := m.walk(); got != walked || got != st.want {
				t.Fatalf("Stats %+v, walked %+v, want %+v", got, walked, st.want)
			}
		})
	}
}

// A scrape reads Memory's counters without its lock, which every message takes.
func TestMemoryStatsTakeNoLock(t *testing.T) {
	m := NewMemory(grace)
	m.mu.Lock()
	defer m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.Rooms().Stats(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a hang guard, not a measurement
		t.Fatal("Stats blocked on the state's lock")
	}
}
