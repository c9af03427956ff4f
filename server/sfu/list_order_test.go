package sfu

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/protocol"
)

// TestParticipantListsEndCurrent: when several participants join, or change their state,
// at once, the last participant list each one receives (welcome or participants) is the
// room as it ends up: a list taken earlier never arrives after a later one. (make stress
// once saw a bot of a three-bot room whose last list named two.)
func TestParticipantListsEndCurrent(t *testing.T) {
	const n = 6
	tests := []struct {
		name string
		// changes is how many state frames each participant sends at once with the others
		// after all joined; the last says muted for even ones.
		changes int
	}{
		{"joins at once", 0},
		{"state changes at once", 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every state frame sends everyone a list: the queue must hold them all.
			h := newHarness(t, Config{SendQueue: 1024})
			room := "lists-" + fmt.Sprint(tt.changes)
			clients := make([]*sfutest.Client, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					clients[i], errs[i] = sfutest.Dial(ctx, h.url(room, fmt.Sprintf("p%d", i)), sfutest.Options{})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("join p%d: %v", i, err)
				}
				t.Cleanup(clients[i].Close)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			settle(ctx, t, clients, "joined")
			marks := make([]int, n)
			for i, c := range clients {
				marks[i] = c.Mark()
			}
			muted := func(i int) bool { return tt.changes > 0 && i%2 == 0 }
			for i, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range tt.changes {
						m := k%2 == 0
						if k == tt.changes-1 {
							m = muted(i)
						}
						if err := c.Send(protocol.GroupMessage{Type: protocol.GroupState, Muted: &m}); err != nil {
							errs[i] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("p%d state: %v", i, err)
				}
			}
			want := make([]protocol.GroupParticipant, n)
			for i := range n {
				want[i] = protocol.GroupParticipant{ID: fmt.Sprintf("p%d", i), Name: fmt.Sprintf("p%d", i), Muted: muted(i)}
			}
			settle(ctx, t, clients, "end")
			for _, c := range clients {
				last := lastList(c.Messages())
				if !sameList(last, want) {
					t.Errorf("%s's last participant list is %+v, want %+v", c.ID, last, want)
				}
			}
			// Nobody came or went meanwhile: everyone got the same lists, in one order.
			first := lists(clients[0].Messages()[marks[0]:])
			for i, c := range clients[1:] {
				if got := lists(c.Messages()[marks[i+1]:]); !slices.EqualFunc(got, first, sameList) {
					t.Errorf("%s got %d lists, %s %d, not the same in the same order", c.ID, len(got), clients[0].ID, len(first))
				}
			}
		})
	}
}

// settle makes sure no list that the clients' frames so far made the SFU send is still to
// come. A participant's frames are handled in order, so its chat is queued to the others
// after every list its earlier frames made the SFU queue to anyone, itself included; and
// a chat the others send once they have its chat is queued to it after those lists too.
// So: two rounds of chats, each waited for by everyone.
func settle(ctx context.Context, t *testing.T, clients []*sfutest.Client, word string) {
	t.Helper()
	for round := range 2 {
		text := func(c *sfutest.Client) string { return fmt.Sprintf("%s %d %s", word, round, c.ID) }
		for _, c := range clients {
			if err := c.Send(protocol.GroupMessage{Type: protocol.GroupChat, Text: text(c)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range clients {
			for _, from := range clients {
				if from == c {
					continue
				}
				if _, err := c.WaitFor(ctx, func(m protocol.GroupMessage) bool {
					return m.Type == protocol.GroupChat && m.Text == text(from)
				}); err != nil {
					t.Fatalf("%s got no %q: %v", c.ID, text(from), err)
				}
			}
		}
	}
}

// lists are the participant lists of the participants frames in msgs.
func lists(msgs []protocol.GroupMessage) [][]protocol.GroupParticipant {
	var out [][]protocol.GroupParticipant
	for _, m := range msgs {
		if m.Type == protocol.GroupParticipants {
			out = append(out, m.Participants)
		}
	}
	return out
}

// lastList is the participant list of the last welcome or participants frame in msgs.
func lastList(msgs []protocol.GroupMessage) []protocol.GroupParticipant {
	for i := len(msgs) - 1; i >= 0; i-- {
		if t := msgs[i].Type; t == protocol.GroupWelcome || t == protocol.GroupParticipants {
			return msgs[i].Participants
		}
	}
	return nil
}

// sameList reports whether a and b name the same participants in the same states, in any
// order.
func sameList(a, b []protocol.GroupParticipant) bool {
	key := func(p protocol.GroupParticipant) string {
		return fmt.Sprintf("%s/%s/%v/%v", p.ID, p.Name, p.Muted, p.CameraOff)
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
