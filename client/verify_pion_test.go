//go:build !js

package client

import (
	"context"
	"errors"
	"testing"
)

// A pion peer has no remote certificate before its DTLS handshake: it says so instead of
// giving a code from half the inputs.
func TestPionDTLSFingerprintsBeforeConnecting(t *testing.T) {
	p, err := NewPionPeer(loopbackAPI(), PeerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if local, remote, err := p.DTLSFingerprints(context.Background()); !errors.Is(err, errNotConnected) {
		t.Fatalf("got %v, %v, err %v; want errNotConnected", local, remote, err)
	}
}
