package relaystate

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/onertc/onertc/server/room"
)

// Errors of the relay state.
var (
	// ErrUnknownClient and ErrMailboxFull are the room table's own: the state sits on it.
	ErrUnknownClient = room.ErrUnknownClient
	ErrMailboxFull   = room.ErrMailboxFull
	ErrQueueFull     = errors.New("message queue full")
	// ErrNotOwner means another socket registered the client since: this one must stop.
	ErrNotOwner = errors.New("socket no longer owns the client")
	// ErrRemoved means the client was removed from its room (DELETE) since.
	ErrRemoved = errors.New("client removed")
)

// answer reports whether err is an answer of the state (the client is unknown, a queue or
// mailbox is full, a socket no longer owns its client) rather than trouble reaching it.
func answer(err error) bool {
	for _, a := range []error{ErrUnknownClient, ErrQueueFull, ErrMailboxFull, ErrNotOwner, ErrRemoved} {
		if errors.Is(err, a) {
			return true
		}
	}
	return false
}

// State is the relay's state that outlives one socket: who owns each client's socket, each
// client's queue (a message leaves it only when the socket that wrote it confirmed it),
// grace deadlines, and, with several instances, which instances are alive. Membership is
// the room table's: an implementation sits on the same data as its room.Store. Memory keeps
// it in this process; Redis shares it among instances. The relay owns the sockets and goes
// through State for everything else, the same way with either.
//
// Each implementation bounds and retries its own operations: a caller passes the context of
// the work it does (a request's, or one without a deadline) and never asks which kind of
// state it holds. An error that is not an answer is trouble reaching the state that lasted
// longer than the implementation holds on (Hold).
type State interface {
	// Instance names this instance; Owner names one of its sockets, and InstanceOf(owner)
	// is the instance again.
	Instance() string
	Owner(socket uint64) string
	// Hold is how long an operation the state cannot carry out now is retried before it
	// fails (0: it never fails for want of reaching the state).
	Hold() time.Duration

	// Expect arms the grace deadline of a client that has just joined: one that never
	// registers is removed like one whose socket dropped.
	Expect(ctx context.Context, roomID, clientID string) error
	// Member reports whether the client is in the room table (joined, not removed): a
	// question only, asked before work that would be wasted on a stranger.
	Member(ctx context.Context, roomID, clientID string) (bool, error)
	// Register makes owner the client's socket. ErrUnknownClient when the client is not in
	// the room (never joined, or removed).
	Register(ctx context.Context, roomID, clientID, owner string) (Registered, error)
	// Send queues msg from clientID for the other client of the room, or stores it in the
	// room mailbox when the sender is alone, and wakes the instance holding the
	// recipient's socket when that is another instance. With orphan set, a sender no
	// longer in the room (removed by DELETE while its socket drains) still reaches whoever
	// is in the room, as its last words (a bye); the message is dropped, Sent{Dropped:
	// true}, when nobody is. A send retried after an answer was lost is never queued twice.
	Send(ctx context.Context, roomID, clientID, msg string, orphan bool) (Sent, error)
	// Fetch first drops the client's queued messages before absolute index confirmed, as
	// Confirm does (0, or an index at or before the queue's head: nothing), then returns up
	// to limit queued messages starting at absolute index from (or the queue's head, when
	// from is before it) and that index, and records them as written. One operation, so
	// that a socket whose writer fetches anyway trims what its client confirmed meanwhile
	// without a call of its own. ErrNotOwner when owner is no longer the client's socket,
	// ErrRemoved when the client is no longer in the room. The caller must not change the
	// slice.
	Fetch(ctx context.Context, roomID, clientID, owner string, confirmed, from int64, limit int) (int64, []string, error)
	// Confirm drops the client's queued messages before absolute index upto: owner's
	// socket wrote them and a pong after them came back.
	Confirm(ctx context.Context, roomID, clientID, owner string, upto int64) error
	// Detach takes the client offline when owner is still its socket, and starts its
	// grace period.
	Detach(ctx context.Context, roomID, clientID, owner string) error
	// Reclaim takes the client back for socket when this instance was judged dead while
	// the socket stayed open (a paused instance) and no other socket registered the client
	// since. ErrNotOwner when one did, ErrRemoved when its grace period ended meanwhile.
	Reclaim(ctx context.Context, roomID, clientID, socket string) error
	// Remove takes the client out of its room at once (DELETE, leave): what it was never
	// written goes to the mailbox of the client that remains. A client not in the room is
	// a no-op with an empty Removed.
	Remove(ctx context.Context, roomID, clientID string) (Removed, error)
	// Reap removes the clients whose grace period is over, whichever instance armed it,
	// up to limit of them, and returns them; instances reaping at once never remove one
	// twice, and a client that came back in the meantime stays.
	Reap(ctx context.Context, limit int) ([]Removed, error)

	// Run does the state's background work for this instance until ctx ends, telling
	// events what happened to this instance's sockets elsewhere: with other instances,
	// heartbeats, judging the silent ones dead, and their notices; at its end this
	// instance leaves the live ones.
	Run(ctx context.Context, events Events)
	// Healthy reports whether the state answered lately (Run's last heartbeat).
	Healthy() bool
	// Instances is how many instances share the state, this one included, as Run last saw
	// it: 0 when the state is this process's alone.
	Instances() int

	// AdvertiseTURN publishes this instance's TURN URIs for the other instances to hand out
	// beside their own; WithdrawTURN takes them back (a clean shutdown). PeerTURN returns
	// the URIs of the other live instances, in no particular order.
	AdvertiseTURN(ctx context.Context, uris []string) error
	WithdrawTURN(ctx context.Context) error
	PeerTURN(ctx context.Context) ([][]string, error)

	// Drain waits, at shutdown, until this instance's sockets may be closed with "going
	// away", or ctx ends, and reports whether their clients go on elsewhere. Shared with
	// other instances, a client re-registers on one of them and finds its queue there: the
	// sockets may close once notice has passed (the time a load balancer takes to see the
	// instance go unready). Alone, a client has nowhere else to go: Drain waits until the
	// room table is empty, and the calls ended here.
	Drain(ctx context.Context, notice time.Duration) (movedOn bool)
}

