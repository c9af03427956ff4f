package relaystate

import (
	"testing"

	"github.com/onertc/onertc/internal/testkit/roomtest"
	"github.com/onertc/onertc/server/room"
)

// Memory is the single instance's room table too: it keeps the room table's contract.
func TestMemoryRooms(t *testing.T) {
	roomtest.Contract(t, func(*testing.T) room.Store { return NewMemory(grace).Rooms() })
}
