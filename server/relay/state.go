package relay

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/redisconn"
	"github.com/onertc/onertc/server/relaystate"
)

// Membership, queues, grace deadlines and socket ownership live in the State (Config.State),
// in this process or in Redis, and the relay keeps locally only the clients whose socket is
// on this instance. Such a client's inbox is a window on its queue in the State: head is the
// queue index of inbox[0], fetched the index after its last message. A pong-confirmed trim
// is made in the State, and only then is a message gone.

// stateTimeout bounds one State operation made on a client's behalf.
const stateTimeout = 3 * time.Second

// fetchBatch is how many queued messages one fetch takes.
const fetchBatch = 64

// heartbeatTimeout bounds a heartbeat: one slower than this counts as failed, so /readyz
// turns 503 about a second into an outage rather than after go-redis's read timeout and
// its retry (4 s and more on a loaded machine).
const heartbeatTimeout = time.Second

// transient reports whether err is trouble reaching the State rather than an answer.
func transient(err error) bool {
	return !errors.Is(err, relaystate.ErrUnknownClient) && !errors.Is(err, relaystate.ErrQueueFull) &&
		!errors.Is(err, relaystate.ErrMailboxFull)
}

// ErrUnavailable is what a client is told when the shared state cannot be reached.
var ErrUnavailable = errors.New("Relay temporarily unavailable, try again")

// stateCtx bounds one State operation. A State in this process never waits, and the
// timer a deadline costs would be paid on every message.
func (r *Relay) stateCtx() (context.Context, context.CancelFunc) {
	if !r.cfg.State.Remote() {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), stateTimeout)
}

// register registers the socket as the client's, on whichever instance the client was
// before: a socket there is told to close. The same client registering again is nearly
// always a reconnect whose old connection the server has not seen die yet (a phone changing
// networks leaves a half-open socket for up to PongTimeout). Client ids are unguessable, so
// the new socket takes over.
func (s *socket) register(roomID, clientID string) bool {
	r := s.relay
	r.mu.Lock()
	if text := s.refusalLocked(roomID, clientID); text != "" {
		r.stats.wsErrors.Add(1)
		s.failLocked(text, true)
		r.mu.Unlock()
		return false
	}
	r.mu.Unlock()
	owner := r.cfg.State.Owner(r.sockSeq.Add(1))
	ctx, cancel := r.stateCtx()
	reg, err := r.cfg.State.Register(ctx, roomID, clientID, owner)
	cancel()
	if err != nil {
		r.stats.wsErrors.Add(1)
		text := protocol.ErrTextUnknownClient
		if !errors.Is(err, relaystate.ErrUnknownClient) {
			s.log.Warn("relay register failed", "err", err)
			text = ErrUnavailable.Error()
		}
		s.fail(text, true)
		return false
	}
	r.mu.Lock()
	rm := r.rooms[roomID]
	if rm == nil {
		rm = &room{id: roomID}
		r.rooms[roomID] = rm
		r.stats.rooms.Add(1)
	}
	c := rm.find(clientID)
	if c == nil {
		c = &client{room: rm, id: clientID}
		rm.clients = append(rm.clients, c)
		r.stats.online.Add(1)
	}
	if old := c.sock; old != nil {
		r.stats.wsErrors.Add(1)
		old.failLocked(protocol.ErrTextDuplicateClient, true)
		old.client = nil
	}
	// What an earlier socket here had fetched is fetched again from the State, where it
	// stays until confirmed: the window restarts at the queue's head.
	c.inbox, c.inboxBytes = nil, 0
	c.inboxGen++
	c.head, c.fetched = reg.Base, reg.Base
	c.sock = s
	s.client, s.owner, s.gen = c, owner, c.inboxGen
	s.log = s.log.With("room", roomID, "client", clientID)
	s.kickLocked()
	r.mu.Unlock()
	r.fetch(c)
	return true
}

func (rm *room) find(id string) *client {
	for _, c := range rm.clients {
		if c.id == id {
			return c
		}
	}
	return nil
}

// fetch makes sure the client's queue is read into its inbox; one fetch runs at a time per
// client, and a request during it makes it read again. A State in this process is read at
// once, by the caller; a remote one on a goroutine of its own, so that a sender's next
// frame is not read only after the round trip. Called without Relay.mu.
func (r *Relay) fetch(c *client) {
	r.mu.Lock()
	if c.fetching {
		c.refetch = true
		r.mu.Unlock()
		return
	}
	c.fetching = true
	r.mu.Unlock()
	if r.cfg.State.Remote() {
		go r.fetchLoop(c)
	} else {
		r.fetchLoop(c)
	}
}

