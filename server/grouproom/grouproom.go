// Package grouproom keeps, per room, what turns a 1:1 room into a group room on the SFU: which
// of the room table's clients can do group calls (they joined with group=1), whether the room
// has become a group, and the participant ids the server admitted to its group socket
// (tickets). Store is what the server asks; Table keeps the records in this process, Redis
// in the Redis that several instances share, beside the instance whose SFU serves each
// group (see docs/scaling.md, group rooms).
//
// A room becomes a group when a third group-capable client joins a room whose two clients are
// both group-capable. It stays one until its last group participant is gone (no return to
// peer-to-peer at two: that would switch the media a second time); then the record is
// forgotten and the next join is a 1:1 join again.
package grouproom

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Sentinel errors of Admit.
var (
	// ErrFull: the group holds its size already.
	ErrFull = errors.New("group room is full")
	// ErrNotCapable: a client of the room table cannot do group calls (an AppRTC client),
	// or the joiner did not say it can: the room stays a room for two.
	ErrNotCapable = errors.New("room cannot become a group")
)

// Config is a Table's configuration.
type Config struct {
	// Size bounds a group's participants (3 and more).
	Size int
	// Member reports whether the room table holds clientID in roomID.
	Member func(ctx context.Context, roomID, clientID string) (bool, error)
	// TicketTTL is how long an admitted participant may take to open its group socket
	// (default 30 s); an unused ticket then stops counting.
	TicketTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store holds the group records of the rooms. Every method but Size may fail when the
// records are in another process (Redis).
type Store interface {
	// Size is the largest group.
	Size() int
	// Joined records a successful join of the room table: clientID said group=1 or not.
	// The first client of a room (initiator) starts its record afresh.
	Joined(ctx context.Context, roomID, clientID string, capable, initiator bool) error
	// IsGroup reports whether the room is a group room now.
	IsGroup(ctx context.Context, roomID string) (bool, error)
	// Count is the group's participant count (admitted and not gone), 0 for a room that
	// is no group.
	Count(ctx context.Context, roomID string) (int, error)
	// Growable reports whether a room that is no group yet would become one on a capable
	// join: both of its table clients are capable. (Pages ask; Admit decides.)
	Growable(ctx context.Context, roomID string) (bool, error)
	// Admit makes a group join into roomID whose room table is full (or which is a group
	// already). ErrNotCapable when the room must stay a room for two, ErrFull when the
	// group is full.
	Admit(ctx context.Context, roomID string, newID func() string) (Admission, error)
	// Placed reports whether clientID holds a ticket of roomID's group and, if so, the
	// instance whose SFU serves the group ("": this process's, in memory mode).
	Placed(ctx context.Context, roomID, clientID string) (instance string, ok bool, err error)
	// Open admits a group socket of clientID in roomID. It reports false when the record
	// holds no such participant; otherwise done must be called when the socket has ended
	// (the participant left the SFU), and the last done of a group forgets its record.
	Open(ctx context.Context, roomID, clientID string) (done func(), ok bool, err error)
}

// Table holds the records of every room that has one, in this process.
type Table struct {
	cfg   Config
	mu    sync.Mutex
	rooms map[string]*record
}

type record struct {
	capable map[string]bool    // table clients that joined with group=1
	group   bool               // the room is a group room
	tickets map[string]*ticket // admitted group participants, by id
}

type ticket struct {
	issued  time.Time
	serving int  // open group sockets of this id
	served  bool // a socket was opened once
}

// New makes a Table.
func New(cfg Config) (*Table, error) {
	if cfg.Size < 3 {
		return nil, fmt.Errorf("grouproom: size %d: a group holds 3 or more", cfg.Size)
	}
	if cfg.Member == nil {
		return nil, errors.New("grouproom: Member is required")
	}
	if cfg.TicketTTL == 0 {
		cfg.TicketTTL = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Table{cfg: cfg, rooms: make(map[string]*record)}, nil
}

// Size is the largest group.
func (t *Table) Size() int { return t.cfg.Size }

// Joined implements Store.
func (t *Table) Joined(_ context.Context, roomID, clientID string, capable, initiator bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.rooms[roomID]
	if rec != nil && rec.group {
		return nil // a group room sends no one to the table; a stale join changes nothing
	}
	if initiator || rec == nil {
		if !capable {
			delete(t.rooms, roomID)
			return nil
		}
		rec = &record{capable: make(map[string]bool)}
		t.rooms[roomID] = rec
	}
	if capable {
		rec.capable[clientID] = true
	}
	return nil
}

// IsGroup implements Store.
func (t *Table) IsGroup(_ context.Context, roomID string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.liveLocked(roomID)
	return rec != nil && rec.group, nil
}

// Count implements Store.
func (t *Table) Count(_ context.Context, roomID string) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.liveLocked(roomID)
	if rec == nil || !rec.group {
		return 0, nil
	}
	return len(rec.tickets), nil
}

// Growable implements Store.
func (t *Table) Growable(ctx context.Context, roomID string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.liveLocked(roomID)
	if rec == nil || rec.group {
		return false, nil
	}
	n := 0
	for id := range rec.capable {
		in, err := t.cfg.Member(ctx, roomID, id)
		if err != nil {
			return false, fmt.Errorf("room table: %w", err)
		}
		if in {
			n++
		}
	}
	return n >= 2, nil
}

// Admission is a group join's outcome.
type Admission struct {
	// ID is the joiner's participant id.
	ID string
	// Moved are the room table's clients told to move to the group socket: set only by
	// the join that turned the room into a group.
	Moved []string
}

// Admit implements Store.
func (t *Table) Admit(ctx context.Context, roomID string, newID func() string) (Admission, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.liveLocked(roomID)
	var moved []string
	if rec == nil || !rec.group {
		if rec == nil {
			return Admission{}, ErrNotCapable
		}
		// The room table is full: both of its clients must be capable. Member is the
		// memory table's, in-process: holding the lock over it blocks no network I/O.
		for id := range rec.capable {
			in, err := t.cfg.Member(ctx, roomID, id)
			if err != nil {
				return Admission{}, fmt.Errorf("room table: %w", err)
			}
			if !in {
				delete(rec.capable, id)
			}
		}
		if len(rec.capable) < 2 {
			return Admission{}, ErrNotCapable
		}
		rec.group = true
		rec.tickets = make(map[string]*ticket)
		now := t.cfg.Now()
		for id := range rec.capable {
			rec.tickets[id] = &ticket{issued: now}
			moved = append(moved, id)
		}
	}
	if len(rec.tickets) >= t.cfg.Size {
		return Admission{}, ErrFull
	}
	id := newID()
	for rec.tickets[id] != nil {
		id = newID()
	}
	rec.tickets[id] = &ticket{issued: t.cfg.Now()}
	return Admission{ID: id, Moved: moved}, nil
}

// Placed implements Store: the SFU is this process's.
func (t *Table) Placed(_ context.Context, roomID, clientID string) (string, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.liveLocked(roomID)
	return "", rec != nil && rec.group && rec.tickets[clientID] != nil, nil
}

// Open implements Store.
func (t *Table) Open(_ context.Context, roomID, clientID string) (done func(), ok bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.liveLocked(roomID)
	if rec == nil || !rec.group || rec.tickets[clientID] == nil {
		return nil, false, nil
	}
	tk := rec.tickets[clientID]
	tk.serving++
	tk.served = true
	var once sync.Once
	return func() { once.Do(func() { t.closed(roomID, rec, clientID, tk) }) }, true, nil
}

func (t *Table) closed(roomID string, rec *record, clientID string, tk *ticket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk.serving--
	if tk.serving > 0 || rec.tickets[clientID] != tk {
		return
	}
	delete(rec.tickets, clientID)
	if len(rec.tickets) == 0 && t.rooms[roomID] == rec {
		delete(t.rooms, roomID)
	}
}

// liveLocked returns roomID's record after dropping tickets never used within TicketTTL;
// a group left without tickets is forgotten (nil).
func (t *Table) liveLocked(roomID string) *record {
	rec := t.rooms[roomID]
	if rec == nil || !rec.group {
		return rec
	}
	cutoff := t.cfg.Now().Add(-t.cfg.TicketTTL)
	for id, tk := range rec.tickets {
		if !tk.served && tk.issued.Before(cutoff) {
			delete(rec.tickets, id)
		}
	}
	if len(rec.tickets) == 0 {
		delete(t.rooms, roomID)
		return nil
	}
	return rec
}

// Run forgets, every interval until ctx ends, the records of rooms that never became a
// group and whose table clients are all gone (a 1:1 call of onertc clients that ended).
func (t *Table) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Sweep(ctx)
		}
	}
}

// Sweep is one pass of Run.
func (t *Table) Sweep(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for roomID := range t.rooms {
		rec := t.liveLocked(roomID)
		if rec == nil || rec.group {
			continue
		}
		for id := range rec.capable {
			if in, err := t.cfg.Member(ctx, roomID, id); err == nil && !in {
				delete(rec.capable, id)
			}
		}
		if len(rec.capable) == 0 {
			delete(t.rooms, roomID)
		}
	}
}

// Rooms counts the records held (for tests and metrics).
func (t *Table) Rooms() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.rooms)
}
