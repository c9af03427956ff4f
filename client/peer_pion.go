//go:build !js

package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/protocol"
)

// PionPeer is the native Peer on a pion/webrtc PeerConnection. Attach tracks and data
// channels through PC before the call creates its offer or answer (in the PeerFactory).
type PionPeer struct {
	pc *webrtc.PeerConnection

	peerCallbacks

	mu       sync.Mutex // guards localMid
	localMid string
}

// NewPionPeer makes a PeerConnection from api (nil for webrtc's defaults) configured by cfg,
// with max-bundle and rtcp-mux as AppRTC's pc_config asks.
func NewPionPeer(api *webrtc.API, cfg PeerConfig) (*PionPeer, error) {
	if api == nil {
		api = webrtc.NewAPI()
	}
	conf := webrtc.Configuration{
		ICEServers:    pionICEServers(cfg.ICEServers),
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	}
	if cfg.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return nil, fmt.Errorf("new pion peer connection: %w", err)
	}
	p := &PionPeer{pc: pc}
	pc.OnICECandidate(p.candidate)
	pc.OnConnectionStateChange(p.stateChange)
	return p, nil
}

// PionFactory returns a PeerFactory of bare PionPeers from api, with setup (may be nil)
// run on each new PeerConnection before the call uses it.
func PionFactory(api *webrtc.API, setup func(*PionPeer) error) PeerFactory {
	return factory(func(cfg PeerConfig) (*PionPeer, error) { return NewPionPeer(api, cfg) }, setup)
}

// pionICEServers converts, skipping entries without URLs (invalid in RTCConfiguration).
func pionICEServers(in []protocol.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		if len(s.URLs) == 0 {
			continue
		}
		ps := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			ps.Credential = s.Credential
			ps.CredentialType = webrtc.ICECredentialTypePassword
		}
		out = append(out, ps)
	}
	return out
}

// PC is the underlying PeerConnection.
func (p *PionPeer) PC() *webrtc.PeerConnection { return p.pc }

func (p *PionPeer) candidate(c *webrtc.ICECandidate) {
	if c == nil {
		return // end of candidates
	}
	init := c.ToJSON()
	f := p.candidateFunc()
	p.mu.Lock()
	mid := p.localMid
	p.mu.Unlock()
	if f == nil {
		return
	}
	// pion's ToJSON leaves sdpMid empty; with max-bundle every candidate belongs to the
	// first m-line, whose mid the local description names.
	label := 0
	if init.SDPMLineIndex != nil {
		label = int(*init.SDPMLineIndex)
	}
	out := Candidate{Candidate: init.Candidate, SDPMLineIndex: &label}
	if mid != "" {
		out.SDPMid = &mid
	}
	f(out)
}

func (p *PionPeer) stateChange(s webrtc.PeerConnectionState) {
	if f := p.stateFunc(); f != nil {
		f(pionState(s))
	}
}

func pionState(s webrtc.PeerConnectionState) PeerState {
	switch s {
	case webrtc.PeerConnectionStateConnecting:
		return PeerStateConnecting
	case webrtc.PeerConnectionStateConnected:
		return PeerStateConnected
	case webrtc.PeerConnectionStateDisconnected:
		return PeerStateDisconnected
	case webrtc.PeerConnectionStateFailed:
		return PeerStateFailed
	case webrtc.PeerConnectionStateClosed:
		return PeerStateClosed
	}
	return PeerStateNew
}

// CreateOffer implements Peer.
func (p *PionPeer) CreateOffer(_ context.Context, opts OfferOptions) (SessionDescription, error) {
	d, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: opts.ICERestart})
	if err != nil {
		return SessionDescription{}, fmt.Errorf("create offer: %w", err)
	}
	return SessionDescription{Type: protocol.TypeOffer, SDP: d.SDP}, nil
}

// CreateAnswer implements Peer.
func (p *PionPeer) CreateAnswer(context.Context) (SessionDescription, error) {
	d, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return SessionDescription{}, fmt.Errorf("create answer: %w", err)
	}
	return SessionDescription{Type: protocol.TypeAnswer, SDP: d.SDP}, nil
}

