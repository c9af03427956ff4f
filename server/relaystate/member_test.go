package relaystate

import (
	"testing"

	"github.com/onertc/onertc/internal/testkit/redistest"
)

// TestMember: Member answers from the room table, on both implementations: a joined
// client is a member, a stranger, a client of another room and a removed client are not.
func TestMember(t *testing.T) {
	srv := redistest.Start(t)
	for _, impl := range []struct {
		name     string
		newFleet func(t *testing.T) *fleet
	}{
		{"memory", func(*testing.T) *fleet { return newMemoryFleet(2) }},
		{"redis", func(t *testing.T) *fleet { return newRedisFleet(t, srv, 2) }},
	} {
		t.Run(impl.name, func(t *testing.T) {
			c := impl.newFleet(t)
			c.join(t, 0, "r", "A")
			c.join(t, 1, "r", "B")
			c.join(t, 0, "other", "C")
			if _, err := c.insts[0].Remove(ctx, "r", "B"); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				room, client string
				want         bool
			}{
				{"r", "A", true},
				{"other", "C", true},
				{"r", "B", false},      // removed
				{"r", "C", false},      // in another room
				{"r", "Z", false},      // never joined
				{"nosuch", "A", false}, // no such room
			} {
				for i, inst := range c.insts {
					got, err := inst.Member(ctx, tt.room, tt.client)
					if err != nil || got != tt.want {
						t.Errorf("instance %d: Member(%s, %s) = %v, %v; want %v", i, tt.room, tt.client, got, err, tt.want)
					}
				}
			}
		})
	}
}
