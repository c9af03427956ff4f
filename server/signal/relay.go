// Package signal is the Collider-compatible WebSocket relay: clients register on /ws with a
// room and client id, and each message one client sends reaches the other, in order, queued
// while the other has no live socket. It tells the room server (through Hooks) when it drops a
// client, so a closed tab never leaves a room full.
package signal

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/relaystate"
)

// Hooks is how the relay talks to the room server. Both run without relay locks held.
type Hooks interface {
	// StoreIfAlone stores msg in the sender's room mailbox when the sender is alone in its
	// room and reports whether it did. The relay calls it for a message that has no peer to
	// go to, so that a newcomer receives it in its /join messages rather than on a socket
	// it may not be ready to read.
	StoreIfAlone(ctx context.Context, roomID, clientID, msg string) bool
	// Removed reports that the relay dropped a client (grace period over, or DELETE).
	// handoff holds what the remaining client had sent to it that it never received.
	Removed(ctx context.Context, roomID, clientID string, handoff []string)
}

// Config holds the relay's settings.
type Config struct {
	// Grace is how long a client whose socket dropped stays registered, waiting for a
	// re-register, before it is removed. It also bounds the time from /join to register.
	Grace time.Duration
	// PingInterval is the time between keepalive pings; PongTimeout is how long a socket
	// may stay silent (no frame, no pong) before it is considered dead.
	PingInterval, PongTimeout time.Duration
	// ConfirmDelay is how long written messages may wait for the ping that confirms them,
	// and ConfirmBatch how many: one ping (and pong) then covers a whole stretch of
	// messages rather than each. They bound what a client that reconnects may receive
	// twice (what it read but had not confirmed when its old socket ended). The default
	// ConfirmBatch of 1 puts a ping in every burst (in the same write), so that window is one
	// round trip: AppRTC clients do not drop a repeated offer, and a 250 ms window made
	// TestSocketCutReconnectsWithinGrace see the restart offer twice.
	ConfirmDelay time.Duration
	ConfirmBatch int
	// WriteTimeout bounds one frame write: a peer that does not read cannot hold a writer.
	WriteTimeout time.Duration
	// DrainTimeout is how long a DELETEd client's socket is still read, so that a bye it
	// sent just before the DELETE is delivered.
	DrainTimeout time.Duration
	// FramesPerSecond and FrameBurst bound what one socket may send.
	FramesPerSecond float64
	FrameBurst      int
	// MaxSockets and MaxSocketsPerIP cap open sockets (0: no cap); ClientKey names the
	// client a request comes from for the per-IP cap.
	MaxSockets, MaxSocketsPerIP int
	ClientKey                   func(r *http.Request) string
	// OnDelivered, when set, is told how long each message waited from its arrival to its
	// write on the recipient's socket (queueing for an offline recipient included).
	OnDelivered func(time.Duration)
	// CheckOrigin decides whether a browser's WebSocket handshake is allowed.
	CheckOrigin func(r *http.Request) bool
	Logger      *slog.Logger
	Hooks       Hooks
	// Shared, when set, keeps membership, queues, grace deadlines and socket ownership
	// in Redis so that several instances serve as one (see shared.go); Hooks are then not
	// called, the shared state being the room table's. InstanceTimeout is how long an
	// instance may miss heartbeats before the others take its clients offline. SendHold is
	// how long a message Redis cannot take is held and retried before its sender is told
	// ErrUnavailable: an outage shorter than this loses nothing.
	Shared          *relaystate.Redis
	InstanceTimeout time.Duration
	SendHold        time.Duration
}

// DefaultConfig returns the settings the relay runs with when nothing is configured.
func DefaultConfig() Config {
	return Config{
		Grace:           10 * time.Second,
		PingInterval:    20 * time.Second,
		PongTimeout:     45 * time.Second,
		ConfirmDelay:    250 * time.Millisecond,
		ConfirmBatch:    1,
		WriteTimeout:    10 * time.Second,
		DrainTimeout:    time.Second,
		FramesPerSecond: 200,
		FrameBurst:      400,
		InstanceTimeout: 5 * time.Second,
		SendHold:        15 * time.Second,
	}
}

