//go:build !js

package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/webrtc/v3"
)

// errNotConnected: the DTLS handshake has not finished, so there is no remote certificate.
var errNotConnected = errors.New("the connection is not up")

// DTLSFingerprints implements DTLSPeer: the local certificate of the DTLS transport and
// the certificate the remote end presented in its handshake.
func (p *PionPeer) DTLSFingerprints(context.Context) (local, remote Fingerprint, err error) {
	if s := p.pc.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		return Fingerprint{}, Fingerprint{}, fmt.Errorf("dtls fingerprints: %w (%s)", errNotConnected, s)
	}
	// Every PeerConnection has one DTLS transport (max-bundle), which its SCTP transport
	// shares whether or not a data channel was opened.
	dtls := p.pc.SCTP().Transport()
	der := dtls.GetRemoteCertificate()
	if len(der) == 0 {
		return Fingerprint{}, Fingerprint{}, fmt.Errorf("dtls fingerprints: %w: no remote certificate", errNotConnected)
	}
	params, err := dtls.GetLocalParameters()
	if err != nil {
		return Fingerprint{}, Fingerprint{}, fmt.Errorf("dtls fingerprints: local certificate: %w", err)
	}
	// pion gives its DTLS handshake every configured certificate; a PeerConnection made by
	// NewPionPeer has exactly one, the one generated for it.
	if len(params.Fingerprints) != 1 {
		return Fingerprint{}, Fingerprint{}, fmt.Errorf("dtls fingerprints: %d local fingerprints, want 1", len(params.Fingerprints))
	}
	local, err = ParseFingerprint(params.Fingerprints[0].Algorithm, params.Fingerprints[0].Value)
	if err != nil {
		return Fingerprint{}, Fingerprint{}, fmt.Errorf("dtls fingerprints: local certificate: %w", err)
	}
	// Browsers name a certificate's fingerprint after its signature's hash: SHA-256 for the
	// ECDSA certificates browsers and pion generate, so the two sides hash alike.
	if remote, err = SHA256Fingerprint(der); err != nil {
		return Fingerprint{}, Fingerprint{}, fmt.Errorf("dtls fingerprints: remote certificate: %w", err)
	}
	return local, remote, nil
}
