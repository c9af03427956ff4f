//go:build !js

package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/client"
)

// Media modes.
const (
	MediaAV   = "av"   // video + audio + data channel
	MediaData = "data" // data channel only
)

// Sentinel errors of a failed call.
var (
	ErrNoConnection = errors.New("no connection within the timeout")
	ErrNoMedia      = errors.New("no media received")
	ErrBadOptions   = errors.New("invalid bot options")
)

// DefaultICEFailAfter is Options.ICEFailAfter when unset.
const DefaultICEFailAfter = 9 * time.Second

// Options configure one bot.
type Options struct {
	Server    string // base URL of the onertc server, e.g. http://127.0.0.1:8080
	Room      string
	RelayOnly bool
	Media     string        // MediaAV (default) or MediaData
	Duration  time.Duration // stay this long after first connecting, then hang up; 0 = until ctx ends
	Timeout   time.Duration // fail when not connected this long after start; default 30 s
	// StatsEvery is the period of "stats" records; default 2 s, negative disables them.
	StatsEvery time.Duration
	// IncludeLoopback gathers loopback host candidates (direct calls on one machine).
	IncludeLoopback bool
	// Index numbers the bot in its records (several bots share one output).
	Index int
	// Output receives the JSON records; nil discards them.
	Output *Recorder
	// OnRecord, when set, sees every record too (tests).
	OnRecord func(Record)
	// OnCallEvent, when set, sees every client.Event of the call (tests); it must not block.
	OnCallEvent func(client.Event)
	// Transport overrides the HTTP transport (tests).
	Transport client.Transport
	// Password, for a server in password mode, is given before joining (client SignIn);
	// Invite is an invite link of the server to Room, opened before joining instead.
	Password, Invite string
	// RecoverAfter is passed to the call (client.Config.RecoverAfter).
	RecoverAfter time.Duration
	// SilenceTimeout is how long the bot may receive nothing before the call counts its
	// path dead and starts over on a fresh peer (default
	// client.DefaultSilenceTimeout). A call whose TURN server died loses media for about
	// this long plus the new peer's set-up; too short, and a loaded machine restarts
	// healthy calls.
	SilenceTimeout time.Duration
	// ICEFailAfter is how long the selected ICE path may stay silent before pion reports it
	// failed (default DefaultICEFailAfter), and the call starts over: the fallback for a call
	// without media (MediaData), which the silence watch does not see.
	ICEFailAfter time.Duration
	Logger       *slog.Logger
}

// Record is one line of the bot's output.
type Record struct {
	Event           string     `json:"event"` // joined, connected, verification, stats, bye, state, closed
	Bot             int        `json:"bot"`
	TimeMS          int64      `json:"t_ms"` // since the bot started
	Room            string     `json:"room,omitempty"`
	ClientID        string     `json:"client_id,omitempty"`
	IsInitiator     *bool      `json:"is_initiator,omitempty"`
	LocalCandidate  string     `json:"local_candidate,omitempty"`
	RemoteCandidate string     `json:"remote_candidate,omitempty"`
	State           string     `json:"state,omitempty"`
	Video           *KindStats `json:"video,omitempty"`
	Audio           *KindStats `json:"audio,omitempty"`
	Data            *DataStats `json:"data,omitempty"`
	RTTMS           *float64   `json:"rtt_ms,omitempty"`
	OK              *bool      `json:"ok,omitempty"`
	Error           string     `json:"error,omitempty"`
	// VerificationCode is the code of the connection ("verification" records), which the
	// person at the other end reads in their call view; the fingerprints are those of this
	// bot's certificate and of the one the other end presented in the DTLS handshake.
	VerificationCode  string `json:"verification_code,omitempty"`
	LocalFingerprint  string `json:"local_fingerprint,omitempty"`
	RemoteFingerprint string `json:"remote_fingerprint,omitempty"`
	// At is the wall-clock time of the record, for in-process observers only.
	At time.Time `json:"-"`
}

// Summary is the outcome of Run.
type Summary struct {
	Connected   bool
	ConnectedAt time.Time // first "connected"
	FirstMedia  time.Time // first RTP packet received
	JoinedAt    time.Time
	Video       KindStats
	Audio       KindStats
	Data        DataStats
}