// Relay is the Collider relay. Its zero value is not usable; create it with New.
type Relay struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	started  time.Time

	// mu guards rooms, sockets and every field of room, client and socket marked as such.
	// Nothing under it does I/O or blocks: it is shared by all rooms.
	mu      sync.Mutex
	rooms   map[string]*room
	sockets map[*socket]struct{}
	perKey  map[string]int
	// admitted counts sockets against MaxSockets from before their upgrade to their detach:
	// the client sees 101 before the socket enters sockets, and a cap read from len(sockets)
	// would let the next handshake through.
	admitted int
	closed   bool
	wg       sync.WaitGroup
	// sockSeq numbers this instance's sockets for the shared state's owner ids.
	sockSeq atomic.Uint64
	// sharedOK and alive are what the last heartbeat found (shared mode): Redis
	// answered, and how many instances are alive.
	sharedOK atomic.Bool
	alive    atomic.Int64
	// steadySince is when this instance's heartbeats last started to come without a gap
	// (unix ns; 0 while Redis is unreachable): see beat.
	steadySince atomic.Int64
	// lastBeat is when the last heartbeat reached Redis (unix ns).
	lastBeat atomic.Int64

	stats counters
}

type counters struct {
	openWS, totalWS, wsErrors, httpErrors      atomic.Int64
	relayed, queued, dropped, removed, handoff atomic.Int64
	crossed                                    atomic.Int64
}

// Stats is a snapshot of the relay's counters.
type Stats struct {
	Uptime                            time.Duration
	OpenWS, TotalWS                   int64
	WSErrors, HTTPErrors              int64
	Relayed, Queued, Dropped          int64
	Removed, HandedOff, Rooms, Online int64
	// Crossed counts messages sent to a socket on another instance (shared mode).
	Crossed int64
	// InstancesAlive is the number of instances sharing the state, this one included, as
	// the last heartbeat saw it (shared mode; 0 otherwise).
	InstancesAlive int64
}

type room struct {
	id      string
	clients []*client // at most protocol.RoomCapacity; guarded by Relay.mu
}

type client struct {
	room *room
	id   string
	// inbox holds messages for this client, in order, until its socket has written them
	// AND answered a ping sent after them: a message written into a connection that
	// turns out dead is written again on the next socket rather than lost.
	inbox      []queued
	inboxBytes int
	// inboxGen changes when the inbox is taken away by a hand-off, so that a writer that
	// peeked at it does not commit against the new one.
	inboxGen int
	// writtenFront counts the inbox messages some socket of this client has written at
	// least once. They are kept for this client's next socket but never handed off to a
	// newcomer: they belonged to the session that is over.
	writtenFront int
	// pending holds what this client sent while it had no peer in the relay room; the
	// next peer to appear receives it.
	pending      []queued
	pendingBytes int
	sock         *socket
	graceGen     int
	removed      bool
	// Shared mode only (see shared.go): the Redis queue indexes of inbox[0] and of the
	// message after the last one fetched, and whether a fetch runs / must run again.
	head, fetched     int64
	fetching, refetch bool
}

// queued is a message waiting for its recipient, with when it arrived (monotonic time since
// the relay started) so its delivery latency can be measured.
type queued struct {
	msg string
	at  time.Duration
}

func messages(q []queued) []string {
	if len(q) == 0 {
		return nil
	}
	out := make([]string, len(q))
	for i, m := range q {
		out[i] = m.msg
	}
	return out
}