func (r *Relay) fetchLoop(c *client) {
	for {
		r.mu.Lock()
		s := c.sock
		if s == nil || s.client != c {
			c.fetching = false
			r.mu.Unlock()
			return
		}
		from, owner := c.fetched, s.owner
		c.refetch = false
		r.mu.Unlock()

		ctx, cancel := r.stateCtx()
		at, msgs, err := r.cfg.State.Fetch(ctx, c.room.id, c.id, owner, from, fetchBatch)
		cancel()

		r.mu.Lock()
		if err != nil {
			c.fetching = false
			r.mu.Unlock()
			if errors.Is(err, relaystate.ErrNotOwner) || errors.Is(err, relaystate.ErrRemoved) {
				s.lostOwnership(c, errors.Is(err, relaystate.ErrRemoved))
				return
			}
			// Trouble reaching the State: the messages wait there; try again shortly.
			r.cfg.Errors.Add(errcount.RelayRetry, err, "step", "fetch", "room", c.room.id, "client", c.id)
			time.AfterFunc(500*time.Millisecond, func() { r.fetch(c) })
			return
		}
		if c.sock != s || c.fetched != from {
			r.mu.Unlock()
			continue // re-registered meanwhile: read from the new window
		}
		now := time.Since(r.started)
		for _, m := range msgs {
			c.inbox = append(c.inbox, queued{msg: m, at: now})
			c.inboxBytes += len(m)
		}
		c.fetched = at + int64(len(msgs))
		if len(msgs) > 0 {
			s.kickLocked()
		}
		if len(msgs) < fetchBatch && !c.refetch {
			c.fetching = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
	}
}

// confirmState drops what a pong confirmed from the client's queue in the State. A socket
// that no longer owns the client is closed: its client registered on another socket.
// It reports whether the queue was trimmed.
func (s *socket) confirmState(c *client, upto int64) bool {
	ctx, cancel := s.relay.stateCtx()
	defer cancel()
	err := s.relay.cfg.State.Confirm(ctx, c.room.id, c.id, s.owner, upto)
	switch {
	case errors.Is(err, relaystate.ErrNotOwner), errors.Is(err, relaystate.ErrRemoved):
		s.lostOwnership(c, errors.Is(err, relaystate.ErrRemoved))
	case err != nil:
		// Not trimmed: the messages stay pending, and the next confirm of this socket
		// (a later pong) trims them too.
		s.relay.cfg.Errors.Add(errcount.RelayRetry, err, "step", "confirm", "room", c.room.id, "client", c.id)
	}
	return err == nil
}

// lostOwnership handles a socket the State no longer names as its client's: when
// the client registered on another instance, this socket is closed as a replaced one; when
// it was removed (DELETE on any instance), its socket drains as in closeOwner, whether or
// not that instance's notice arrived.
func (s *socket) lostOwnership(c *client, removed bool) {
	r := s.relay
	if removed {
		r.closeOwner(c.room.id, s.owner, "")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.removed || s.client != c {
		return
	}
	r.stats.wsErrors.Add(1)
	s.failLocked(protocol.ErrTextDuplicateClient, true)
}

// detachState takes the client offline in the State (its grace period starts there, reaped
// by any instance). Called without Relay.mu.
func (r *Relay) detachState(roomID, clientID, owner string) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := r.stateCtx()
		err := r.cfg.State.Detach(ctx, roomID, clientID, owner)
		cancel()
		if err == nil || errors.Is(err, relaystate.ErrNotOwner) {
			return
		}
		// While Redis is away the client stays ours there; once this instance stops
		// trying (or dies), the others find it through our missing heartbeat.
		r.cfg.Errors.Add(errcount.RelayRetry, err, "step", "detach", "room", roomID, "client", clientID, "attempt", attempt)
		if attempt == 20 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// forgetLocked drops a local client that has no socket here any more. Called with r.mu held.
func (r *Relay) forgetLocked(c *client) {
	rm := c.room
	for i, o := range rm.clients {
		if o == c {
			rm.clients = append(rm.clients[:i], rm.clients[i+1:]...)
			r.stats.online.Add(-1)
			break
		}
	}
	if len(rm.clients) == 0 && r.rooms[rm.id] == rm {
		delete(r.rooms, rm.id)
		r.stats.rooms.Add(-1)
	}
}

// send queues msg for the sender's peer in the State (or the room mailbox when the sender
// is alone) and, when the peer's socket is here, reads it into the peer's inbox at once
// rather than waiting for a wake-up.
// A socket's sender passes orphan: see relaystate.State.Send.
func (r *Relay) send(ctx context.Context, roomID, clientID, msg string, orphan bool) error {
	if len(msg) > protocol.MaxMessageBytes {
		return ErrTooLarge
	}
	var sent relaystate.Sent
	var err error
	if r.cfg.State.Remote() {
		token := r.cfg.State.NewToken()
		// While Redis is away the message is held here and tried again, up to
		// Config.SendHold: the sender's next messages wait behind it, so their order
		// holds too.
		err = redisconn.Hold(ctx, r.cfg.SendHold, stateTimeout, func(err error) bool { return !transient(err) },
			func(ctx context.Context) error {
				var err error
				sent, err = r.cfg.State.Send(ctx, roomID, clientID, msg, orphan, token)
				return err
			})
	} else {
		// Nothing is retried: no token needed.
		sent, err = r.cfg.State.Send(ctx, roomID, clientID, msg, orphan, "")
	}
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
	if sent.Dropped {
		r.stats.dropped.Add(1)
		return nil
	}
	if sent.Stored || sent.PeerOwner == "" {
		r.stats.queued.Add(1)
		return nil
	}
	if relaystate.InstanceOf(sent.PeerOwner) == r.cfg.State.Instance() {
		r.wake(roomID, "", sent.PeerOwner)
	} else {
		r.stats.crossed.Add(1)
	}
	return nil
}

// wake reads the queue of the local client whose socket is owner (or, with owner "", of
// clientID).
func (r *Relay) wake(roomID, clientID, owner string) {
	r.mu.Lock()
	var c *client
	if rm := r.rooms[roomID]; rm != nil {
		for _, o := range rm.clients {
			if o.sock != nil && (o.sock.owner == owner || owner == "" && o.id == clientID) {
				c = o
			}
		}
	}
	r.mu.Unlock()
	if c != nil {
		r.fetch(c)
	}
}

// closeOwner closes the local socket owner with errText (takeover elsewhere) or, with
// errText "", normally after DrainTimeout (removed by DELETE elsewhere).
func (r *Relay) closeOwner(roomID, owner, errText string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rm := r.rooms[roomID]
	if rm == nil {
		return
	}
	for _, c := range rm.clients {
		s := c.sock
		if s == nil || s.owner != owner {
			continue
		}
		if errText != "" {
			r.stats.wsErrors.Add(1)
			s.failLocked(errText, true)
			s.client, c.sock = nil, nil
			r.forgetLocked(c)
			return
		}
		// Still read for DrainTimeout: a bye it sent before the DELETE reaches the peer.
		c.sock, c.removed = nil, true
		r.forgetLocked(c)
		time.AfterFunc(r.cfg.DrainTimeout, func() { s.closeWith(websocket.CloseNormalClosure, "") })
		return
	}
}

// Run does the relay's background work until ctx ends: reaping the clients whose grace
// period is over and, with several instances, heartbeats, reaping the instances that went
// silent, and the other instances' notices. Without it nobody is reaped.
func (r *Relay) Run(ctx context.Context) {
	sh := r.cfg.State
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sh.Listen(ctx, relayEvents{r}) }()
	// Heartbeats have their own loop: reaping, however slow, never delays them.
	go func() { defer wg.Done(); r.beat(ctx) }()
	// A short grace period is reaped in good time too.
	tick := time.NewTicker(min(beatInterval, r.cfg.Grace/4))
	defer tick.Stop()
	for {
		if r.judgeOthers() {
			dead, err := sh.ReapInstances(ctx, r.cfg.InstanceTimeout)
			if ctx.Err() == nil {
				r.cfg.Errors.Add(errcount.RelayReap, err, "pass", "instances")
			}
			for _, d := range dead {
				r.log.Warn("relay: instance silent, its clients are offline until they register again", "instance", d, "silent_for_more_than", r.cfg.InstanceTimeout)
			}
		}
		r.reapExpired(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			lctx, cancel := r.stateCtx()
			r.cfg.Errors.Add(errcount.RelayLeave, sh.Leave(lctx))
			cancel()
			return
		case <-tick.C:
		}
	}
}

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

// judgeOthers reports whether this instance may judge the others dead by their heartbeats:
// its own come without a gap for longer than InstanceTimeout, the last one just now (this
// loop may run first after a pause, before beat noticed it).
func (r *Relay) judgeOthers() bool {
	since, last := r.steadySince.Load(), r.lastBeat.Load()
	return r.sharedOK.Load() && since != 0 && time.Since(time.Unix(0, since)) > r.cfg.InstanceTimeout &&
		time.Since(time.Unix(0, last)) < r.cfg.InstanceTimeout/2
}

// beatInterval is how often an instance heartbeats and reaps.
const beatInterval = 500 * time.Millisecond

// beat heartbeats until ctx ends. It keeps steadySince, from when this instance has
// heartbeaten without a gap: after a Redis outage, or a pause of this process (a stopped
// process, a frozen VM, a starved machine), the other instances' heartbeats may be just as
// late as ours, so none is judged dead before they all had InstanceTimeout to beat again.
// When the others judged this instance dead meanwhile, it takes its clients back.
func (r *Relay) beat(ctx context.Context) {
	sh := r.cfg.State
	if !sh.Remote() {
		return // one instance: nobody to tell, nobody to judge it
	}
	tick := time.NewTicker(beatInterval)
	defer tick.Stop()
	var last time.Time // of the last heartbeat that reached Redis
	for {
		hctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
		missing, err := sh.Heartbeat(hctx)
		cancel()
		now := time.Now()
		if err == nil {
			r.lastBeat.Store(now.UnixNano())
		}
		switch {
		case err != nil:
			if ctx.Err() == nil && r.sharedOK.Load() {
				r.log.Warn("relay heartbeat failed: Redis unreachable", "err", err)
			}
			r.steadySince.Store(0)
		case !r.sharedOK.Load() && !last.IsZero():
			r.log.Info("relay heartbeat: Redis reachable")
			r.steadySince.Store(now.UnixNano())
		case now.Sub(last) > r.cfg.InstanceTimeout/2:
			if !last.IsZero() {
				r.log.Warn("relay heartbeat late: this instance was paused", "gap", now.Sub(last).Round(time.Millisecond))
			}
			r.steadySince.Store(now.UnixNano())
		}
		r.sharedOK.Store(err == nil)
		if err == nil {
			if missing && !last.IsZero() {
				r.log.Warn("relay: the other instances judged this one dead; taking its clients back")
				r.reclaimAll()
			}
			last = now
			n, err := sh.Alive(ctx, r.cfg.InstanceTimeout)
			if err == nil {
				r.alive.Store(int64(n))
			} else if ctx.Err() == nil {
				r.cfg.Errors.Add(errcount.RelayIndex, err, "index", "instances")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reclaimAll takes back every client whose socket is here after the other instances
// judged this one dead: each is either this instance's again, with what was queued for it
// meanwhile fetched, or closed as replaced or removed.
func (r *Relay) reclaimAll() {
	for _, c := range r.localClients() {
		r.mu.Lock()
		s := c.sock
		r.mu.Unlock()
		if s == nil {
			continue
		}
		ctx, cancel := r.stateCtx()
		err := r.cfg.State.Reclaim(ctx, c.room.id, c.id, s.owner)
		cancel()
		switch {
		case errors.Is(err, relaystate.ErrNotOwner), errors.Is(err, relaystate.ErrRemoved):
			s.lostOwnership(c, errors.Is(err, relaystate.ErrRemoved))
			continue
		case err != nil:
			// Redis trouble again: the next heartbeat that finds this instance missing
			// tries again.
			r.cfg.Errors.Add(errcount.RelayRetry, err, "step", "reclaim", "room", c.room.id, "client", c.id)
		}
		r.fetch(c)
	}
}

// SendHold is how long a message Redis cannot take is held before its sender is told.
func (r *Relay) SendHold() time.Duration { return r.cfg.SendHold }

// InstanceTimeout is how long an instance may stay silent before the others judge it dead.
func (r *Relay) InstanceTimeout() time.Duration { return r.cfg.InstanceTimeout }

// SharedHealthy reports whether the last heartbeat reached the State (always true for one
// in this process).
func (r *Relay) SharedHealthy() bool { return !r.cfg.State.Remote() || r.sharedOK.Load() }

// relayEvents is how the State's Listen reaches the relay.
type relayEvents struct{ r *Relay }

func (e relayEvents) Wake(roomID, clientID string) { e.r.wake(roomID, clientID, "") }
func (e relayEvents) Close(roomID, owner, errText string) {
	e.r.closeOwner(roomID, owner, errText)
}

func (e relayEvents) Resync() {
	e.r.log.Warn("relay notices may have been lost: rereading every local queue")
	e.r.fetchAll()
}

func (r *Relay) fetchAll() {
	for _, c := range r.localClients() {
		r.fetch(c)
	}
}

// localClients lists the clients whose socket is on this instance.
func (r *Relay) localClients() []*client {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []*client
	for _, rm := range r.rooms {
		for _, c := range rm.clients {
			if c.sock != nil {
				all = append(all, c)
			}
		}
	}
	return all
}
