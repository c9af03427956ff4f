package relaystate

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/room"
)

// Memory is the State of a single instance, in this process, and its room table too
// (Rooms): one table of rooms and clients, under one mutex, serves both, as Redis's relay
// keys sit on room.Redis's. No method does I/O or blocks under the mutex.
type Memory struct {
	grace time.Duration
	now   func() time.Time

	mu    sync.Mutex
	rooms map[string]*memRoom
	// offline holds the clients with a grace deadline, for Reap.
	offline map[*memClient]struct{}
	// numRooms and numClients follow rooms and the clients in them, changed under mu with
	// them, so that Stats (every metrics scrape) reads them without mu, which every
	// message of every room takes.
	numRooms, numClients atomic.Int64
}

type memRoom struct {
	id string
	// clients in join order; the first is the one that found the room empty.
	clients []*memClient
	// mailbox holds what a client alone in the room sent, for the next joiner.
	mailbox      []string
	mailboxBytes int
}

type memClient struct {
	room *memRoom
	id   string
	// owner is the socket ("" offline); deadline, while offline, is when it is removed.
	owner    string
	deadline time.Time
	// queue holds the messages not yet confirmed; base is the absolute index of queue[0],
	// written the absolute index up to which some socket has written.
	// Fetch hands out parts of queue itself, not copies: an element, once appended, is
	// never written again (Confirm only moves the slice's start).
	queue         []string
	queueBytes    int
	base, written int64
}

// memInstance names the one instance a Memory has.
const memInstance = "local"

// NewMemory returns an empty in-process state whose offline clients are removed after
// grace.
func NewMemory(grace time.Duration) *Memory {
	return &Memory{grace: grace, now: time.Now, rooms: make(map[string]*memRoom), offline: make(map[*memClient]struct{})}
}

// Instance implements State.
func (m *Memory) Instance() string { return memInstance }

// Owner implements State.
func (m *Memory) Owner(socket uint64) string {
	return memInstance + "/" + strconv.FormatUint(socket, 10)
}

// Hold implements State: nothing here can be out of reach.
func (m *Memory) Hold() time.Duration { return 0 }