// New returns a relay with cfg; zero durations and limits take DefaultConfig's values.
func New(cfg Config) *Relay {
	def := DefaultConfig()
	positive := func(v, fallback time.Duration) time.Duration {
		if v <= 0 {
			return fallback
		}
		return v
	}
	cfg.Grace = positive(cfg.Grace, def.Grace)
	cfg.PingInterval = positive(cfg.PingInterval, def.PingInterval)
	cfg.PongTimeout = positive(cfg.PongTimeout, def.PongTimeout)
	cfg.WriteTimeout = positive(cfg.WriteTimeout, def.WriteTimeout)
	cfg.ConfirmDelay = positive(cfg.ConfirmDelay, def.ConfirmDelay)
	if cfg.ConfirmBatch <= 0 {
		cfg.ConfirmBatch = def.ConfirmBatch
	}
	cfg.DrainTimeout = positive(cfg.DrainTimeout, def.DrainTimeout)
	cfg.InstanceTimeout = positive(cfg.InstanceTimeout, def.InstanceTimeout)
	cfg.SendHold = positive(cfg.SendHold, def.SendHold)
	if cfg.FramesPerSecond <= 0 {
		cfg.FramesPerSecond = def.FramesPerSecond
	}
	if cfg.FrameBurst <= 0 {
		cfg.FrameBurst = def.FrameBurst
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hooks == nil {
		cfg.Hooks = noHooks{}
	}
	r := &Relay{
		cfg:     cfg,
		log:     cfg.Logger,
		started: time.Now(),
		rooms:   make(map[string]*room),
		sockets: make(map[*socket]struct{}),
		perKey:  make(map[string]int),
	}
	r.upgrader = websocket.Upgrader{
		// Small per-socket read buffers and pooled write buffers keep an idle socket
		// cheap; frames larger than the buffer are still read whole.
		ReadBufferSize:  512,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     cfg.CheckOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			r.stats.wsErrors.Add(1)
			http.Error(w, reason.Error(), status)
		},
	}
	if r.upgrader.CheckOrigin == nil {
		r.upgrader.CheckOrigin = SameOrigin(nil, nil)
	}
	return r
}

type noHooks struct{}

func (noHooks) StoreIfAlone(context.Context, string, string, string) bool { return false }
func (noHooks) Removed(context.Context, string, string, []string)         {}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	rooms := int64(len(r.rooms))
	var online int64
	for _, rm := range r.rooms {
		for _, c := range rm.clients {
			if c.sock != nil {
				online++
			}
		}
	}
	r.mu.Unlock()
	return Stats{
		Uptime: time.Since(r.started), OpenWS: r.stats.openWS.Load(), TotalWS: r.stats.totalWS.Load(),
		WSErrors: r.stats.wsErrors.Load(), HTTPErrors: r.stats.httpErrors.Load(),
		Relayed: r.stats.relayed.Load(), Queued: r.stats.queued.Load(), Dropped: r.stats.dropped.Load(),
		Removed: r.stats.removed.Load(), HandedOff: r.stats.handoff.Load(), Rooms: rooms, Online: online,
		Crossed: r.stats.crossed.Load(), InstancesAlive: r.alive.Load(),
	}
}

// peerOf returns the other client of c's room, or nil. Called with r.mu held.
func peerOf(c *client) *client {
	for _, o := range c.room.clients {
		if o != c {
			return o
		}
	}
	return nil
}

// lookup returns the client, creating it (and its room) when create is set. It returns
// ErrUnknownClient for a client it does not hold and may not create, ErrRoomFull when the
// room holds two others. Only Expect creates: see its comment. Called with r.mu held.
func (r *Relay) lookup(roomID, clientID string, create bool) (*client, error) {
	rm := r.rooms[roomID]
	if rm != nil {
		for _, c := range rm.clients {
			if c.id == clientID {
				return c, nil
			}
		}
	}
	if !create {
		return nil, ErrUnknownClient
	}
	if rm == nil {
		rm = &room{id: roomID}
		r.rooms[roomID] = rm
	}
	if len(rm.clients) >= protocol.RoomCapacity {
		return nil, ErrRoomFull
	}
	c := &client{room: rm, id: clientID}
	rm.clients = append(rm.clients, c)
	if peer := peerOf(c); peer != nil && len(peer.pending) > 0 {
		c.inbox, c.inboxBytes = peer.pending, peer.pendingBytes
		peer.pending, peer.pendingBytes = nil, 0
	}
	return c, nil
}

