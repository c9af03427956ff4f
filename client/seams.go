package client

import (
	"context"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// Transport carries the client's side of the room-server and relay protocols. Every method
// may be called from any goroutine.
type Transport interface {
	// Join posts /join/{room}?{query} (query may be ""). A refusal (FULL, …) is a
	// response, not an error; errors are for requests that did not get a well-formed answer.
	Join(ctx context.Context, room, query string) (protocol.JoinResponse, error)
	// Message posts one signaling message to /message/{room}/{client}; a result other than
	// SUCCESS is an error wrapping ErrMessageRejected.
	Message(ctx context.Context, room, client, msg string) error
	// Leave posts /leave/{room}/{client}.
	Leave(ctx context.Context, room, client string) error
	// ICEServers posts to the join parameters' ice_server_url.
	ICEServers(ctx context.Context, iceServerURL string) ([]protocol.ICEServer, error)
	// DialRelay opens a relay socket on the join parameters' wss_url.
	DialRelay(ctx context.Context, wssURL string) (RelayConn, error)
	// DeleteRelay sends DELETE {wss_post_url}/{room}/{client}.
	DeleteRelay(ctx context.Context, wssPostURL, room, client string) error
}

// RelayConn is one relay (Collider) socket. Write may be called concurrently with Read; Read
// has a single caller. Close unblocks a pending Read.
type RelayConn interface {
	Write(ctx context.Context, req protocol.RelayRequest) error
	Read(ctx context.Context) (protocol.RelayFrame, error)
	Close() error
}

// SessionDescription is an offer or an answer.
type SessionDescription struct {
	Type string // protocol.TypeOffer or protocol.TypeAnswer
	SDP  string
}

// Candidate is one trickled ICE candidate, as RTCIceCandidateInit holds it. The candidate
// line is carried verbatim ("candidate:…", IPv6 and tcptype included).
type Candidate struct {
	Candidate     string
	SDPMid        *string
	SDPMLineIndex *int
}

// OfferOptions are the options of Peer.CreateOffer.
type OfferOptions struct {
	// ICERestart asks for new ICE credentials: this is how a call restarts ICE.
	ICERestart bool
}

// PeerState is the RTCPeerConnection connection state.
type PeerState int

// Peer connection states, as in RTCPeerConnectionState.
const (
	PeerStateNew PeerState = iota
	PeerStateConnecting
	PeerStateConnected
	PeerStateDisconnected
	PeerStateFailed
	PeerStateClosed
)

func (s PeerState) String() string {
	switch s {
	case PeerStateNew:
		return "new"
	case PeerStateConnecting:
		return "connecting"
	case PeerStateConnected:
		return "connected"
	case PeerStateDisconnected:
		return "disconnected"
	case PeerStateFailed:
		return "failed"
	case PeerStateClosed:
		return "closed"
	}
	return "unknown"
}

// Peer is the part of an RTCPeerConnection a call drives. Callbacks may be invoked from any
// goroutine and must not block; the Call only forwards them to its loop.
type Peer interface {
	CreateOffer(ctx context.Context, opts OfferOptions) (SessionDescription, error)
	CreateAnswer(ctx context.Context) (SessionDescription, error)
	SetLocalDescription(ctx context.Context, d SessionDescription) error
	SetRemoteDescription(ctx context.Context, d SessionDescription) error
	AddICECandidate(ctx context.Context, c Candidate) error
	// OnLocalCandidate registers the callback for gathered candidates (not end-of-candidates).
	OnLocalCandidate(f func(Candidate))
	// OnStateChange registers the callback for connection-state changes.
	OnStateChange(f func(PeerState))
	Close() error
}

// ICEServerSetter is implemented by peers that can take new ICE servers before an ICE
// restart (the browser's setConfiguration). The call gives them fresh TURN credentials, so a
// restart late in a call does not allocate with an expired credential, nor through the TURN
// server of an instance that died. pion cannot (its ICE gatherer keeps the servers it was
// created with): a failed pion call starts over at once on a fresh peer with fresh servers.
type ICEServerSetter interface {
	SetICEServers(ctx context.Context, cfg PeerConfig) error
}

// PathProbe is implemented by peers that can count what the other side sent them. The call
// watches the count to notice a dead media path in well under a second (see
// Config.SilenceTimeout), where ICE's own timeouts take seconds: Chrome reports
// "disconnected" 2.5 s after the last packet and moves to a backup pair later still, pion
// after its disconnected timeout (a bot's default 3 s) and never moves by itself.
type PathProbe interface {
	// ReceivedBytes is the count of bytes received on the peer's transport so far: media,
	// data and their control packets, not ICE's own checks.
	ReceivedBytes(ctx context.Context) (uint64, error)
}

// PeerConfig is what a new Peer is configured with.
type PeerConfig struct {
	ICEServers []protocol.ICEServer
	// RelayOnly sets iceTransportPolicy "relay".
	RelayOnly bool
}

// PeerFactory makes a Peer for one call attempt. A call makes a fresh Peer after a bye, like
// AppRTC; the factory is where media tracks and data channels are attached.
type PeerFactory func(ctx context.Context, cfg PeerConfig) (Peer, error)

// factory makes a PeerFactory of newPeer's peers with setup (may be nil) run on each before
// the call uses it; a peer whose setup fails is closed.
func factory[P Peer](newPeer func(PeerConfig) (P, error), setup func(P) error) PeerFactory {
	return func(_ context.Context, cfg PeerConfig) (Peer, error) {
		p, err := newPeer(cfg)
		if err != nil {
			return nil, err
		}
		if setup != nil {
			if err := setup(p); err != nil {
				_ = p.Close()
				return nil, wrap.Error("set up peer: ", err)
			}
		}
		return p, nil
	}
}
