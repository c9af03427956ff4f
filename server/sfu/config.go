package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/onertc/onertc/protocol"
)

// Config is the SFU's configuration. The zero value of every field but UDPConn means its
// default.
type Config struct {
	// UDPConn carries the ICE and media of every participant (one port for all). The SFU
	// owns it from New on and closes it in Close. Bind it to the address clients reach, or
	// to an unspecified address (candidates then name every interface's address).
	UDPConn net.PacketConn
	// TCPListener, when set, carries ICE over TCP (RFC 6544 framing, passive candidates)
	// for clients whose UDP is blocked; the caller may feed it connections from a shared
	// port. The SFU closes it in Close.
	TCPListener net.Listener
	// PublicIPs replace the host candidates' addresses (a server behind 1:1 NAT).
	PublicIPs []string
	// IncludeLoopback lets ICE-TCP gather loopback addresses (tests on one machine).
	IncludeLoopback bool

	// MaxPerRoom bounds the participants of one room (default 8, at most
	// protocol.MaxGroupSize); MaxTotal those of the whole SFU (default 400).
	MaxPerRoom int
	MaxTotal   int
	// MaxTracks bounds the tracks one participant publishes (default 3: microphone,
	// camera, screen).
	MaxTracks int
	// MaxPublisherBitrate is the REMB every publisher receives as its ceiling, in bits per
	// second (default 4 Mbps).
	MaxPublisherBitrate uint64
	// InitialEstimate is the downlink assumed for a subscriber until its first REMB, in
	// bits per second (default 1 Mbps).
	InitialEstimate uint64
	// KeyframeInterval is the shortest time between two key frame requests (PLI) for one
	// layer of one publisher, whoever asks (default 500 ms).
	KeyframeInterval time.Duration
	// PacketCache is how many packets of each received stream are kept at most to answer
	// NACKs (default 512, about 5 s of 1 Mbps video); their bytes take a ring that grows
	// to about one to two seconds of the stream (packetcache.MinAge).
	PacketCache int
	// Tick is how often layers, speakers and bitrates are re-evaluated (default 250 ms).
	Tick time.Duration
	// OfferRepeat is how long a down offer waits for its answer before it is sent again
	// (default 8 s): a client that lost it, or gave up applying it on a stalled machine,
	// would otherwise never get another, and no track added later would reach it.
	OfferRepeat time.Duration

	// Grace is how long a participant whose socket died (not one that said bye or that the
	// server closed) keeps its place and its media, waiting for a join with resume on a
	// new socket (default 10 s, as the relay; negative: none).
	Grace time.Duration

	// PingInterval is how often an idle socket is pinged; PongTimeout how long a silent
	// socket lives (defaults 20 s and 45 s). WriteTimeout bounds one write (default 10 s).
	PingInterval time.Duration
	PongTimeout  time.Duration
	WriteTimeout time.Duration
	// SendQueue bounds the frames waiting for a slow socket; a socket that lets it fill is
	// closed (default 256).
	SendQueue int
	// MessagesPerSecond and MessageBurst limit what one socket may send (defaults 50, 200):
	// over it the socket gets a "rate" error and is closed.
	MessagesPerSecond float64
	MessageBurst      int

	// CheckOrigin decides whether a WebSocket upgrade is accepted (default: gorilla's,
	// the Origin's host must equal the request's Host).
	CheckOrigin func(r *http.Request) bool
	// Logger receives the SFU's logs (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.MaxPerRoom, 8)
	set(&c.MaxTotal, 400)
	set(&c.MaxTracks, 3)
	set(&c.PacketCache, 512)
	set(&c.SendQueue, 256)
	set(&c.MessageBurst, 200)
	if c.MessagesPerSecond == 0 {
		c.MessagesPerSecond = 50
	}
	if c.MaxPublisherBitrate == 0 {
		c.MaxPublisherBitrate = 4_000_000
	}
	if c.InitialEstimate == 0 {
		c.InitialEstimate = 1_000_000
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.KeyframeInterval, 500*time.Millisecond)
	dur(&c.Tick, 250*time.Millisecond)
	dur(&c.OfferRepeat, 8*time.Second)
	dur(&c.Grace, 10*time.Second)
	dur(&c.PingInterval, 20*time.Second)
	dur(&c.PongTimeout, 45*time.Second)
	dur(&c.WriteTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first setting that cannot work. Defaults count as set.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.UDPConn == nil:
		return fmt.Errorf("%w: UDPConn is required", ErrConfig)
	case c.MaxPerRoom < 2 || c.MaxPerRoom > protocol.MaxGroupSize:
		return fmt.Errorf("%w: MaxPerRoom %d not in 2..%d", ErrConfig, c.MaxPerRoom, protocol.MaxGroupSize)
	case c.MaxTotal < c.MaxPerRoom:
		return fmt.Errorf("%w: MaxTotal %d below MaxPerRoom %d", ErrConfig, c.MaxTotal, c.MaxPerRoom)
	case c.MaxTracks < 1 || c.MaxTracks > 16:
		return fmt.Errorf("%w: MaxTracks %d not in 1..16", ErrConfig, c.MaxTracks)
	case c.PacketCache < 16 || c.PacketCache > 1<<15:
		return fmt.Errorf("%w: PacketCache %d not in 16..32768", ErrConfig, c.PacketCache)
	case c.Tick < 10*time.Millisecond:
		return fmt.Errorf("%w: Tick %v under 10ms", ErrConfig, c.Tick)
	case c.PongTimeout <= c.PingInterval:
		return fmt.Errorf("%w: PongTimeout %v not above PingInterval %v", ErrConfig, c.PongTimeout, c.PingInterval)
	case c.SendQueue < 8:
		return fmt.Errorf("%w: SendQueue %d under 8", ErrConfig, c.SendQueue)
	case c.MessagesPerSecond < 0 || c.MessageBurst < 1:
		return fmt.Errorf("%w: message rate %v burst %d", ErrConfig, c.MessagesPerSecond, c.MessageBurst)
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%w: public IP %q is not an IP address", ErrConfig, ip)
		}
	}
	return nil
}
