// Package relay is the Collider-compatible WebSocket relay: clients register on /ws with a
// room and client id, and each message one client sends reaches the other, in order, queued
// while the other has no live socket. The relay owns this instance's sockets (reading,
// writing, pings, limits); everything that outlives a socket, membership and queues included,
// is the relaystate.State's, which sits on the room table, so a closed tab never leaves a
// room full. The relay has one code path whichever State it is given: how the State waits,
// retries and keeps in touch with other instances is its own.
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/relaystate"
)

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
	// OnDelivered, when set, is told how long each message waited on this instance from
	// the wake-up of its recipient's socket here (at once when that socket is online; on
	// its register when it was offline) to its write on that socket: the writer reads the
	// State's queue in between.
	OnDelivered func(time.Duration)
	// CheckOrigin decides whether a browser's WebSocket handshake is allowed.
	CheckOrigin func(r *http.Request) bool
	Logger      *slog.Logger
	// State keeps membership, queues, grace deadlines and socket ownership: a
	// relaystate.Memory on one instance (the default, on a room table of its own), a
	// relaystate.Redis shared by several.
	State relaystate.State
	// Errors counts the failures of the relay's background work (reaping, leaving),
	// which no caller waits for, and logs them once per burst; one of its own on Logger
	// when nil.
	Errors *errcount.Counter
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
	}
}

// Relay is the Collider relay. Its zero value is not usable; create it with New.
type Relay struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	started  time.Time

	// mu guards the fields below. It is taken when a socket opens, registers or ends,
	// never for a message; nothing under it does I/O or blocks.
	mu      sync.Mutex
	sockets map[*socket]struct{}
	perKey  map[string]int
	// admitted counts sockets against MaxSockets from before their upgrade to their detach:
	// the client sees 101 before the socket enters sockets, and a cap read from len(sockets)
	// would let the next handshake through.
	admitted int
	// closed is set under mu (so no socket is admitted after Close took the list) and
	// read without it by Send and Expect.
	closed atomic.Bool
	// clients maps "room client" to the socket here registered for that client, and
	// rooms counts those sockets by room: this instance's sockets, the only membership
	// the relay keeps (the rest is the State's).
	clients map[string]*socket
	rooms   map[string]int
	// byOwner maps the owner id of each socket in clients to it.
	byOwner map[string]*socket
	// owners maps owner ids to sockets here too, from just before the State names the
	// socket its client's to its unregister: a message for a socket here wakes it through
	// owners, read without mu.
	owners sync.Map
	wg     sync.WaitGroup
	// sockSeq numbers this instance's sockets for the State's owner ids.
	sockSeq atomic.Uint64

	stats counters
}

type counters struct {
	openWS, totalWS, wsErrors, httpErrors      atomic.Int64
	relayed, queued, dropped, removed, handoff atomic.Int64
	crossed                                    atomic.Int64
	// rooms and online follow len(Relay.rooms) and len(Relay.clients), changed under
	// Relay.mu with the maps, so that Stats, which GET /status (public) and every scrape
	// call, reads them without that lock.
	rooms, online atomic.Int64
}