// Bot is one call participant.
type Bot struct {
	opts  Options
	log   *slog.Logger
	call  *client.Call
	api   *webrtc.API
	start time.Time

	cnt    counters
	tracks *mediaTracks
	peer   atomic.Pointer[client.PionPeer]
	events chan client.Event
	first  chan time.Time
	done   chan struct{}
	http   *client.HTTPTransport // nil when Options.Transport replaced it
}

// New checks opts and builds the bot.
func New(opts Options) (*Bot, error) {
	switch opts.Media {
	case "":
		opts.Media = MediaAV
	case MediaAV, MediaData:
	default:
		return nil, fmt.Errorf("%w: media %q (want av or data)", ErrBadOptions, opts.Media)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ICEFailAfter <= 0 {
		opts.ICEFailAfter = DefaultICEFailAfter
	}
	if opts.SilenceTimeout <= 0 {
		opts.SilenceTimeout = client.DefaultSilenceTimeout
	}
	if opts.StatsEvery == 0 {
		opts.StatsEvery = 2 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bot{opts: opts, log: log.With("bot", opts.Index), events: make(chan client.Event, 256),
		first: make(chan time.Time, 1), done: make(chan struct{})}
	b.cnt.firstMedia = func(t time.Time) { b.first <- t }
	tr := opts.Transport
	if tr == nil {
		ht, err := client.NewHTTPTransport(opts.Server, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
		tr, b.http = ht, ht
	}
	api, err := b.newAPI()
	if err != nil {
		return nil, err
	}
	b.api = api
	if opts.Media == MediaAV {
		if b.tracks, err = newMediaTracks(fmt.Sprintf("onertc-bot-%d", opts.Index)); err != nil {
			return nil, err
		}
	}
	// The call's silence watch notices a dead path in SilenceTimeout and starts over on a
	// fresh peer at once (pion does not move to another candidate pair by itself);
	// pion's ICE timeouts (ICEFailAfter) decide when "failed" comes: no grace on top.
	call, err := client.New(client.Config{Room: opts.Room, Transport: tr, NewPeer: b.newPeer,
		RelayOnly: opts.RelayOnly, Logger: b.log, OnEvent: b.onEvent, RecoverAfter: opts.RecoverAfter,
		DisconnectedGrace: -1, SilenceTimeout: opts.SilenceTimeout})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	b.call = call
	return b, nil
}

// Call is the bot's call, for Hangup and RestartICE.
func (b *Bot) Call() *client.Call { return b.call }

// Totals are the bot's counters so far, over all its peers.
func (b *Bot) Totals() (video, audio KindStats, data DataStats) {
	return b.cnt.video.snapshot(), b.cnt.audio.snapshot(),
		DataStats{MessagesSent: b.cnt.dataSent.Load(), MessagesReceived: b.cnt.dataRecv.Load()}
}

// Peer is the bot's current peer (nil before the first).
func (b *Bot) Peer() *client.PionPeer { return b.peer.Load() }

func (b *Bot) newAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	ir.Add(counterFactory{c: &b.cnt})
	se := webrtc.SettingEngine{LoggerFactory: client.PionLoggerFactory(b.log)}
	se.SetIncludeLoopbackCandidate(b.opts.IncludeLoopback)
	// The call's silence watch notices a dead path (client.PionPeer is a PathProbe); pion's
	// own timeouts are the fallback for a path that carries no media (--media data): notice
	// it in seconds, not pion's default half minute: "disconnected" after a third of
	// ICEFailAfter without a packet, "failed" after all of it, and keepalives often enough
	// that an idle path never looks silent.
	disc := b.opts.ICEFailAfter / 3
	se.SetICETimeouts(disc, b.opts.ICEFailAfter-disc, min(time.Second, disc/3))
	// The answerer's DTLS ClientHello often reaches the offerer before the answer has (the
	// relay is slower than loopback ICE) and is dropped; pion's 1 s retransmission then
	// dominates set-up time. Browsers start at 50 ms and back off.
	se.SetDTLSRetransmissionInterval(100 * time.Millisecond)
	// pion's controlling agent waits 1 s before nominating a peer-reflexive pair (the usual
	// one when the remote's checks beat its trickled candidate) and 2 s for a relay pair.
	// A peer-reflexive remote is as direct as a host one; with relay-only ICE there is
	// nothing better to wait for.
	se.SetPrflxAcceptanceMinWait(0)
	if b.opts.RelayOnly {
		se.SetRelayAcceptanceMinWait(0)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// newPeer is the bot's client.PeerFactory: tracks, a negotiated data channel, receivers.
func (b *Bot) newPeer(_ context.Context, cfg client.PeerConfig) (client.Peer, error) {
	p, err := client.NewPionPeer(b.api, cfg)
	if err != nil {
		return nil, err
	}
	pc := p.PC()
	if err := b.attach(pc); err != nil {
		_ = p.Close()
		return nil, err
	}
	b.peer.Store(p)
	return p, nil
}

func (b *Bot) attach(pc *webrtc.PeerConnection) error {
	if b.tracks != nil {
		for _, t := range []webrtc.TrackLocal{b.tracks.video, b.tracks.audio} {
			s, err := pc.AddTrack(t)
			if err != nil {
				return fmt.Errorf("add track %s: %w", t.Kind(), err)
			}
			go b.tracks.readRTCP(s)
		}
	}
	neg, id := true, uint16(0)
	dc, err := pc.CreateDataChannel("onertc-bot", &webrtc.DataChannelInit{Negotiated: &neg, ID: &id})
	if err != nil {
		return fmt.Errorf("create data channel: %w", err)
	}
	dc.OnOpen(func() { go b.sendData(dc) })
	dc.OnMessage(func(webrtc.DataChannelMessage) {
		b.cnt.dataRecv.Add(1)
		if b.opts.Media == MediaData {
			b.cnt.received()
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		// Reading drives the receive interceptors, which count.
		go readTrack(t, func(*rtp.Packet) {})
	})
	return nil
}

func (b *Bot) sendData(dc *webrtc.DataChannel) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		if err := dc.SendText(fmt.Sprintf("onertc bot %d message %d", b.opts.Index, n)); err != nil {
			return
		}
		b.cnt.dataSent.Add(1)
		select {
		case <-tick.C:
		case <-b.done:
			return
		}
	}
}

func (b *Bot) onEvent(ev client.Event) {
	if b.opts.OnCallEvent != nil {
		b.opts.OnCallEvent(ev)
	}
	select {
	case b.events <- ev:
	case <-b.done:
	}
}

// Recorder writes records as JSON lines; safe for concurrent bots.
type Recorder struct {
	mu sync.Mutex
	w  io.Writer
}

// NewRecorder writes to w.
func NewRecorder(w io.Writer) *Recorder { return &Recorder{w: w} }

func (r *Recorder) write(rec Record) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(append(mustJSON(rec), '\n'))
}

// admit signs in to a server in password mode, or opens the invite link, before the call
// joins: the cookies the server answers with admit the join, the relay socket and the
// TURN credentials.
func (b *Bot) admit(ctx context.Context) error {
	if b.opts.Password == "" && b.opts.Invite == "" {
		return nil
	}
	if b.http == nil {
		return fmt.Errorf("%w: a password or invite needs the HTTP transport", ErrBadOptions)
	}
	if b.opts.Password != "" {
		return b.http.SignIn(ctx, b.opts.Password)
	}
	room, err := b.http.OpenInvite(ctx, b.opts.Invite)
	if err == nil && room != b.opts.Room {
		err = fmt.Errorf("%w: the invite is for room %q, not %q", ErrBadOptions, room, b.opts.Room)
	}
	return err
}

// readTrack reads a remote track until it ends, handing each packet to f. A packet that
// does not parse is skipped, not the end of the track: one malformed packet (an SFU once
// forwarded padding-only packets without their padding) must not silence a whole track.
func readTrack(t *webrtc.TrackRemote, f func(*rtp.Packet)) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		f(&pkt)
	}
}
