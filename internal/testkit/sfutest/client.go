//go:build !js

// Package sfutest is a group-room participant for tests: it speaks the group protocol
// (protocol.GroupMessage) over a real WebSocket, publishes real RTP on real pion
// PeerConnections (synthetic VP8 frames with valid payload descriptors and key-frame
// headers, in up to three simulcast layers, and Opus-sized audio packets carrying an audio
// level) and records, per remote participant, every packet it receives.
package sfutest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v2"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/protocol"
)

// Layer is one simulcast layer the client publishes.
type Layer struct {
	RID           string
	Width, Height int
	FrameBytes    int // size of a delta frame; key frames are three times larger
}

// DefaultLayers are three layers shaped like a browser's (rates at 30 fps: about 50, 190
// and 600 kbps).
var DefaultLayers = []Layer{
	{RID: "q", Width: 320, Height: 180, FrameBytes: 200},
	{RID: "h", Width: 640, Height: 360, FrameBytes: 800},
	{RID: "f", Width: 1280, Height: 720, FrameBytes: 2500},
}

// Options says what a client publishes.
type Options struct {
	Audio bool
	// Layers are the video layers; one layer without a RID publishes plain video, none
	// publishes no video.
	Layers []Layer
	// FPS is the video frame rate (default 30).
	FPS int
	// AudioLevel is the level written in every audio packet (RFC 6464, 0 loudest, 127
	// silence; default 127). SetAudioLevel changes it.
	AudioLevel *uint8
	// Screen adds a second video track, announced as a screen share.
	Screen bool
	// TCPOnly restricts ICE to TCP (active candidates), as behind a firewall that drops
	// UDP.
	TCPOnly bool
	// IgnoreDownOffers is how many down offers the client leaves unanswered, as one that
	// lost them or gave up applying them.
	IgnoreDownOffers int
}

// Client is one participant.
type Client struct {
	ID   string
	opts Options
	ws   *websocket.Conn
	api  *webrtc.API

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	rtcpWG sync.WaitGroup // the publisher's RTCP readers, gone before the close
	wmu    sync.Mutex     // one writer on the socket

	mu        sync.Mutex
	msgs      []protocol.GroupMessage
	notify    chan struct{} // closed and replaced on every message
	up, down  *webrtc.PeerConnection
	recv      map[string]*Received // by publisher id
	level     uint8
	estimate  uint64
	sent      map[string]int // video packets sent per rid
	closed    bool
	closeCode int
	stopping  bool // Close has begun: no RTCP reader starts
	remb      uint64
	dropVideo int
	dropped   []uint16
	padVideo  int
	padAudio  int
	paused    map[string]bool // simulcast layers sending probes, no frames
	// downOffers counts the down offers received; answered is the last one answered.
	downOffers int
	answered   string
	nacked     []uint16
	// onConnected waits for the up connection (whenConnected).
	onConnected []func()
}

// Dial opens the group socket at url (ws://…) and sends join; it returns once welcome
// arrived, or the error frame that refused the join.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil && resp.Body != nil {
			// A refused handshake's status and body say why (gorilla's error does not).
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("dial %s: %w (%d %q)", url, err, resp.StatusCode, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("dial %s: status %d", url, resp.StatusCode)
	}
	api, err := newAPI(opts.TCPOnly)
	if err != nil {
		return nil, errors.Join(err, ws.Close())
	}
	c := &Client{opts: opts, ws: ws, api: api, notify: make(chan struct{}), recv: make(map[string]*Received), level: 127, sent: make(map[string]int)}
	if opts.AudioLevel != nil {
		c.level = *opts.AudioLevel
	}
	if c.opts.FPS == 0 {
		c.opts.FPS = 30
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.readLoop(ws)
	if err := c.Send(protocol.GroupMessage{Type: protocol.GroupJoin}); err != nil {
		c.Close()
		return nil, err
	}
	m, err := c.WaitFor(ctx, func(m protocol.GroupMessage) bool {
		return m.Type == protocol.GroupWelcome || m.Type == protocol.GroupError
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	if m.Type == protocol.GroupError {
		c.Close()
		return nil, &RefusedError{Code: m.Code, Message: m.Message}
	}
	c.ID = m.ID
	return c, nil
}

// RefusedError is a join the server answered with an error frame.
type RefusedError struct{ Code, Message string }

func (e *RefusedError) Error() string { return "join refused: " + e.Code + ": " + e.Message }

func newAPI(tcpOnly bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
		PayloadType: 96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	for _, e := range []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{"urn:ietf:params:rtp-hdrext:ssrc-audio-level", webrtc.RTPCodecTypeAudio},
	} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, err
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	if tcpOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A retransmission repeats a sequence number: the NACK tests must see it.
	se.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)), nil
}

