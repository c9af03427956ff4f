package turn

import (
	"sync"
	"time"
)

// registry mirrors pion's allocations, which pion keeps private: which 5-tuple holds an
// allocation, under which username, on which relay socket, until when. It learns them from
// the requests and responses seen on the wrapped listener sockets and from the relay sockets
// it hands to pion (whose Close marks the end of an allocation). It enforces the quotas,
// remembers the usernames that authenticated while valid (so their refreshes outlive the
// credential), and keeps the key that verified each client's latest request for pion's
// AuthHandler.
type registry struct {
	mu      sync.Mutex
	live    map[string]*allocRec  // by 5-tuple key
	pending map[string]pendingRec // admitted Allocates awaiting pion's answer, by 5-tuple key
	unbound map[int]*relayConn    // relay sockets created, not yet tied to a 5-tuple, by port
	perUser map[string]int        // live + pending allocations per username
	total   int                   // live + pending
	keys    map[string]keyRec     // by client address key: the key that verified its last request
	userQ   int
	totalQ  int
}

type allocRec struct {
	tuple    string
	clientID string // network|address of the client, for TCP tear-down
	user     string
	relay    *relayConn
	deadline time.Time
}

type pendingRec struct {
	user string
	txID [12]byte
	at   time.Time
}

type keyRec struct {
	user string
	key  []byte
	at   time.Time
}

// Housekeeping horizons.
const (
	pendingTimeout = 10 * time.Second
	keyTimeout     = 30 * time.Second
	deadlineGrace  = 3 * time.Second
)

func newRegistry(userQuota, totalQuota int) *registry {
	return &registry{
		live:    make(map[string]*allocRec),
		pending: make(map[string]pendingRec),
		unbound: make(map[int]*relayConn),
		perUser: make(map[string]int),
		keys:    make(map[string]keyRec),
		userQ:   userQuota,
		totalQ:  totalQuota,
	}
}

// liveUser returns the username of the allocation on tuple, if any.
func (r *registry) liveUser(tuple string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.live[tuple]
	if !ok {
		return "", false
	}
	return a.user, true
}

// reserve admits a new Allocate from tuple for user within the quotas.
func (r *registry) reserve(tuple, user string, txID [12]byte, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pending[tuple]; ok {
		if p.txID == txID {
			return true // a retransmission: already counted
		}
		r.releaseLocked(tuple, p)
	}
	if (r.userQ > 0 && r.perUser[user] >= r.userQ) || (r.totalQ > 0 && r.total >= r.totalQ) {
		return false
	}
	r.pending[tuple] = pendingRec{user: user, txID: txID, at: now}
	r.perUser[user]++
	r.total++
	return true
}

func (r *registry) releaseLocked(tuple string, p pendingRec) {
	delete(r.pending, tuple)
	r.dropUserLocked(p.user)
}

func (r *registry) dropUserLocked(user string) {
	r.total--
	if r.perUser[user]--; r.perUser[user] <= 0 {
		delete(r.perUser, user)
	}
}

// refused is called when pion answered a pending Allocate with an error.
func (r *registry) refused(tuple string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pending[tuple]; ok {
		r.releaseLocked(tuple, p)
	}
}

// addRelay records a relay socket pion has just been given.
func (r *registry) addRelay(c *relayConn) {
	r.mu.Lock()
	r.unbound[c.port] = c
	r.mu.Unlock()
}

// allocated is called when pion's Allocate success response leaves for tuple: it ties the
// pending reservation to the relay socket on relayPort. It returns that socket when a new
// allocation was recorded, nil otherwise.
func (r *registry) allocated(tuple, clientID string, relayPort int, lifetime time.Duration, now time.Time) *relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[tuple]
	c := r.unbound[relayPort]
	if !ok || c == nil {
		return nil // a cached answer to a retransmission, or state we never saw
	}
	delete(r.pending, tuple)
	delete(r.unbound, relayPort)
	a := &allocRec{tuple: tuple, clientID: clientID, user: p.user, relay: c, deadline: now.Add(lifetime)}
	r.live[tuple] = a
	c.rec = a
	return c
}

// refreshed moves the deadline of tuple's allocation.
func (r *registry) refreshed(tuple string, lifetime time.Duration, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.live[tuple]; ok && lifetime > 0 {
		a.deadline = now.Add(lifetime)
	}
}

// relayClosed is called once when pion (or we) close a relay socket: the allocation is over.
func (r *registry) relayClosed(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unbound[c.port] == c {
		delete(r.unbound, c.port)
	}
	a := c.rec
	if a == nil || r.live[a.tuple] != a {
		return
	}
	delete(r.live, a.tuple)
	r.dropUserLocked(a.user)
}

// putKey remembers the key that verified clientID's latest request under username.
func (r *registry) putKey(clientID, user string, key []byte, now time.Time) {
	r.mu.Lock()
	r.keys[clientID] = keyRec{user: user, key: key, at: now}
	r.mu.Unlock()
}

func (r *registry) key(clientID, user string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[clientID]
	if !ok || (user != "" && k.user != user) {
		return nil, false
	}
	return k.key, true
}

// relaysOf returns the relay sockets of allocations held by clientID (a TCP connection).
func (r *registry) relaysOf(clientID string) []*relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*relayConn
	for _, a := range r.live {
		if a.clientID == clientID {
			out = append(out, a.relay)
		}
	}
	return out
}

// sweep drops stale pending reservations and keys, and returns the relay sockets of
// allocations past their deadline (pion's own timer normally ends them first; ours enforces
// MaxAllocationLifetime when we shortened a granted lifetime).
func (r *registry) sweep(now time.Time) []*relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, p := range r.pending {
		if now.Sub(p.at) > pendingTimeout {
			r.releaseLocked(t, p)
		}
	}
	for id, k := range r.keys {
		if now.Sub(k.at) > keyTimeout {
			delete(r.keys, id)
		}
	}
	var expired []*relayConn
	for _, a := range r.live {
		if now.After(a.deadline.Add(deadlineGrace)) {
			expired = append(expired, a.relay)
		}
	}
	return expired
}

// all returns every relay socket, live or unbound (for Close).
func (r *registry) all() []*relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*relayConn, 0, len(r.live)+len(r.unbound))
	for _, a := range r.live {
		out = append(out, a.relay)
	}
	for _, c := range r.unbound {
		out = append(out, c)
	}
	return out
}

func (r *registry) counts() (live, pending int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live), len(r.pending)
}
