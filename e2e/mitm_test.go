//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/client"
	"github.com/onertc/onertc/protocol"
)

// The two sides of the man in the middle: a is the initiator (it joins first and offers on
// /message), b the callee (it answers on its relay socket).
const (
	sideA = 0
	sideB = 1
)

// mitm is a signaling server turned man in the middle, as a server that wanted to listen
// to a call would be: it keeps every offer, answer and candidate of the two bots from the
// other and sends its own instead, from two pion peers of its own, one facing each bot. Each
// bot thus gets SDP carrying the man in the middle's fingerprint and completes DTLS with it;
// the two peers bridge the media (RTP and the data channel) so the call still works.
//
// It works as the bots' transport, on top of the real server's: the bots join and register
// for real, and what the man in the middle sends as one bot goes through the server the way
// that bot would have sent it (the initiator's /message, the callee's relay socket).
type mitm struct {
	t     *testing.T
	sides [2]*mitmTransport
	peers [2]*client.PionPeer
	// Tracks each peer sends, by kind: what the other peer receives is written there.
	tracks [2]map[string]*webrtc.TrackLocalStaticRTP
	dcs    [2]*webrtc.DataChannel

	in      chan mitmMsg
	offered bool // the peer facing b has sent its offer

	// ctx ends when the test does; senders counts the goroutines sending as a bot, which
	// the test waits for, so none reports after it.
	ctx     context.Context
	senders sync.WaitGroup
}

type mitmMsg struct {
	from int
	msg  string
}

func newMITM(t *testing.T, serverURL string) *mitm {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &mitm{t: t, in: make(chan mitmMsg, 256), ctx: ctx}
	se := webrtc.SettingEngine{LoggerFactory: client.PionLoggerFactory(testLogger().With("bot", "mitm"))}
	se.SetIncludeLoopbackCandidate(true)
	se.SetDTLSRetransmissionInterval(100 * time.Millisecond)
	se.SetPrflxAcceptanceMinWait(0)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	for side := range 2 {
		ht, err := client.NewHTTPTransport(serverURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.sides[side] = &mitmTransport{Transport: ht, m: m, side: side, registered: make(chan struct{})}
		p, err := client.NewPionPeer(api, client.PeerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		m.peers[side] = p
		t.Cleanup(func() { _ = p.Close() })
		if err := m.attach(side); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		// Closed peers gather no more candidates, so no sender starts after this.
		for _, p := range m.peers {
			_ = p.Close()
		}
		m.senders.Wait()
	})
	return m
}

// side is the transport to give bot a (sideA) or b (sideB).
func (m *mitm) side(side int) client.Transport { return m.sides[side] }

// attach gives the peer facing side the tracks and data channel a bot has, and bridges what
// it receives to the other peer.
func (m *mitm) attach(side int) error {
	pc := m.peers[side].PC()
	m.tracks[side] = map[string]*webrtc.TrackLocalStaticRTP{}
	for _, c := range []webrtc.RTPCodecCapability{
		{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
	} {
		kind := "video"
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = "audio"
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(c, kind, fmt.Sprintf("mitm-%d", side))
		if err != nil {
			return fmt.Errorf("new %s track: %w", kind, err)
		}
		sender, err := pc.AddTrack(tr)
		if err != nil {
			return fmt.Errorf("add %s track: %w", kind, err)
		}
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		}()
		m.tracks[side][kind] = tr
	}
	other := 1 - side
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			out := m.tracks[other][remote.Kind().String()]
			for {
				pkt, _, err := remote.ReadRTP()
				if err != nil {
					return
				}
				if err := out.WriteRTP(pkt); err != nil {
					return
				}
			}
		}()
	})
	neg, id := true, uint16(0)
	dc, err := pc.CreateDataChannel("mitm", &webrtc.DataChannelInit{Negotiated: &neg, ID: &id})
	if err != nil {
		return fmt.Errorf("create data channel: %w", err)
	}
	m.dcs[side] = dc
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		// Dropped while the other leg is not open yet, as a lossy bridge would.
		if msg.IsString {
			_ = m.dcs[other].SendText(string(msg.Data))
		} else {
			_ = m.dcs[other].Send(msg.Data)
		}
	})
	m.peers[side].OnLocalCandidate(func(c client.Candidate) {
		// The peer facing a talks to a as if it were b, and the other way round.
		m.sides[other].send(signalJSON(m.t, candidateSignal(c)))
	})
	return nil
}

func candidateSignal(c client.Candidate) protocol.Signal {
	s := protocol.Signal{Type: protocol.TypeCandidate, Label: c.SDPMLineIndex, Candidate: c.Candidate}
	if c.SDPMid != nil {
		s.ID = *c.SDPMid
	}
	return s
}

func signalJSON(t *testing.T, s protocol.Signal) string {
	data, err := json.Marshal(s)
	if err != nil {
		t.Errorf("marshal signal: %v", err)
	}
	return string(data)
}

// run handles what the bots send, one message at a time, in order.
func (m *mitm) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-m.in:
			if err := m.handle(ctx, in); err != nil {
				m.t.Errorf("man in the middle, from side %d: %v", in.from, err)
			}
		}
	}
}