// Send writes one frame.
func (c *Client) Send(m protocol.GroupMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw writes one text frame as is.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("group socket write: %w", err)
	}
	return nil
}

func (c *Client) readLoop(ws *websocket.Conn) {
	defer c.wg.Done()
	defer c.wake()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.closed = true
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeCode = ce.Code
			}
			c.mu.Unlock()
			return
		}
		var m protocol.GroupMessage
		if err := json.Unmarshal(data, &m); err != nil {
			m = protocol.GroupMessage{Type: "unparsable", Message: string(data)}
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		c.wake()
		if m.Type == protocol.GroupOffer && m.PC == protocol.PCDown && c.takeDownOffer(m.SDP) {
			err := c.answerDown(m.SDP)
			if err == nil {
				c.mu.Lock()
				c.answered = m.SDP
				c.mu.Unlock()
			}
			if err != nil {
				c.mu.Lock()
				c.msgs = append(c.msgs, protocol.GroupMessage{Type: "client-error", Message: err.Error()})
				c.mu.Unlock()
			}
		}
	}
}

func (c *Client) wake() {
	c.mu.Lock()
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

// Messages returns the frames received so far.
func (c *Client) Messages() []protocol.GroupMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.GroupMessage(nil), c.msgs...)
}

// DropSocket closes the group socket without a bye, as a network failure would, and keeps
// the PeerConnections.
func (c *Client) DropSocket() {
	c.wmu.Lock()
	_ = c.ws.Close()
	c.wmu.Unlock()
}

// Resume opens a new group socket at url and joins with resume, keeping the
// PeerConnections. It returns the welcome.
func (c *Client) Resume(ctx context.Context, url string) (protocol.GroupMessage, error) {
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return protocol.GroupMessage{}, fmt.Errorf("dial %s: %w", url, err)
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	c.wmu.Lock()
	c.ws = ws
	c.wmu.Unlock()
	mark := c.Mark()
	c.mu.Lock()
	c.closed = false
	c.mu.Unlock()
	c.wg.Add(1)
	go c.readLoop(ws)
	if err := c.Send(protocol.GroupMessage{Type: protocol.GroupJoin, Resume: true}); err != nil {
		return protocol.GroupMessage{}, err
	}
	return c.WaitFrom(ctx, mark, func(m protocol.GroupMessage) bool {
		return m.Type == protocol.GroupWelcome || m.Type == protocol.GroupError
	})
}

// CloseCode is the code of the close frame the server sent (0: none yet).
func (c *Client) CloseCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode
}

// SocketClosed reports whether the server closed the socket.
func (c *Client) SocketClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// WaitFor returns the first frame received (since the start) that match accepts.
func (c *Client) WaitFor(ctx context.Context, match func(protocol.GroupMessage) bool) (protocol.GroupMessage, error) {
	return c.waitFrom(ctx, 0, match)
}

// Mark is the number of frames received so far, for WaitFrom.
func (c *Client) Mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// WaitFrom is WaitFor among the frames received after mark.
func (c *Client) WaitFrom(ctx context.Context, mark int, match func(protocol.GroupMessage) bool) (protocol.GroupMessage, error) {
	return c.waitFrom(ctx, mark, match)
}