// startGrace arms c's removal after the grace period. Called with r.mu held.
func (r *Relay) startGrace(c *client) {
	c.graceGen++
	gen := c.graceGen
	time.AfterFunc(r.cfg.Grace, func() {
		r.mu.Lock()
		if c.removed || c.sock != nil || c.graceGen != gen || r.closed {
			r.mu.Unlock()
			return
		}
		handoff, roomID := r.removeLocked(c)
		r.mu.Unlock()
		r.log.Info("relay client removed after grace period", "room", roomID, "client", c.id)
		r.cfg.Hooks.Removed(context.Background(), roomID, c.id, handoff)
	})
}

// removeLocked takes c out of its room and returns the messages its peer had sent it that
// were never written, which are handed back to the room server. Called with r.mu held.
func (r *Relay) removeLocked(c *client) (handoff []string, roomID string) {
	c.removed = true
	rm := c.room
	for i, o := range rm.clients {
		if o == c {
			rm.clients = append(rm.clients[:i], rm.clients[i+1:]...)
			break
		}
	}
	if len(rm.clients) == 0 {
		delete(r.rooms, rm.id)
	}
	handoff = messages(c.inbox[min(c.writtenFront, len(c.inbox)):])
	c.inbox, c.inboxBytes, c.writtenFront = nil, 0, 0
	c.inboxGen++
	// What c itself had sent and its peer never got stays with the peer: a bye or a
	// last candidate from a departing client is still worth reading, in order.
	if peer := peerOf(c); peer != nil {
		for _, m := range c.pending {
			if peer.enqueueAt(m) != nil {
				r.stats.dropped.Add(1)
			}
		}
	}
	c.pending = nil
	r.stats.removed.Add(1)
	r.stats.handoff.Add(int64(len(handoff)))
	return handoff, rm.id
}

// enqueue appends msg to c's inbox within the bounds. Called with Relay.mu held.
func (c *client) enqueue(msg string, now time.Duration) error {
	return c.enqueueAt(queued{msg: msg, at: now})
}

func (c *client) enqueueAt(q queued) error {
	if len(c.inbox) >= protocol.MaxQueuedPerSender || c.inboxBytes+len(q.msg) > protocol.MaxQueuedBytesPerSender {
		return ErrQueueFull
	}
	c.inbox = append(c.inbox, q)
	c.inboxBytes += len(q.msg)
	return nil
}

func (c *client) hold(msg string, now time.Duration) error {
	if len(c.pending) >= protocol.MaxQueuedPerSender || c.pendingBytes+len(msg) > protocol.MaxQueuedBytesPerSender {
		return ErrQueueFull
	}
	c.pending = append(c.pending, queued{msg: msg, at: now})
	c.pendingBytes += len(msg)
	return nil
}

