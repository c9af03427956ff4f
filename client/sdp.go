package client

import (
	"strings"

	"github.com/onertc/onertc/protocol"
)

// sdpAttr returns the value of the first "a=<name>:" line of sdp, or "".
func sdpAttr(sdp, name string) string {
	prefix := "a=" + name + ":"
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// sdpFingerprint is the first DTLS fingerprint of sdp. Two descriptions with different
// fingerprints come from different RTCPeerConnections: a new session, not a renegotiation.
func sdpFingerprint(sdp string) string { return sdpAttr(sdp, "fingerprint") }

// sdpFirstMid is the mid of the first m-line (the bundle tag with max-bundle).
func sdpFirstMid(sdp string) string { return sdpAttr(sdp, "mid") }

// encodeDescription renders an offer or answer payload.
func encodeDescription(d SessionDescription) string {
	return encodeSignal(protocol.Signal{Type: d.Type, SDP: d.SDP})
}

// encodeCandidate renders a candidate in AppRTC's payload format:
// {"type":"candidate","label":N,"id":"mid","candidate":"candidate:…"}.
func encodeCandidate(c Candidate) string {
	label := 0
	if c.SDPMLineIndex != nil {
		label = *c.SDPMLineIndex
	}
	s := protocol.Signal{Type: protocol.TypeCandidate, Label: &label, Candidate: c.Candidate}
	if c.SDPMid != nil {
		s.ID = *c.SDPMid
	}
	return encodeSignal(s)
}

// candidateFromSignal is the inverse of encodeCandidate. AppRTC's own clients use only the
// label; the mid is kept when present.
func candidateFromSignal(s protocol.Signal) Candidate {
	c := Candidate{Candidate: s.Candidate}
	if s.ID != "" {
		id := s.ID
		c.SDPMid = &id
	}
	if s.Label != nil {
		l := *s.Label
		c.SDPMLineIndex = &l
	} else if c.SDPMid == nil {
		zero := 0
		c.SDPMLineIndex = &zero
	}
	return c
}

var (
	byeMessage        = encodeSignal(protocol.Signal{Type: protocol.TypeBye})
	groupReadyMessage = encodeSignal(protocol.Signal{Type: protocol.TypeGroupReady})
)