// Stats is a snapshot of the relay's counters.
type Stats struct {
	Uptime                            time.Duration
	OpenWS, TotalWS                   int64
	WSErrors, HTTPErrors              int64
	Relayed, Queued, Dropped          int64
	Removed, HandedOff, Rooms, Online int64 // Rooms and Online: of the sockets on this instance
	// Crossed counts messages sent to a socket on another instance.
	Crossed int64
	// InstancesAlive is the number of instances sharing the state, this one included, as
	// the state last saw it (0 when the state is this process's alone).
	InstancesAlive int64
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
	if cfg.FramesPerSecond <= 0 {
		cfg.FramesPerSecond = def.FramesPerSecond
	}
	if cfg.FrameBurst <= 0 {
		cfg.FrameBurst = def.FrameBurst
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Errors == nil {
		cfg.Errors = errcount.New(cfg.Logger, 0)
	}
	if cfg.State == nil {
		// On its own (fuzzing): a state with an empty room table, whose clients nobody
		// joins.
		cfg.State = relaystate.NewMemory(cfg.Grace)
	}
	r := &Relay{
		cfg:     cfg,
		log:     cfg.Logger,
		started: time.Now(),
		sockets: make(map[*socket]struct{}),
		perKey:  make(map[string]int),
		clients: make(map[string]*socket),
		rooms:   make(map[string]int),
		byOwner: make(map[string]*socket),
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

// Stats returns the relay's counters. It costs the same however many rooms there are and
// takes no lock (see counters).
func (r *Relay) Stats() Stats {
	rooms, online := r.stats.rooms.Load(), r.stats.online.Load()
	return Stats{
		Uptime: time.Since(r.started), OpenWS: r.stats.openWS.Load(), TotalWS: r.stats.totalWS.Load(),
		WSErrors: r.stats.wsErrors.Load(), HTTPErrors: r.stats.httpErrors.Load(),
		Relayed: r.stats.relayed.Load(), Queued: r.stats.queued.Load(), Dropped: r.stats.dropped.Load(),
		Removed: r.stats.removed.Load(), HandedOff: r.stats.handoff.Load(), Rooms: rooms, Online: online,
		Crossed: r.stats.crossed.Load(), InstancesAlive: int64(r.cfg.State.Instances()),
	}
}

// isClosed reports whether Close has begun: nothing new is taken then.
func (r *Relay) isClosed() bool { return r.closed.Load() }

// Send hands msg to the relay as if the client had sent it on its socket. The room server
// calls it for /message when the room holds two; POST /collider calls it too. A client not
// in the room gets ErrUnknownClient: it was never in the room, or it was removed.
func (r *Relay) Send(ctx context.Context, roomID, clientID, msg string) error {
	if r.isClosed() {
		return ErrClosed
	}
	return r.send(ctx, roomID, clientID, msg, false)
}

// Expect arms the grace period of a client that has just joined the room table: a client
// that joins and never registers is removed like one whose socket dropped, so it cannot
// hold a room full. A register or send for a client the room table does not hold is refused
// (ErrUnknownClient): one that comes back after its grace period ended must join again.
func (r *Relay) Expect(roomID, clientID string) error {
	if r.isClosed() {
		return ErrClosed
	}
	return r.cfg.State.Expect(context.Background(), roomID, clientID)
}

// Delete removes the client at once, on whichever instance its socket is. Its socket is
// still read for DrainTimeout so that a bye it sent before the DELETE arrived is
// delivered, then closed.
func (r *Relay) Delete(ctx context.Context, roomID, clientID string) {
	gone, err := r.cfg.State.Remove(ctx, roomID, clientID)
	if err != nil {
		r.log.Warn("relay delete failed", "room", roomID, "client", clientID, "err", err)
		return
	}
	if gone.Client == "" {
		return
	}
	r.stats.removed.Add(1)
	r.stats.handoff.Add(int64(gone.HandedOff))
	if gone.Owner != "" && relaystate.InstanceOf(gone.Owner) == r.cfg.State.Instance() {
		r.closeOwner(gone.Owner, "")
	}
}

// Close closes every socket with "going away" and waits for their goroutines. Queued
// messages stay undelivered: the process is ending.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed.Store(true)
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

// Pending is the number of messages written to the socket here of a client and not yet
// confirmed by it, plus one when more wait in its queue to be written.
func (r *Relay) Pending(roomID, clientID string) int {
	r.mu.Lock()
	s := r.clients[clientKey(roomID, clientID)]
	r.mu.Unlock()
	if s == nil {
		return 0
	}
	return s.pending()
}

// Flush waits until no client with a socket here has messages waiting, or ctx ends.
func (r *Relay) Flush(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		waiting := 0
		for _, s := range r.registered() {
			waiting += s.pending()
		}
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

// Drain waits, at shutdown, until the sockets here may be closed (Close), or ctx ends, and
// reports whether their clients go on on other instances (see relaystate.State.Drain):
// then their calls go on, else they have ended.
func (r *Relay) Drain(ctx context.Context, notice time.Duration) (movedOn bool) {
	return r.cfg.State.Drain(ctx, notice)
}

// SendHold is how long a message the state cannot take is held before its sender is told
// (0: the state never fails for want of reaching it).
func (r *Relay) SendHold() time.Duration { return r.cfg.State.Hold() }

// SharedHealthy reports whether the state answered lately (always, for one in this
// process).
func (r *Relay) SharedHealthy() bool { return r.cfg.State.Healthy() }