// send delivers msg from (roomID, clientID) to its peer, queueing it when the peer has no
// live socket, or — when there is no peer at all — offering it to the room mailbox first.
// create makes the sender when it does not exist (HTTP send, /message); a WebSocket send
// passes its own registered client instead.
func (r *Relay) send(ctx context.Context, from *client, msg string) error {
	if len(msg) > protocol.MaxMessageBytes {
		return ErrTooLarge
	}
	r.mu.Lock()
	if from.removed {
		// A frame read from a DELETEd client's socket while it drains: it still goes to
		// whoever remains, but never re-creates the client.
		err := r.deliverOrphanLocked(from, msg)
		r.mu.Unlock()
		return err
	}
	peer := peerOf(from)
	r.mu.Unlock()
	if peer == nil && r.cfg.Hooks.StoreIfAlone(ctx, from.room.id, from.id, msg) {
		r.stats.queued.Add(1)
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if from.removed {
		return r.deliverOrphanLocked(from, msg)
	}
	peer = peerOf(from)
	if peer == nil {
		if err := from.hold(msg, time.Since(r.started)); err != nil {
			r.stats.dropped.Add(1)
			return err
		}
		r.stats.queued.Add(1)
		return nil
	}
	if err := peer.enqueue(msg, time.Since(r.started)); err != nil {
		r.stats.dropped.Add(1)
		return err
	}
	if peer.sock != nil {
		peer.sock.kickLocked()
	} else {
		r.stats.queued.Add(1)
	}
	return nil
}

func (r *Relay) deliverOrphanLocked(from *client, msg string) error {
	peer := peerOf(from)
	if peer == nil {
		r.stats.dropped.Add(1)
		return nil
	}
	if err := peer.enqueue(msg, time.Since(r.started)); err != nil {
		r.stats.dropped.Add(1)
		return err
	}
	if peer.sock != nil {
		peer.sock.kickLocked()
	}
	return nil
}

// Send hands msg to the relay as if the client had sent it on its socket. The room server
// calls it for /message when the room holds two; POST /collider calls it too. A client the
// relay does not hold gets ErrUnknownClient: it was never in the room, or it was removed.
func (r *Relay) Send(ctx context.Context, roomID, clientID, msg string) error {
	if r.cfg.Shared != nil {
		return r.sendShared(ctx, roomID, clientID, msg, false)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	c, err := r.lookup(roomID, clientID, false)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return r.send(ctx, c, msg)
}

// Expect makes a client that has just joined known to the relay, offline, with its grace
// timer running: a client that joins and never registers is removed like one whose socket
// dropped, so it cannot hold a room full.
//
// It is the only way into the relay. The room server calls it for every /join, and the relay
// tells the room server (Hooks.Removed) after every removal, so the relay's clients are the
// room table's at all times; during a removal, for a moment, the relay holds one fewer. A
// register or send for any other client is refused (ErrUnknownClient) rather than creating
// it: a client that comes back after its grace period ended must join again, or the two
// tables would disagree and the room would look full to newcomers.
func (r *Relay) Expect(roomID, clientID string) error {
	if r.cfg.Shared != nil {
		ctx, cancel := sharedCtx()
		defer cancel()
		return r.cfg.Shared.Expect(ctx, roomID, clientID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	c, err := r.lookup(roomID, clientID, true)
	if err != nil {
		return err
	}
	if c.sock == nil {
		r.startGrace(c)
	}
	return nil
}

// Delete removes the client at once. Its socket, if any, is still read for DrainTimeout so
// that a bye it sent before the DELETE arrived is delivered, then closed.
func (r *Relay) Delete(ctx context.Context, roomID, clientID string) {
	if r.cfg.Shared != nil {
		r.deleteShared(ctx, roomID, clientID)
		return
	}
	r.mu.Lock()
	c, err := r.lookup(roomID, clientID, false)
	if err != nil {
		r.mu.Unlock()
		// Unknown to the relay, it may still be in the room table.
		r.cfg.Hooks.Removed(ctx, roomID, clientID, nil)
		return
	}
	handoff, _ := r.removeLocked(c)
	if s := c.sock; s != nil {
		c.sock = nil
		time.AfterFunc(r.cfg.DrainTimeout, func() { s.closeWith(websocket.CloseNormalClosure, "") })
	}
	r.mu.Unlock()
	r.cfg.Hooks.Removed(ctx, roomID, clientID, handoff)
}

// Close closes every socket with "going away" and waits for their goroutines. Queued
// messages stay undelivered: the process is ending.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	socks := make([]*socket, 0, len(r.sockets))
	for s := range r.sockets {
		socks = append(socks, s)
	}
	r.mu.Unlock()
	for _, s := range socks {
		s.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	r.wg.Wait()
}

// Pending is the number of messages held for a client: not yet written, or written and
// not yet confirmed by its socket.
func (r *Relay) Pending(roomID, clientID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(roomID, clientID, false)
	if err != nil {
		return 0
	}
	return len(c.inbox)
}

// Flush waits until no client with a live socket has messages waiting, or ctx ends.
func (r *Relay) Flush(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		waiting := 0
		for _, rm := range r.rooms {
			for _, c := range rm.clients {
				if c.sock != nil {
					waiting += len(c.inbox)
				}
			}
		}
		r.mu.Unlock()
		if waiting == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush: %d messages undelivered: %w", waiting, ctx.Err())
		case <-tick.C:
		}
	}
}