// Events is what Run reports to the relay of this instance.
type Events interface {
	// Wake: the queue of clientID, whose socket is here, has grown.
	Wake(roomID, clientID string)
	// Close: the socket owner here is no longer its client's: errText is what to tell it
	// (a takeover elsewhere), or "" when its client was removed (it drains, then closes).
	Close(roomID, owner, errText string)
	// Resync: notices may have been lost; every local queue is to be read again.
	Resync()
	// Reclaim: the other instances judged this one dead while it was paused and took its
	// clients offline; each socket here is to take its client back (State.Reclaim).
	Reclaim()
}

// Registered is the outcome of Register.
type Registered struct {
	// Previous is the owner the client had ("" when offline), or the socket it lost with a
	// paused instance: a socket, maybe on another instance, that must be closed.
	Previous string
	// Base is the absolute index of the queue's head: Fetch from it.
	Base int64
}

// Sent is the outcome of Send.
type Sent struct {
	// Stored: the sender is alone and msg went to the room mailbox, for the next joiner.
	Stored bool
	// PeerOwner is the socket of the recipient ("" offline), which has been woken when it
	// is on another instance.
	PeerOwner string
	// Dropped: an orphan message with nobody left to take it.
	Dropped bool
}

// Removed is a client taken out of its room.
type Removed struct {
	Room, Client string
	// Owner is the socket it had ("" offline), to be closed.
	Owner string
	// HandedOff counts the messages for it that it was never written, which went to the
	// room mailbox for the next joiner.
	HandedOff int
}

// InstanceOf is the instance part of an owner.
func InstanceOf(owner string) string {
	inst, _, _ := strings.Cut(owner, "/")
	return inst
}
