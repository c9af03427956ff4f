//go:build js && wasm

package client

import (
	"context"
	"errors"
	"strconv"
	"syscall/js"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// BrowserPeer is the js/wasm Peer: the browser's own RTCPeerConnection, driven through
// syscall/js. The browser app reaches the connection with Value to add tracks, open data
// channels and read getStats. Candidates are passed through verbatim (sdpMid, IPv6 and
// tcptype intact), unlike pion's js build.
type BrowserPeer struct {
	pc     js.Value
	l      *listeners
	events *queue[func()]
	stop   context.CancelFunc

	peerCallbacks

	// The gathering round, owned by the events goroutine: see nothingToCheck.
	gathered   int  // local candidates of the current round
	gatherDone bool // the round is complete
	remoteSet  bool // a remote description was applied
	failedSent bool // this round was already reported failed
}

// NewBrowserPeer makes an RTCPeerConnection configured by cfg (max-bundle, rtcp-mux).
func NewBrowserPeer(cfg PeerConfig) (*BrowserPeer, error) {
	ctor := js.Global().Get("RTCPeerConnection")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("new peer: RTCPeerConnection is not available")
	}
	pc, err := newPC(ctor, browserConfig(cfg))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &BrowserPeer{pc: pc, l: &listeners{target: pc}, events: newQueue[func()](), stop: cancel}
	// Callbacks only enqueue; one goroutine runs them in order (never block a JS callback).
	go func() {
		for {
			f, ok := p.events.pop(ctx)
			if !ok {
				return
			}
			f()
		}
	}()
	p.l.on("icecandidate", func(ev js.Value) {
		c := ev.Get("candidate")
		if c.IsNull() || c.IsUndefined() || c.Get("candidate").String() == "" {
			return // end of candidates
		}
		cand := Candidate{Candidate: c.Get("candidate").String()}
		if mid := c.Get("sdpMid"); mid.Type() == js.TypeString {
			s := mid.String()
			cand.SDPMid = &s
		}
		if idx := c.Get("sdpMLineIndex"); idx.Type() == js.TypeNumber {
			i := idx.Int()
			cand.SDPMLineIndex = &i
		}
		p.events.push(func() {
			p.gathered++
			if f := p.candidateFunc(); f != nil {
				f(cand)
			}
		})
	})
	p.l.on("icegatheringstatechange", func(js.Value) {
		s := pc.Get("iceGatheringState").String()
		p.events.push(func() {
			switch s {
			case "gathering": // a new round (the first, or after an ICE restart)
				p.gathered, p.gatherDone, p.failedSent = 0, false, false
			case "complete":
				p.gatherDone = true
				p.nothingToCheck()
			}
		})
	})
	p.l.on("connectionstatechange", func(js.Value) {
		s := browserState(pc.Get("connectionState").String())
		p.events.push(func() {
			if f := p.stateFunc(); f != nil {
				f(s)
			}
		})
	})
	return p, nil
}

// BrowserFactory returns a PeerFactory of BrowserPeers, with setup (may be nil) run on each
// before the call uses it: add local tracks there.
func BrowserFactory(setup func(*BrowserPeer) error) PeerFactory {
	return factory(NewBrowserPeer, setup)
}

func newPC(ctor js.Value, conf map[string]any) (pc js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = wrap.Error("new RTCPeerConnection: ", wrap.Text(r))
		}
	}()
	return ctor.New(conf), nil
}

// browserConfig is the RTCConfiguration of cfg; entries without URLs are invalid there.
func browserConfig(cfg PeerConfig) map[string]any {
	servers := []any{}
	for _, s := range cfg.ICEServers {
		if len(s.URLs) == 0 {
			continue
		}
		urls := make([]any, len(s.URLs))
		for i, u := range s.URLs {
			urls[i] = u
		}
		e := map[string]any{"urls": urls}
		if s.Username != "" {
			e["username"] = s.Username
		}
		if s.Credential != "" {
			e["credential"] = s.Credential
		}
		servers = append(servers, e)
	}
	policy := "all"
	if cfg.RelayOnly {
		policy = "relay"
	}
	return map[string]any{"iceServers": servers, "iceTransportPolicy": policy,
		"bundlePolicy": "max-bundle", "rtcpMuxPolicy": "require"}
}

func browserState(s string) PeerState {
	switch s {
	case "connecting":
		return PeerStateConnecting
	case "connected":
		return PeerStateConnected
	case "disconnected":
		return PeerStateDisconnected
	case "failed":
		return PeerStateFailed
	case "closed":
		return PeerStateClosed
	}
	return PeerStateNew
}

// Value is the underlying RTCPeerConnection.
func (p *BrowserPeer) Value() js.Value { return p.pc }