func (c *Client) waitFrom(ctx context.Context, seen int, match func(protocol.GroupMessage) bool) (protocol.GroupMessage, error) {
	for {
		c.mu.Lock()
		msgs, ch, closed := c.msgs[seen:], c.notify, c.closed
		seen = len(c.msgs)
		c.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		if closed {
			return protocol.GroupMessage{}, errors.New("group socket closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return protocol.GroupMessage{}, fmt.Errorf("waiting for a frame: %w", ctx.Err())
		}
	}
}

// takeDownOffer reports whether a down offer is to be answered: not one of the first
// IgnoreDownOffers, nor a repeat of the one answered last (as onertc's clients do; an
// offer whose answer failed is answered again when it is repeated).
func (c *Client) takeDownOffer(sdp string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downOffers++
	return c.downOffers > c.opts.IgnoreDownOffers && sdp != c.answered
}

func (c *Client) answerDown(offer string) error {
	c.mu.Lock()
	pc := c.down
	c.mu.Unlock()
	if pc == nil {
		var err error
		if pc, err = c.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
			return err
		}
		pc.OnTrack(c.onTrack)
		c.mu.Lock()
		c.down = pc
		c.mu.Unlock()
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fmt.Errorf("down offer: %w", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("down answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("down answer: %w", err)
	}
	if err := c.gathered(gathered); err != nil {
		return fmt.Errorf("down answer: %w", err)
	}
	return c.Send(protocol.GroupMessage{Type: protocol.GroupAnswer, PC: protocol.PCDown, SDP: pc.LocalDescription().SDP})
}

// gathered waits for a gathering to complete, or for the client to close: the ICE agent of a
// PeerConnection closed while it gathers cannot report the end of its gathering (pion ice
// v2's setGatheringState fails on a closed agent), and Close waits for the read loop that
// answers offers.
func (c *Client) gathered(complete <-chan struct{}) error {
	select {
	case <-complete:
		return nil
	case <-c.ctx.Done():
		return fmt.Errorf("gathering candidates: %w", c.ctx.Err())
	}
}

// SetAudioLevel changes the level written into the audio packets from now on.
func (c *Client) SetAudioLevel(level uint8) {
	c.mu.Lock()
	c.level = level
	c.mu.Unlock()
}

// SetEstimate makes the client report bps as its downlink estimate (REMB) from now on,
// several times a second, as a browser does.
func (c *Client) SetEstimate(bps uint64) {
	c.mu.Lock()
	first := c.estimate == 0
	c.estimate = bps
	c.mu.Unlock()
	if !first {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
			}
			c.mu.Lock()
			pc, bps := c.down, c.estimate
			var ssrcs []uint32
			for _, r := range c.recv {
				if r.VideoSSRC != 0 {
					ssrcs = append(ssrcs, r.VideoSSRC)
				}
			}
			c.mu.Unlock()
			if pc == nil || len(ssrcs) == 0 {
				continue
			}
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(bps), SSRCs: ssrcs}})
		}
	}()
}

// WriteDownRTCP sends RTCP on the down connection (NACK, PLI).
func (c *Client) WriteDownRTCP(pkts ...rtcp.Packet) error {
	c.mu.Lock()
	pc := c.down
	c.mu.Unlock()
	if pc == nil {
		return errors.New("no down connection")
	}
	return pc.WriteRTCP(pkts)
}

// SentVideo returns how many video packets the client sent on layer rid.
func (c *Client) SentVideo(rid string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[rid]
}

// Close leaves: bye, then everything closed.
func (c *Client) Close() {
	_ = c.Send(protocol.GroupMessage{Type: protocol.GroupBye})
	c.cancel()
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	c.rtcpWG.Wait()
	c.wmu.Lock()
	_ = c.ws.Close()
	c.wmu.Unlock()
	c.mu.Lock()
	up, down := c.up, c.down
	c.mu.Unlock()
	for _, pc := range []*webrtc.PeerConnection{up, down} {
		if pc != nil {
			_ = pc.Close()
		}
	}
	c.wg.Wait()
}
