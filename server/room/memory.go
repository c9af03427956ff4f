package room

import (
	"context"
	"fmt"
	"sync"

	"github.com/onertc/onertc/protocol"
)

// Memory is the in-process Store. One mutex guards the table; no method does I/O under it.
type Memory struct {
	mu    sync.Mutex
	rooms map[string]*memRoom
}

type memRoom struct {
	// clients in join order; the first is the one that found the room empty.
	clients []*memClient
}

type memClient struct {
	id           string
	mailbox      []string
	mailboxBytes int
}

// NewMemory returns an empty in-memory room table.
func NewMemory() *Memory {
	return &Memory{rooms: make(map[string]*memRoom)}
}

func (r *memRoom) find(id string) (int, *memClient) {
	for i, c := range r.clients {
		if c.id == id {
			return i, c
		}
	}
	return -1, nil
}

// Join implements Store.
func (m *Memory) Join(_ context.Context, roomID string, newID func() string) (Joined, error) {
	if !protocol.ValidID(roomID) {
		return Joined{}, fmt.Errorf("join room %q: %w", roomID, ErrInvalidID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	if r == nil {
		r = &memRoom{}
		m.rooms[roomID] = r
	}
	if len(r.clients) >= protocol.RoomCapacity {
		return Joined{}, fmt.Errorf("join room %q: %w", roomID, ErrFull)
	}
	id := newID()
	for _, taken := r.find(id); taken != nil; _, taken = r.find(id) {
		id = newID()
	}
	j := Joined{ClientID: id, IsInitiator: len(r.clients) == 0, Messages: []string{}}
	for _, other := range r.clients {
		j.Messages = append(j.Messages, other.mailbox...)
		other.mailbox, other.mailboxBytes = nil, 0
	}
	r.clients = append(r.clients, &memClient{id: id})
	return j, nil
}

// Message implements Store.
func (m *Memory) Message(_ context.Context, roomID, clientID, msg string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	if r == nil {
		return false, fmt.Errorf("message in room %q: %w", roomID, ErrUnknownRoom)
	}
	_, c := r.find(clientID)
	if c == nil {
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	}
	if len(r.clients) > 1 {
		return false, nil
	}
	if err := c.store(msg); err != nil {
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, err)
	}
	return true, nil
}

func (c *memClient) store(msgs ...string) error {
	n := 0
	for _, msg := range msgs {
		n += len(msg)
	}
	if len(c.mailbox)+len(msgs) > protocol.MaxMailbox || c.mailboxBytes+n > protocol.MaxQueuedBytesPerSender {
		return ErrMailboxFull
	}
	c.mailbox = append(c.mailbox, msgs...)
	c.mailboxBytes += n
	return nil
}

// Remove implements Store.
func (m *Memory) Remove(_ context.Context, roomID, clientID string, handoff []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	if r == nil {
		return nil
	}
	i, c := r.find(clientID)
	if c == nil {
		return nil
	}
	r.clients = append(r.clients[:i], r.clients[i+1:]...)
	if len(r.clients) == 0 {
		delete(m.rooms, roomID)
		return nil
	}
	if len(handoff) > 0 {
		// The hand-off is bounded by the relay's own queue bounds, which equal the
		// mailbox's; a mailbox that is already holding messages keeps what fits.
		remaining := r.clients[0]
		for _, msg := range handoff {
			if err := remaining.store(msg); err != nil {
				return fmt.Errorf("hand off to %q in room %q: %w", remaining.id, roomID, err)
			}
		}
	}
	return nil
}

// Occupancy implements Store.
func (m *Memory) Occupancy(_ context.Context, roomID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.rooms[roomID]; r != nil {
		return len(r.clients), nil
	}
	return 0, nil
}

// Stats implements Store.
func (m *Memory) Stats(context.Context) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Rooms: len(m.rooms)}
	for _, r := range m.rooms {
		s.Clients += len(r.clients)
	}
	return s, nil
}
