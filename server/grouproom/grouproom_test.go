package grouproom

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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

func newTable(t *testing.T, size int) (*Table, *members, *clock) {
	t.Helper()
	m := &members{t: t, state: relaystate.NewMemory(time.Second)}
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	tab, err := New(Config{Size: size, Member: m.state.Member, TicketTTL: 30 * time.Second, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return tab, m, c
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, m, _ := newTable(t, 3)
			for i, id := range []string{"a", "b"} {
				m.set("r", id, true)
				tab.Joined("r", id, tt.capable[i], i == 0)
			}
			for i, id := range []string{"a", "b"} {
				if !tt.inTable[i] {
					m.set("r", id, false)
				}
			}
			adm, err := tab.Admit(ctx, "r", ids())
			if !errors.Is(err, tt.wantErr) || len(adm.Moved) != tt.wantMove {
				t.Fatalf("Admit = %+v, %v; want %d moved, %v", adm, err, tt.wantMove, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !tab.IsGroup("r") || tab.Count("r") != 3 {
				t.Fatalf("after the third: group %v count %d, want a group of 3", tab.IsGroup("r"), tab.Count("r"))
			}
			if _, err := tab.Admit(ctx, "r", ids()); !errors.Is(err, ErrFull) {
				t.Fatalf("fourth into a group of 3: %v, want ErrFull", err)
			}
		})
	}
}

// TestTicketsAndForgetting: unused tickets stop counting after their TTL; a group whose
// last socket closed is forgotten; a reconnecting socket keeps its ticket.
func TestTicketsAndForgetting(t *testing.T) {
	ctx := context.Background()
	tab, m, clk := newTable(t, 4)
	m.set("r", "a", true)
	m.set("r", "b", true)
	tab.Joined("r", "a", true, true)
	tab.Joined("r", "b", true, false)
	adm, err := tab.Admit(ctx, "r", ids())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Open("r", "nobody"); ok {
		t.Fatal("Open admitted an id never issued")
	}
	if _, ok := tab.Open("s", adm.ID); ok {
		t.Fatal("Open admitted a participant of another room")
	}
	doneA, ok := tab.Open("r", "a")
	if !ok {
		t.Fatal("a table client of a group room refused")
	}
	doneC1, _ := tab.Open("r", adm.ID)
	doneC2, ok := tab.Open("r", adm.ID) // a resume on a second socket
	if !ok {
		t.Fatal("second socket of a participant refused")
	}
	clk.now = clk.now.Add(time.Minute) // b never came: its ticket lapses
	if n := tab.Count("r"); n != 2 {
		t.Fatalf("count %d after b's ticket lapsed, want 2", n)
	}
	doneC1()
	doneC1() // twice changes nothing
	if n := tab.Count("r"); n != 2 {
		t.Fatalf("count %d with c's second socket open, want 2", n)
	}
	doneC2()
	doneA()
	if tab.IsGroup("r") || tab.Rooms() != 0 {
		t.Fatalf("the group outlived its last socket: rooms %d", tab.Rooms())
	}
}

func TestSweepForgetsEnded1to1Rooms(t *testing.T) {
	tab, m, _ := newTable(t, 8)
	m.set("r", "a", true)
	tab.Joined("r", "a", true, true)
	tab.Sweep(context.Background())
	if tab.Rooms() != 1 {
		t.Fatal("a live 1:1 room's record was swept")
	}
	m.set("r", "a", false)
	tab.Sweep(context.Background())
	if tab.Rooms() != 0 {
		t.Fatal("an ended 1:1 room's record was kept")
	}
}