func pionDescription(d SessionDescription) (webrtc.SessionDescription, error) {
	switch d.Type {
	case protocol.TypeOffer:
		return webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: d.SDP}, nil
	case protocol.TypeAnswer:
		return webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: d.SDP}, nil
	}
	return webrtc.SessionDescription{}, fmt.Errorf("session description of type %q", d.Type)
}

// SetLocalDescription implements Peer.
func (p *PionPeer) SetLocalDescription(_ context.Context, d SessionDescription) error {
	pd, err := pionDescription(d)
	if err != nil {
		return err
	}
	// The mid must be known before the first candidate fires.
	p.mu.Lock()
	p.localMid = sdpFirstMid(d.SDP)
	p.mu.Unlock()
	if err := p.pc.SetLocalDescription(pd); err != nil {
		return fmt.Errorf("set local %s: %w", d.Type, err)
	}
	return nil
}

// SetRemoteDescription implements Peer.
func (p *PionPeer) SetRemoteDescription(_ context.Context, d SessionDescription) error {
	pd, err := pionDescription(d)
	if err != nil {
		return err
	}
	if err := p.pc.SetRemoteDescription(pd); err != nil {
		return fmt.Errorf("set remote %s: %w", d.Type, err)
	}
	return nil
}

// AddICECandidate implements Peer.
func (p *PionPeer) AddICECandidate(_ context.Context, c Candidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid}
	if c.SDPMLineIndex != nil {
		if *c.SDPMLineIndex < 0 || *c.SDPMLineIndex > 0xffff {
			return errors.New("add candidate: m-line index out of range")
		}
		idx := uint16(*c.SDPMLineIndex)
		init.SDPMLineIndex = &idx
	}
	if err := p.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("add candidate: %w", err)
	}
	return nil
}

// Close implements Peer.
func (p *PionPeer) Close() error {
	if err := p.pc.Close(); err != nil {
		return fmt.Errorf("close peer: %w", err)
	}
	return nil
}

// SelectedPair returns the candidate types ("host", "srflx", "prflx", "relay") of the
// selected ICE pair, or ok=false before one is selected.
func (p *PionPeer) SelectedPair() (local, remote string, ok bool) {
	pair, ok := p.selectedPair()
	if !ok {
		return "", "", false
	}
	return pair.Local.Typ.String(), pair.Remote.Typ.String(), true
}

func (p *PionPeer) selectedPair() (*webrtc.ICECandidatePair, bool) {
	if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		// Before that the ICE transport may still be starting, and pion's
		// GetSelectedCandidatePair reads what Start writes without a lock.
		return nil, false
	}
	sctp := p.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return nil, false
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return nil, false
	}
	return pair, true
}

// SelectedLocalPort is the port of the selected pair's local candidate: for a relay
// candidate, the port the TURN server relays on, which tells which server holds the
// allocation.
func (p *PionPeer) SelectedLocalPort() (int, bool) {
	pair, ok := p.selectedPair()
	if !ok {
		return 0, false
	}
	return int(pair.Local.Port), true
}

// RTT is the current round-trip time of the selected ICE pair (STUN consent checks).
func (p *PionPeer) RTT() (time.Duration, bool) {
	if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		return 0, false // pion logs an error when asked on a closed agent
	}
	sctp := p.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return 0, false
	}
	s, ok := sctp.Transport().ICETransport().GetSelectedCandidatePairStats()
	if !ok || s.CurrentRoundTripTime <= 0 {
		return 0, false
	}
	return time.Duration(s.CurrentRoundTripTime * float64(time.Second)), true
}

// ReceivedBytes implements PathProbe: the bytes the ICE transport passed up (DTLS, SRTP and
// SCTP; pion answers ICE's own checks below it).
func (p *PionPeer) ReceivedBytes(context.Context) (uint64, error) {
	for _, s := range p.pc.GetStats() {
		if t, ok := s.(webrtc.TransportStats); ok && t.Type == webrtc.StatsTypeTransport {
			return t.BytesReceived, nil
		}
	}
	return 0, errors.New("received bytes: no transport statistics")
}
