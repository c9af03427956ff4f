// Package roomtest is the contract every room.Store keeps, run by each implementation's
// tests: room.Redis's and relaystate.Memory's.
package roomtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/room"
)

// IDs returns a newID function that yields the given ids in turn.
func IDs(list ...string) func() string {
	var i int
	return func() string {
		id := list[i%len(list)]
		i++
		return id
	}
}

// Contract runs the room table's contract against a Store implementation; newStore
// returns an empty table.
func Contract(t *testing.T, newStore func(t *testing.T) room.Store) {
	ctx := context.Background()
	t.Run("initiator, mailbox and full", func(t *testing.T) {
		s := newStore(t)
		a, err := s.Join(ctx, "r1", IDs("A"))
		if err != nil || !a.IsInitiator || a.ClientID != "A" || len(a.Messages) != 0 {
			t.Fatalf("first join = %+v, %v; want initiator A, no messages", a, err)
		}
		for _, m := range []string{"offer", "cand1", "cand2"} {
			stored, err := s.Message(ctx, "r1", "A", m)
			if err != nil || !stored {
				t.Fatalf("Message(%q) alone = %v, %v; want stored", m, stored, err)
			}
		}
		b, err := s.Join(ctx, "r1", IDs("B"))
		if err != nil || b.IsInitiator || strings.Join(b.Messages, ",") != "offer,cand1,cand2" {
			t.Fatalf("second join = %+v, %v; want callee with A's three messages in order", b, err)
		}
		stored, err := s.Message(ctx, "r1", "A", "later")
		if err != nil || stored {
			t.Fatalf("Message with two in room = %v, %v; want not stored (relayed)", stored, err)
		}
		if _, err := s.Join(ctx, "r1", IDs("C")); !errors.Is(err, room.ErrFull) {
			t.Fatalf("third join err = %v, want ErrFull", err)
		}
		if n, _ := s.Occupancy(ctx, "r1"); n != 2 {
			t.Fatalf("occupancy after refused third join = %d, want 2", n)
		}
	})
	t.Run("unknown room and client", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Message(ctx, "nope", "A", "x"); !errors.Is(err, room.ErrUnknownRoom) {
			t.Fatalf("err = %v, want ErrUnknownRoom", err)
		}
		if _, err := s.Join(ctx, "r2", IDs("A")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Message(ctx, "r2", "Z", "x"); !errors.Is(err, room.ErrUnknownClient) {
			t.Fatalf("err = %v, want ErrUnknownClient", err)
		}
		if err := s.Remove(ctx, "nope", "Z", nil); err != nil {
			t.Fatalf("Remove unknown = %v, want nil", err)
		}
		if err := s.Remove(ctx, "r2", "Z", nil); err != nil {
			t.Fatalf("Remove unknown client = %v, want nil", err)
		}
		if n, _ := s.Occupancy(ctx, "r2"); n != 1 {
			t.Fatalf("occupancy = %d, want 1", n)
		}
	})
	t.Run("leave makes the other initiator of the next join and hands off", func(t *testing.T) {
		s := newStore(t)
		MustJoin(t, s, "r3", "A")
		MustJoin(t, s, "r3", "B")
		if err := s.Remove(ctx, "r3", "A", []string{"reoffer", "cand"}); err != nil {
			t.Fatal(err)
		}
		if stored, err := s.Message(ctx, "r3", "B", "cand2"); err != nil || !stored {
			t.Fatalf("B alone: stored=%v err=%v", stored, err)
		}
		c := MustJoin(t, s, "r3", "C")
		if c.IsInitiator || strings.Join(c.Messages, ",") != "reoffer,cand,cand2" {
			t.Fatalf("newcomer = %+v; want callee with the handed-off messages then B's own", c)
		}
		mustRemove(t, s, "r3", "B")
		mustRemove(t, s, "r3", "C")
		if n, _ := s.Occupancy(ctx, "r3"); n != 0 {
			t.Fatalf("occupancy of emptied room = %d", n)
		}
		d := MustJoin(t, s, "r3", "D")
		if !d.IsInitiator {
			t.Fatalf("join of an emptied room is not initiator")
		}
	})
	t.Run("mailbox bounds", func(t *testing.T) {
		s := newStore(t)
		MustJoin(t, s, "r4", "A")
		for i := 0; i < protocol.MaxMailbox; i++ {
			if _, err := s.Message(ctx, "r4", "A", "m"); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if _, err := s.Message(ctx, "r4", "A", "one too many"); !errors.Is(err, room.ErrMailboxFull) {
			t.Fatalf("err = %v, want ErrMailboxFull", err)
		}
		s2 := newStore(t)
		MustJoin(t, s2, "r5", "A")
		big := strings.Repeat("x", protocol.MaxMessageBytes)
		for i := 0; i < protocol.MaxQueuedBytesPerSender/protocol.MaxMessageBytes; i++ {
			if _, err := s2.Message(ctx, "r5", "A", big); err != nil {
				t.Fatalf("big message %d: %v", i, err)
			}
		}
		if _, err := s2.Message(ctx, "r5", "A", big); !errors.Is(err, room.ErrMailboxFull) {
			t.Fatalf("err = %v, want ErrMailboxFull by bytes", err)
		}
		b := MustJoin(t, s2, "r5", "B")
		if len(b.Messages) != protocol.MaxQueuedBytesPerSender/protocol.MaxMessageBytes {
			t.Fatalf("joiner got %d messages; the refused one must not be among them", len(b.Messages))
		}
	})
	t.Run("invalid id", func(t *testing.T) {
		s := newStore(t)
		for _, id := range []string{"", "a b", strings.Repeat("a", protocol.MaxIDLen+1), "é"} {
			if _, err := s.Join(ctx, id, IDs("A")); !errors.Is(err, room.ErrInvalidID) {
				t.Errorf("Join(%q) err = %v, want ErrInvalidID", id, err)
			}
		}
	})
	t.Run("concurrent joins never exceed capacity", func(t *testing.T) {
		s := newStore(t)
		var ok, full atomic.Int32
		var wg sync.WaitGroup
		var n atomic.Int32
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Join(ctx, "race", func() string { return fmt.Sprint("c", n.Add(1)) })
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, room.ErrFull):
					full.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 2 || full.Load() != 18 {
			t.Fatalf("ok=%d full=%d, want 2 and 18", ok.Load(), full.Load())
		}
		st, _ := s.Stats(ctx)
		if st.Clients < 2 || st.Rooms < 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
	t.Run("id collision is retried", func(t *testing.T) {
		s := newStore(t)
		MustJoin(t, s, "r6", "A")
		b, err := s.Join(ctx, "r6", IDs("A", "B"))
		if err != nil || b.ClientID != "B" {
			t.Fatalf("join with colliding id = %+v, %v; want B", b, err)
		}
	})
}

// MustJoin joins roomID with id, failing the test when that fails.
func MustJoin(t *testing.T, s room.Store, roomID, id string) room.Joined {
	t.Helper()
	j, err := s.Join(context.Background(), roomID, IDs(id))
	if err != nil {
		t.Fatalf("join %s as %s: %v", roomID, id, err)
	}
	return j
}

func mustRemove(t *testing.T, s room.Store, roomID, id string) {
	t.Helper()
	if err := s.Remove(context.Background(), roomID, id, nil); err != nil {
		t.Fatalf("remove %s from %s: %v", id, roomID, err)
	}
}
