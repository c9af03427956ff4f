// Package room holds the room table of the AppRTC room server: who is in which room (at most
// two), who is the initiator, and the mailbox of a client that is alone. Storage sits behind
// Store so that several instances can share it (Redis). The relay's state sits on the same
// table: relaystate.Memory is the single-process Store, with the relay's state in it, as
// relaystate.Redis keeps its keys beside Redis's.
package room

import (
	"context"
	"errors"
)

// Sentinel errors of the room rules.
var (
	ErrFull          = errors.New("room is full")
	ErrUnknownRoom   = errors.New("unknown room")
	ErrUnknownClient = errors.New("unknown client")
	ErrMailboxFull   = errors.New("mailbox is full")
	ErrInvalidID     = errors.New("invalid room or client id")
)

// Joined is the outcome of a successful join.
type Joined struct {
	ClientID    string
	IsInitiator bool
	// Messages are what the other client stored while it was alone, in order; the mailbox
	// is cleared by the join that returns them.
	Messages []string
}

// Store is the room table. Every method is atomic with respect to the others for one room.
type Store interface {
	// Join adds a new client, with an id from newID, to the room, creating the room when it
	// does not exist. It returns ErrFull when the room already holds two.
	Join(ctx context.Context, roomID string, newID func() string) (Joined, error)
	// Message stores msg in the sender's mailbox when the sender is alone in the room and
	// reports stored = true. With two clients in the room it stores nothing and reports
	// false: the caller hands msg to the relay. ErrUnknownRoom or ErrUnknownClient when the
	// sender is not in the room; ErrMailboxFull when the mailbox is at its bounds.
	Message(ctx context.Context, roomID, clientID, msg string) (stored bool, err error)
	// Remove takes the client out of the room (a no-op for an unknown room or client) and
	// appends handoff to the mailbox of the client that remains, in the same step, so a
	// newcomer never joins between the two. An empty room is deleted.
	Remove(ctx context.Context, roomID, clientID string, handoff []string) error
	// Occupancy is the number of clients in the room (0 for an unknown room).
	Occupancy(ctx context.Context, roomID string) (int, error)
	// Stats counts rooms and clients for metrics.
	Stats(ctx context.Context) (Stats, error)
}

// Stats counts what a Store holds.
type Stats struct {
	Rooms   int
	Clients int
}
