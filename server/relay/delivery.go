package relay

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/relaystate"
)

// Delivery: membership, queues, grace deadlines and socket ownership live in the State
// (Config.State), in this process or in Redis; the relay keeps only this instance's sockets,
// each registered one knowing its client and how far into the client's queue it has written
// and been confirmed. A message is queued in the State by its sender, the recipient's
// socket here is woken, and its writer fetches from the queue what it writes. A
// pong-confirmed trim is made in the State, and only then is a message gone.

// fetchBatch is how many queued messages one fetch takes.
const fetchBatch = 64

func clientKey(roomID, clientID string) string { return roomID + " " + clientID }

// register registers the socket as the client's, on whichever instance the client was
// before: a socket there is told to close. The same client registering again is nearly
// always a reconnect whose old connection the server has not seen die yet (a phone changing
// networks leaves a half-open socket for up to PongTimeout). Client ids are unguessable, so
// the new socket takes over. Called by the socket's reader.
func (s *socket) register(ctx context.Context, roomID, clientID string) bool {
	r := s.relay
	if text := s.refusal(roomID, clientID); text != "" {
		r.stats.wsErrors.Add(1)
		s.fail(text, true)
		return false
	}
	owner := r.cfg.State.Owner(r.sockSeq.Add(1))
	// Findable by its owner id before the State names it: a message sent the moment
	// after the State registered it wakes it, even before the register below is done.
	r.owners.Store(owner, s)
	reg, err := r.cfg.State.Register(ctx, roomID, clientID, owner)
	if err != nil {
		r.owners.CompareAndDelete(owner, s)
		r.stats.wsErrors.Add(1)
		text := protocol.ErrTextUnknownClient
		if !errors.Is(err, relaystate.ErrUnknownClient) {
			s.log.Warn("relay register failed", "err", err)
			text = ErrUnavailable.Error()
		}
		s.fail(text, true)
		return false
	}
	s.mu.Lock()
	s.roomID, s.clientID, s.owner, s.registered = roomID, clientID, owner, true
	// The queue is read from its head: what an earlier socket had written and not had
	// confirmed is written again.
	s.written, s.confirmed, s.pinged = reg.Base, reg.Base, reg.Base
	s.acked, s.trimming = reg.Base, reg.Base
	s.log = s.log.With("room", roomID, "client", clientID)
	s.wakeLocked()
	s.mu.Unlock()

	key := clientKey(roomID, clientID)
	r.mu.Lock()
	old := r.clients[key]
	if old != nil {
		r.unregisterLocked(old)
	}
	var prev *socket
	if p := r.byOwner[reg.Previous]; p != nil && p != old && p != s {
		// A socket here lost with a paused instance, no longer its client's there.
		prev = p
		r.unregisterLocked(prev)
	}
	r.clients[key] = s
	r.byOwner[owner] = s
	if r.rooms[roomID]++; r.rooms[roomID] == 1 {
		r.stats.rooms.Add(1)
	}
	r.stats.online.Add(1)
	r.mu.Unlock()
	for _, o := range []*socket{old, prev} {
		if o != nil {
			r.stats.wsErrors.Add(1)
			o.replace()
		}
	}
	return true
}

// unregisterLocked forgets s as its client's socket here and reports whether it was. Called
// with Relay.mu held.
func (r *Relay) unregisterLocked(s *socket) bool {
	if r.byOwner[s.owner] != s || s.owner == "" {
		return false
	}
	key := clientKey(s.roomID, s.clientID)
	delete(r.byOwner, s.owner)
	r.owners.CompareAndDelete(s.owner, s)
	if r.clients[key] != s {
		return false
	}
	delete(r.clients, key)
	r.stats.online.Add(-1)
	if r.rooms[s.roomID]--; r.rooms[s.roomID] <= 0 {
		delete(r.rooms, s.roomID)
		r.stats.rooms.Add(-1)
	}
	return true
}

// registered lists the sockets here registered for their clients.
func (r *Relay) registered() []*socket {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := make([]*socket, 0, len(r.clients))
	for _, s := range r.clients {
		all = append(all, s)
	}
	return all
}

// send queues msg for the sender's peer in the State (or the room mailbox when the sender
// is alone) and, when the peer's socket is here, wakes it. A socket's sender passes orphan:
// see relaystate.State.Send.
func (r *Relay) send(ctx context.Context, roomID, clientID, msg string, orphan bool) error {
	if len(msg) > protocol.MaxMessageBytes {
		return ErrTooLarge
	}
	sent, err := r.cfg.State.Send(ctx, roomID, clientID, msg, orphan)
	switch {
	case errors.Is(err, relaystate.ErrUnknownClient):
		return ErrUnknownClient
	case errors.Is(err, relaystate.ErrQueueFull), errors.Is(err, relaystate.ErrMailboxFull):
		r.stats.dropped.Add(1)
		return ErrQueueFull
	case err != nil:
		r.log.Warn("relay send failed", "room", roomID, "client", clientID, "err", err)
		return ErrUnavailable
	}
	switch {
	case sent.Dropped:
		r.stats.dropped.Add(1)
	case sent.Stored || sent.PeerOwner == "":
		r.stats.queued.Add(1)
	case relaystate.InstanceOf(sent.PeerOwner) == r.cfg.State.Instance():
		r.wakeOwner(sent.PeerOwner)
	default:
		r.stats.crossed.Add(1)
	}
	return nil
}