func (p *BrowserPeer) description(ctx context.Context, method string, opts map[string]any) (SessionDescription, error) {
	args := []any{}
	if opts != nil {
		args = append(args, opts)
	}
	promise, err := call(p.pc, method, args...)
	if err != nil {
		return SessionDescription{}, err
	}
	d, err := await(ctx, promise)
	if err != nil {
		return SessionDescription{}, wrap.Error(method, ": ", err)
	}
	return SessionDescription{Type: d.Get("type").String(), SDP: d.Get("sdp").String()}, nil
}

// CreateOffer implements Peer.
func (p *BrowserPeer) CreateOffer(ctx context.Context, opts OfferOptions) (SessionDescription, error) {
	return p.description(ctx, "createOffer", map[string]any{"iceRestart": opts.ICERestart})
}

// CreateAnswer implements Peer.
func (p *BrowserPeer) CreateAnswer(ctx context.Context) (SessionDescription, error) {
	return p.description(ctx, "createAnswer", nil)
}

func (p *BrowserPeer) setDescription(ctx context.Context, method string, d SessionDescription) error {
	if d.Type != protocol.TypeOffer && d.Type != protocol.TypeAnswer {
		return wrap.Error(method, ": session description of type ", strconv.Quote(d.Type))
	}
	promise, err := call(p.pc, method, map[string]any{"type": d.Type, "sdp": d.SDP})
	if err != nil {
		return err
	}
	if _, err := await(ctx, promise); err != nil {
		return wrap.Error(method, " ", d.Type, ": ", err)
	}
	return nil
}

// SetLocalDescription implements Peer.
func (p *BrowserPeer) SetLocalDescription(ctx context.Context, d SessionDescription) error {
	return p.setDescription(ctx, "setLocalDescription", d)
}

// SetRemoteDescription implements Peer.
func (p *BrowserPeer) SetRemoteDescription(ctx context.Context, d SessionDescription) error {
	if err := p.setDescription(ctx, "setRemoteDescription", d); err != nil {
		return err
	}
	p.events.push(func() {
		p.remoteSet = true
		p.nothingToCheck()
	})
	return nil
}

// nothingToCheck reports the connection failed when gathering found no local candidate at
// all while the other side is known: relay-only ICE (?it=relay) with no TURN relay
// reachable. Chrome leaves such a connection in state "new" for ever instead of failing it,
// so without this the call would wait without end rather than retry and say why. It runs
// on the events goroutine.
func (p *BrowserPeer) nothingToCheck() {
	if !p.gatherDone || !p.remoteSet || p.gathered > 0 || p.failedSent {
		return
	}
	p.failedSent = true
	if f := p.stateFunc(); f != nil {
		f(PeerStateFailed)
	}
}

// AddICECandidate implements Peer.
func (p *BrowserPeer) AddICECandidate(ctx context.Context, c Candidate) error {
	init := map[string]any{"candidate": c.Candidate, "sdpMid": nil, "sdpMLineIndex": nil}
	if c.SDPMid != nil {
		init["sdpMid"] = *c.SDPMid
	}
	if c.SDPMLineIndex != nil {
		init["sdpMLineIndex"] = *c.SDPMLineIndex
	}
	promise, err := call(p.pc, "addIceCandidate", init)
	if err != nil {
		return err
	}
	if _, err := await(ctx, promise); err != nil {
		return wrap.Error("addIceCandidate: ", err)
	}
	return nil
}

// SetICEServers implements ICEServerSetter: fresh TURN credentials before an ICE restart.
func (p *BrowserPeer) SetICEServers(_ context.Context, cfg PeerConfig) error {
	_, err := call(p.pc, "setConfiguration", browserConfig(cfg))
	return err
}

// Close implements Peer.
func (p *BrowserPeer) Close() error {
	p.l.removeAll()
	p.events.close()
	p.stop()
	_, err := call(p.pc, "close")
	return err
}

// ReceivedBytes implements PathProbe from getStats: the bytes received by the connection's
// transports (one with max-bundle).
func (p *BrowserPeer) ReceivedBytes(ctx context.Context) (uint64, error) {
	promise, err := call(p.pc, "getStats")
	if err != nil {
		return 0, err
	}
	report, err := await(ctx, promise)
	if err != nil {
		return 0, wrap.Error("getStats: ", err)
	}
	return ReportReceivedBytes(report)
}

// ReportReceivedBytes sums bytesReceived of the "transport" stats of an RTCStatsReport.
func ReportReceivedBytes(report js.Value) (uint64, error) {
	var total uint64
	found := false
	all := js.Global().Get("Array").Call("from", report.Call("values"))
	for i := 0; i < all.Length(); i++ {
		s := all.Index(i)
		if jsString(s.Get("type")) != "transport" {
			continue
		}
		found = true
		if b := s.Get("bytesReceived"); b.Type() == js.TypeNumber && b.Float() > 0 {
			total += uint64(b.Float())
		}
	}
	if !found {
		return 0, errors.New("received bytes: no transport statistics")
	}
	return total, nil
}
