package sfu

import (
	"time"

	"github.com/pion/webrtc/v3"
)

// transportStartWait bounds how long closePeer waits for a PeerConnection's transports to
// finish starting. Starting ends within a round trip or two once ICE connects; a peer whose
// ICE never connects is closed after this wait all the same.
const transportStartWait = time.Second

// closePeer closes pc, first waiting (at most transportStartWait) while its ICE transport
// may still be starting. pion v3.3.6, the last v3, races there: the ICE agent can report
// "connected" after Close marked the transport closed, so the transport's Start goes on and
// stores its mux while Close reads that field without the lock (docs/facts.md). The race
// detector reports it, and Close then leaves Start's mux open. Start is over once the DTLS
// transport has left its new state, which pion does right after it.
func closePeer(pc *webrtc.PeerConnection) error {
	deadline := time.Now().Add(transportStartWait)
	for transportsStarting(pc) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return pc.Close()
}

// transportsStarting reports whether pc's transports were told to start (an offer and its
// answer were both applied) and the ICE transport may not have finished doing so.
func transportsStarting(pc *webrtc.PeerConnection) bool {
	if pc.CurrentRemoteDescription() == nil {
		// Nothing started them: Close finds the ICE transport new, and a Start that
		// comes after it returns at once.
		return false
	}
	dtls := pc.SCTP().Transport()
	if dtls.State() != webrtc.DTLSTransportStateNew {
		return false
	}
	switch dtls.ICETransport().State() {
	case webrtc.ICETransportStateFailed, webrtc.ICETransportStateClosed:
		return false
	}
	return true
}