// wakeOwner has the socket here named owner read its client's queue.
func (r *Relay) wakeOwner(owner string) {
	if v, ok := r.owners.Load(owner); ok {
		v.(*socket).wake()
	}
}

// wakeClient has the socket here registered for the client read its queue.
func (r *Relay) wakeClient(roomID, clientID string) {
	r.mu.Lock()
	s := r.clients[clientKey(roomID, clientID)]
	r.mu.Unlock()
	if s != nil {
		s.wake()
	}
}

// closeOwner closes the socket here named owner with errText (a takeover elsewhere) or,
// with errText "", normally after DrainTimeout (its client was removed): it is still read
// meanwhile, so that a bye it sent before the DELETE reaches the peer.
func (r *Relay) closeOwner(owner, errText string) {
	r.mu.Lock()
	s := r.byOwner[owner]
	mine := s != nil && r.unregisterLocked(s)
	r.mu.Unlock()
	if !mine {
		return
	}
	if errText != "" {
		r.stats.wsErrors.Add(1)
		s.replaceWith(errText)
		return
	}
	s.mu.Lock()
	s.removed = true
	s.mu.Unlock()
	time.AfterFunc(r.cfg.DrainTimeout, func() { s.closeWith(websocket.CloseNormalClosure, "") })
}

// lostOwnership handles an answer of the State that s no longer owns its client: removed
// (DELETE on any instance) it drains as in closeOwner, whether or not that instance's notice
// arrived; registered on another socket, it is closed as a replaced one.
func (s *socket) lostOwnership(err error) {
	if errors.Is(err, relaystate.ErrRemoved) {
		s.relay.closeOwner(s.owner, "")
		return
	}
	s.relay.closeOwner(s.owner, protocol.ErrTextDuplicateClient)
}

// ownershipLost reports whether err says the socket no longer owns its client.
func ownershipLost(err error) bool {
	return errors.Is(err, relaystate.ErrNotOwner) || errors.Is(err, relaystate.ErrRemoved)
}

// Run does the relay's background work until ctx ends: the State's (with other instances:
// heartbeats, judging the silent ones, their notices) and reaping the clients whose grace
// period is over. Without it nobody is reaped.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.cfg.State.Run(ctx, relayEvents{r}) }()
	// A short grace period is reaped in good time too.
	tick := time.NewTicker(min(reapInterval, r.cfg.Grace/4))
	defer tick.Stop()
	for {
		r.reapExpired(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// reapInterval is how often the clients whose grace period is over are looked for.
const reapInterval = 500 * time.Millisecond

// reapBatch is how many expired clients one Reap removes.
const reapBatch = 256

// reapExpired removes every client whose grace period is over, a batch at a time: after a
// network blip that dropped thousands of sockets at once, none holds its room full for
// longer than its grace period.
func (r *Relay) reapExpired(ctx context.Context) {
	for ctx.Err() == nil {
		gone, err := r.cfg.State.Reap(ctx, reapBatch)
		if ctx.Err() == nil {
			r.cfg.Errors.Add(errcount.RelayReap, err, "pass", "expired clients")
		}
		for _, g := range gone {
			r.stats.removed.Add(1)
			r.stats.handoff.Add(int64(g.HandedOff))
			r.log.Info("relay client removed after grace period", "room", g.Room, "client", g.Client)
		}
		if err != nil || len(gone) < reapBatch {
			return
		}
	}
}

// reclaimAll takes back every client whose socket is here after the other instances
// judged this one dead: each is either this instance's again, with what was queued for it
// meanwhile fetched, or closed as replaced or removed.
func (r *Relay) reclaimAll() {
	for _, s := range r.registered() {
		err := r.cfg.State.Reclaim(context.Background(), s.roomID, s.clientID, s.owner)
		switch {
		case ownershipLost(err):
			s.lostOwnership(err)
			continue
		case err != nil:
			// The state is out of reach again: the next heartbeat that finds this
			// instance missing tries again.
			r.cfg.Errors.Add(errcount.RelayRetry, err, "step", "reclaim", "room", s.roomID, "client", s.clientID)
		}
		s.wake()
	}
}

// relayEvents is how the State's Run reaches the relay.
type relayEvents struct{ r *Relay }

func (e relayEvents) Wake(roomID, clientID string)   { e.r.wakeClient(roomID, clientID) }
func (e relayEvents) Close(_, owner, errText string) { e.r.closeOwner(owner, errText) }
func (e relayEvents) Reclaim()                       { e.r.reclaimAll() }
func (e relayEvents) Resync() {
	e.r.log.Warn("relay notices may have been lost: rereading every local queue")
	for _, s := range e.r.registered() {
		s.wake()
	}
}
