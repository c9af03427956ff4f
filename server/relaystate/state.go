package relaystate

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Errors of the relay state.
var (
	ErrUnknownClient = errors.New("unknown client")
	ErrQueueFull     = errors.New("message queue full")
	ErrMailboxFull   = errors.New("mailbox full")
	// ErrNotOwner means another socket registered the client since: this one must stop.
	ErrNotOwner = errors.New("socket no longer owns the client")
	// ErrRemoved means the client was removed from its room (DELETE) since.
	ErrRemoved = errors.New("client removed")
)

// State is the relay's state that outlives one socket: who owns each client's socket, each
// client's queue (a message leaves it only when the socket that wrote it confirmed it),
// grace deadlines, and, with several instances, which instances are alive. Membership is
// the room table's: an implementation sits on the same data as its room.Store. Memory keeps
// it in this process; Redis shares it among instances. The relay (package signal) owns the
// sockets and goes through State for everything else, the same way in both.
type State interface {
	// Instance names this instance; Owner names one of its sockets, and InstanceOf(owner)
	// is the instance again.
	Instance() string
	Owner(socket uint64) string
	// NewToken names a message for Send uniquely among all instances' messages.
	NewToken() string
	// Remote reports whether calls go over the network: the relay then makes them off the
	// goroutines that read sockets.
	Remote() bool

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
	// true}, when nobody is. token names this message uniquely (see NewToken): a retry
	// with the same token after an answer was lost is recognised and not queued twice.
	Send(ctx context.Context, roomID, clientID, msg string, orphan bool, token string) (Sent, error)
	// Fetch returns up to limit queued messages for the client starting at absolute index
	// from (or the queue's head, when from is before it) and that index, and records them
	// as written. ErrNotOwner when owner is no longer the client's socket, ErrRemoved when
	// the client is no longer in the room.
	Fetch(ctx context.Context, roomID, clientID, owner string, from int64, limit int) (int64, []string, error)
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

	// Heartbeat tells the other instances this one is alive. It reports whether the
	// instance was missing from the live ones: it starts, or the others judged it dead
	// while it was paused and took its clients offline (Reclaim takes them back).
	Heartbeat(ctx context.Context) (missing bool, err error)
	// Alive counts the instances whose last heartbeat is younger than within.
	Alive(ctx context.Context, within time.Duration) (int, error)
	// ReapInstances takes the clients whose socket was on an instance silent for longer
	// than deadAfter offline, starting their grace period, and returns the instances found
	// dead.
	ReapInstances(ctx context.Context, deadAfter time.Duration) ([]string, error)
	// Leave removes this instance from the live ones (a clean shutdown).
	Leave(ctx context.Context) error
	// Listen tells events what other instances did to this instance's sockets, until ctx
	// ends.
	Listen(ctx context.Context, events Events)
}

// Events is what Listen reports to the relay of this instance.
type Events interface {
	// Wake: the queue of clientID, whose socket is here, has grown.
	Wake(roomID, clientID string)
	// Close: the socket owner here is no longer its client's: errText is what to tell it
	// (a takeover elsewhere), or "" when its client was removed (it drains, then closes).
	Close(roomID, owner, errText string)
	// Resync: notices may have been lost; every local queue is to be read again.
	Resync()
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