func (r *memRoom) find(id string) *memClient {
	for _, c := range r.clients {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (r *memRoom) peerOf(id string) *memClient {
	for _, c := range r.clients {
		if c.id != id {
			return c
		}
	}
	return nil
}

// client returns the client, or nil. Called with m.mu held.
func (m *Memory) client(roomID, clientID string) *memClient {
	if r := m.rooms[roomID]; r != nil {
		return r.find(clientID)
	}
	return nil
}

// offlineUntil takes c offline until its grace period ends. Called with m.mu held.
func (m *Memory) offlineUntil(c *memClient) {
	c.owner, c.deadline = "", m.now().Add(m.grace)
	m.offline[c] = struct{}{}
}

// Expect implements State.
func (m *Memory) Expect(_ context.Context, roomID, clientID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.client(roomID, clientID)
	if c == nil {
		return fmt.Errorf("expect %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	}
	if c.owner == "" {
		m.offlineUntil(c)
	}
	return nil
}

// Member implements State.
func (m *Memory) Member(_ context.Context, roomID, clientID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.client(roomID, clientID) != nil, nil
}

// Register implements State.
func (m *Memory) Register(_ context.Context, roomID, clientID, owner string) (Registered, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.client(roomID, clientID)
	if c == nil {
		return Registered{}, fmt.Errorf("register %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	}
	prev := c.owner
	c.owner, c.deadline = owner, time.Time{}
	delete(m.offline, c)
	return Registered{Previous: prev, Base: c.base}, nil
}

// Send implements State. It is never retried: nothing to recognise a retry by.
func (m *Memory) Send(_ context.Context, roomID, clientID, msg string, orphan bool) (Sent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	var from, peer *memClient
	if r != nil {
		from, peer = r.find(clientID), r.peerOf(clientID)
	}
	switch {
	case from == nil && !orphan:
		return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	case from == nil && peer == nil:
		return Sent{Dropped: true}, nil
	case peer == nil:
		if !r.store(msg) {
			return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, ErrMailboxFull)
		}
		return Sent{Stored: true}, nil
	}
	if len(peer.queue) >= protocol.MaxQueuedPerSender || peer.queueBytes+len(msg) > protocol.MaxQueuedBytesPerSender {
		return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, ErrQueueFull)
	}
	peer.queue = append(peer.queue, msg)
	peer.queueBytes += len(msg)
	return Sent{PeerOwner: peer.owner}, nil
}

// store appends msg to the mailbox within its bounds and reports whether it fit.
func (r *memRoom) store(msg string) bool {
	if len(r.mailbox)+1 > protocol.MaxMailbox || r.mailboxBytes+len(msg) > protocol.MaxQueuedBytesPerSender {
		return false
	}
	r.mailbox = append(r.mailbox, msg)
	r.mailboxBytes += len(msg)
	return true
}

// claim answers whether socket owns c: nil, ErrNotOwner or ErrRemoved. One instance is
// never judged dead by another, so nothing is ever lost to take back. Called with m.mu
// held.
func claim(c *memClient, socket string) error {
	switch {
	case c == nil:
		return ErrRemoved
	case c.owner != socket:
		return ErrNotOwner
	}
	return nil
}

// Fetch implements State.
func (m *Memory) Fetch(_ context.Context, roomID, clientID, owner string, confirmed, from int64, limit int) (int64, []string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.client(roomID, clientID)
	if err := claim(c, owner); err != nil {
		return 0, nil, fmt.Errorf("fetch for %q in room %q: %w", clientID, roomID, err)
	}
	c.trim(confirmed)
	from = max(from, c.base)
	start := min(int(from-c.base), len(c.queue))
	end := min(start+limit, len(c.queue))
	if end == start {
		return from, nil, nil
	}
	msgs := c.queue[start:end:end] // capped: an append by the caller cannot reach the queue
	c.written = max(c.written, from+int64(len(msgs)))
	return from, msgs, nil
}

// Confirm implements State.
func (m *Memory) Confirm(_ context.Context, roomID, clientID, owner string, upto int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.client(roomID, clientID)
	if err := claim(c, owner); err != nil {
		return fmt.Errorf("confirm for %q in room %q: %w", clientID, roomID, err)
	}
	c.trim(upto)
	return nil
}

// trim drops c's queued messages before absolute index upto. Called with Memory.mu held.
func (c *memClient) trim(upto int64) {
	n := min(int(upto-c.base), len(c.queue))
	if n <= 0 {
		return
	}
	for _, msg := range c.queue[:n] {
		c.queueBytes -= len(msg)
	}
	// The confirmed strings stay in the backing array (a Fetch may still be reading them)
	// until the queue empties, which it does between bursts, or append moves it.
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil
	}
	c.base += int64(n)
}

// Detach implements State.
func (m *Memory) Detach(_ context.Context, roomID, clientID, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.client(roomID, clientID)
	if c == nil {
		return nil // removed: nothing to take offline
	}
	if c.owner != owner {
		return fmt.Errorf("detach %q in room %q: %w", clientID, roomID, ErrNotOwner)
	}
	m.offlineUntil(c)
	return nil
}

// Reclaim implements State.
func (m *Memory) Reclaim(_ context.Context, roomID, clientID, socket string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := claim(m.client(roomID, clientID), socket); err != nil {
		return fmt.Errorf("reclaim %q in room %q: %w", clientID, roomID, err)
	}
	return nil
}

// Remove implements State.
func (m *Memory) Remove(_ context.Context, roomID, clientID string) (Removed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.client(roomID, clientID)
	if c == nil {
		return Removed{}, nil
	}
	return m.removeLocked(c), nil
}

// removeLocked takes c out of its room: what it was never written goes to the mailbox of
// the client that remains, in the same step, so a newcomer never joins between the two.
// Called with m.mu held.
func (m *Memory) removeLocked(c *memClient) Removed {
	r := c.room
	m.drop(r, c)
	gone := Removed{Room: r.id, Client: c.id, Owner: c.owner}
	if len(r.clients) > 0 {
		rest := c.queue[min(int(max(c.written-c.base, 0)), len(c.queue)):]
		for _, msg := range rest {
			if !r.store(msg) {
				break // the mailbox keeps what fits, as room.Redis's does
			}
		}
		gone.HandedOff = len(rest)
	}
	return gone
}

// drop takes c out of r and forgets r when it is empty. Called with m.mu held.
func (m *Memory) drop(r *memRoom, c *memClient) {
	for i, o := range r.clients {
		if o == c {
			r.clients = append(r.clients[:i], r.clients[i+1:]...)
			m.numClients.Add(-1)
			break
		}
	}
	delete(m.offline, c)
	if len(r.clients) == 0 && m.rooms[r.id] == r {
		delete(m.rooms, r.id)
		m.numRooms.Add(-1)
	}
}

// Reap implements State.
func (m *Memory) Reap(_ context.Context, limit int) ([]Removed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Removed
	for c := range m.offline {
		if len(out) == limit {
			break
		}
		if c.owner == "" && !c.deadline.After(now) {
			out = append(out, m.removeLocked(c))
		}
	}
	return out, nil
}

// Run implements State: no other instance does anything to this one's sockets, and none
// needs telling that this one lives.
func (m *Memory) Run(ctx context.Context, _ Events) { <-ctx.Done() }

// Healthy implements State: this process always answers.
func (m *Memory) Healthy() bool { return true }

// Instances implements State: the state is this process's alone.
func (m *Memory) Instances() int { return 0 }

// AdvertiseTURN implements State: no other instance hands out this one's TURN URIs.
func (m *Memory) AdvertiseTURN(context.Context, []string) error { return nil }

// WithdrawTURN implements State.
func (m *Memory) WithdrawTURN(context.Context) error { return nil }

// PeerTURN implements State: there are no other instances.
func (m *Memory) PeerTURN(context.Context) ([][]string, error) { return nil, nil }

// drainPoll is how often Drain looks at the room table.
const drainPoll = 100 * time.Millisecond

// Drain implements State: this instance's clients have nowhere else to go, so it waits for
// its calls to end (the room table to empty), notice or not.
func (m *Memory) Drain(ctx context.Context, _ time.Duration) bool {
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for m.numRooms.Load() > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return false
}

// Rooms is the room table this state sits on.
func (m *Memory) Rooms() room.Store { return memRooms{m} }

// memRooms is Memory seen as the room table.
type memRooms struct{ m *Memory }

// Join implements room.Store.
func (t memRooms) Join(_ context.Context, roomID string, newID func() string) (room.Joined, error) {
	if !protocol.ValidID(roomID) {
		return room.Joined{}, fmt.Errorf("join room %q: %w", roomID, room.ErrInvalidID)
	}
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	if r == nil {
		r = &memRoom{id: roomID}
		m.rooms[roomID] = r
		m.numRooms.Add(1)
	}
	if len(r.clients) >= protocol.RoomCapacity {
		return room.Joined{}, fmt.Errorf("join room %q: %w", roomID, room.ErrFull)
	}
	id := newID()
	for r.find(id) != nil {
		id = newID()
	}
	j := room.Joined{ClientID: id, IsInitiator: len(r.clients) == 0, Messages: append([]string{}, r.mailbox...)}
	r.mailbox, r.mailboxBytes = nil, 0
	r.clients = append(r.clients, &memClient{room: r, id: id})
	m.numClients.Add(1)
	return j, nil
}

// Message implements room.Store.
func (t memRooms) Message(_ context.Context, roomID, clientID, msg string) (bool, error) {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	switch {
	case r == nil:
		return false, fmt.Errorf("message in room %q: %w", roomID, room.ErrUnknownRoom)
	case r.find(clientID) == nil:
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, room.ErrUnknownClient)
	case len(r.clients) > 1:
		return false, nil
	case !r.store(msg):
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, room.ErrMailboxFull)
	}
	return true, nil
}

// Remove implements room.Store. The relay removes through State.Remove, which also hands
// off what the client was never written; this is for a join undone.
func (t memRooms) Remove(_ context.Context, roomID, clientID string, handoff []string) error {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomID]
	if r == nil {
		return nil
	}
	c := r.find(clientID)
	if c == nil {
		return nil
	}
	m.drop(r, c)
	if len(r.clients) == 0 {
		return nil
	}
	for _, msg := range handoff {
		if !r.store(msg) {
			return fmt.Errorf("hand off in room %q: %w", roomID, room.ErrMailboxFull)
		}
	}
	return nil
}

// Occupancy implements room.Store.
func (t memRooms) Occupancy(_ context.Context, roomID string) (int, error) {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if r := t.m.rooms[roomID]; r != nil {
		return len(r.clients), nil
	}
	return 0, nil
}

// Stats implements room.Store, from counters: it takes no lock and costs the same however
// many rooms there are.
func (t memRooms) Stats(context.Context) (room.Stats, error) {
	return room.Stats{Rooms: int(t.m.numRooms.Load()), Clients: int(t.m.numClients.Load())}, nil
}