func (m *mitm) handle(ctx context.Context, in mitmMsg) error {
	s, err := protocol.ParseSignal(in.msg)
	if err != nil {
		return err
	}
	p := m.peers[in.from]
	switch {
	case s.Type == protocol.TypeCandidate:
		c := client.Candidate{Candidate: s.Candidate, SDPMLineIndex: s.Label}
		if s.ID != "" {
			c.SDPMid = &s.ID
		}
		return p.AddICECandidate(ctx, c)
	case s.Type == protocol.TypeOffer && in.from == sideA:
		if err := p.SetRemoteDescription(ctx, client.SessionDescription{Type: s.Type, SDP: s.SDP}); err != nil {
			return err
		}
		answer, err := p.CreateAnswer(ctx)
		if err != nil {
			return err
		}
		if err := p.SetLocalDescription(ctx, answer); err != nil {
			return err
		}
		m.sides[sideB].send(signalJSON(m.t, protocol.Signal{Type: answer.Type, SDP: answer.SDP}))
		if m.offered {
			return nil
		}
		m.offered = true
		pb := m.peers[sideB]
		offer, err := pb.CreateOffer(ctx, client.OfferOptions{})
		if err != nil {
			return err
		}
		if err := pb.SetLocalDescription(ctx, offer); err != nil {
			return err
		}
		m.sides[sideA].send(signalJSON(m.t, protocol.Signal{Type: offer.Type, SDP: offer.SDP}))
		return nil
	case s.Type == protocol.TypeAnswer && in.from == sideB:
		return p.SetRemoteDescription(ctx, client.SessionDescription{Type: s.Type, SDP: s.SDP})
	}
	return fmt.Errorf("unexpected %s", s.Type)
}

// mitmTransport is one bot's transport: its offers, answers and candidates go to the man
// in the middle; everything else (join, register, bye, leave) goes to the server unchanged.
type mitmTransport struct {
	client.Transport
	m    *mitm
	side int

	mu         sync.Mutex
	room, id   string           // from the bot's first /message
	relay      client.RelayConn // the bot's registered relay socket
	registered chan struct{}    // closed once relay is set
	outbox     []string         // what the man in the middle sends as this bot, in order
	sending    bool
}

// intercepted reports whether msg is a payload the man in the middle takes over.
func intercepted(msg string) bool {
	s, err := protocol.ParseSignal(msg)
	return err == nil && (s.Type == protocol.TypeOffer || s.Type == protocol.TypeAnswer || s.Type == protocol.TypeCandidate)
}

func (tr *mitmTransport) Message(ctx context.Context, room, id, msg string) error {
	tr.mu.Lock()
	tr.room, tr.id = room, id
	tr.mu.Unlock()
	if !intercepted(msg) {
		return tr.Transport.Message(ctx, room, id, msg)
	}
	tr.m.in <- mitmMsg{from: tr.side, msg: msg}
	return nil
}

func (tr *mitmTransport) DialRelay(ctx context.Context, url string) (client.RelayConn, error) {
	c, err := tr.Transport.DialRelay(ctx, url)
	if err != nil {
		return nil, err
	}
	return &mitmRelay{RelayConn: c, tr: tr}, nil
}

// send delivers msg to the other bot as this bot would: on /message for the initiator
// (stored for b until it joins), on the relay socket for the callee (once registered).
func (tr *mitmTransport) send(msg string) {
	tr.mu.Lock()
	tr.outbox = append(tr.outbox, msg)
	start := !tr.sending
	tr.sending = true
	tr.mu.Unlock()
	if start {
		tr.m.senders.Add(1)
		go tr.drain()
	}
}

func (tr *mitmTransport) drain() {
	defer tr.m.senders.Done()
	for {
		tr.mu.Lock()
		if len(tr.outbox) == 0 {
			tr.sending = false
			tr.mu.Unlock()
			return
		}
		msg := tr.outbox[0]
		tr.outbox = tr.outbox[1:]
		tr.mu.Unlock()
		ctx, cancel := context.WithTimeout(tr.m.ctx, 20*time.Second)
		err := tr.deliver(ctx, msg)
		cancel()
		if err != nil && tr.m.ctx.Err() == nil {
			tr.m.t.Errorf("man in the middle sending as side %d: %v", tr.side, err)
		}
	}
}

func (tr *mitmTransport) deliver(ctx context.Context, msg string) error {
	if tr.side == sideA {
		tr.mu.Lock()
		room, id := tr.room, tr.id
		tr.mu.Unlock()
		if id == "" {
			return errors.New("a has not posted a message yet")
		}
		return tr.Transport.Message(ctx, room, id, msg)
	}
	select {
	case <-tr.registered:
	case <-ctx.Done():
		return fmt.Errorf("b never registered: %w", ctx.Err())
	}
	tr.mu.Lock()
	relay := tr.relay
	tr.mu.Unlock()
	return relay.Write(ctx, protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: msg})
}

// mitmRelay is a bot's relay socket: its sends are taken over as its /message posts are.
type mitmRelay struct {
	client.RelayConn
	tr *mitmTransport
}

func (r *mitmRelay) Write(ctx context.Context, req protocol.RelayRequest) error {
	if req.Cmd == protocol.CmdSend && intercepted(req.Msg) {
		r.tr.m.in <- mitmMsg{from: r.tr.side, msg: req.Msg}
		return nil
	}
	if err := r.RelayConn.Write(ctx, req); err != nil {
		return err
	}
	if req.Cmd == protocol.CmdRegister {
		r.tr.mu.Lock()
		first := r.tr.relay == nil
		r.tr.relay = r.RelayConn
		r.tr.mu.Unlock()
		if first {
			close(r.tr.registered)
		}
	}
	return nil
}
