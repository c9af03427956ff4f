package sfu

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// loopbackPair makes two PeerConnections with one audio section that gather only loopback
// UDP candidates.
func loopbackPair(t *testing.T) (offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	newPC := func() *webrtc.PeerConnection {
		m := &webrtc.MediaEngine{}
		if err := m.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
		se := webrtc.SettingEngine{}
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc
	}
	offerer, answerer = newPC(), newPC()
	if _, err := offerer.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	return offerer, answerer
}

// exchange applies an offer and its answer, complete with candidates unless withoutCandidates,
// in which case neither side learns an address of the other and ICE cannot connect.
func exchange(t *testing.T, offerer, answerer *webrtc.PeerConnection, withoutCandidates bool) {
	t.Helper()
	strip := func(sdp string) string {
		if !withoutCandidates {
			return sdp
		}
		var kept []string
		for _, l := range strings.Split(sdp, "\r\n") {
			if !strings.HasPrefix(l, "a=candidate:") {
				kept = append(kept, l)
			}
		}
		return strings.Join(kept, "\r\n")
	}
	local := func(pc *webrtc.PeerConnection, d webrtc.SessionDescription) webrtc.SessionDescription {
		done := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(d); err != nil {
			t.Fatal(err)
		}
		<-done
		return webrtc.SessionDescription{Type: d.Type, SDP: strip(pc.LocalDescription().SDP)}
	}
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := answerer.SetRemoteDescription(local(offerer, offer)); err != nil {
		t.Fatal(err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := offerer.SetRemoteDescription(local(answerer, answer)); err != nil {
		t.Fatal(err)
	}
}

// TestTransportsStarting checks the states in which closePeer waits before Close: only
// between an applied offer/answer and the end of the ICE transport's start.
func TestTransportsStarting(t *testing.T) {
	cases := []struct {
		name     string
		setUp    func(t *testing.T, offerer, answerer *webrtc.PeerConnection)
		starting bool
	}{
		{"nothing negotiated", func(*testing.T, *webrtc.PeerConnection, *webrtc.PeerConnection) {}, false},
		{"offer sent, no answer yet", func(t *testing.T, offerer, _ *webrtc.PeerConnection) {
			offer, err := offerer.CreateOffer(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := offerer.SetLocalDescription(offer); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"answered, ICE cannot connect", func(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
			exchange(t, offerer, answerer, true)
			testsync.Eventually(t, 10*time.Second, "ICE checking", func() bool { return offerer.ICEConnectionState() == webrtc.ICEConnectionStateChecking })
		}, true},
		{"connected", func(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
			exchange(t, offerer, answerer, false)
			testsync.Eventually(t, 10*time.Second, "connected", func() bool { return offerer.ConnectionState() == webrtc.PeerConnectionStateConnected })
		}, false},
		{"closed", func(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
			exchange(t, offerer, answerer, true)
			if err := offerer.Close(); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offerer, answerer := loopbackPair(t)
			tc.setUp(t, offerer, answerer)
			if got := transportsStarting(offerer); got != tc.starting {
				t.Fatalf("transportsStarting = %v, want %v (ICE %s, DTLS %s)", got, tc.starting,
					offerer.ICEConnectionState(), offerer.SCTP().Transport().State())
			}
		})
	}
}

// TestClosePeerWaitsOnlyWhileStarting: a peer whose ICE cannot connect is closed after the
// bounded wait; a connected one at once.
func TestClosePeerWaitsOnlyWhileStarting(t *testing.T) {
	stuck, other := loopbackPair(t)
	exchange(t, stuck, other, true)
	start := time.Now()
	if err := closePeer(stuck); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < transportStartWait {
		t.Errorf("closed a starting peer after %v, before the %v wait", waited, transportStartWait)
	}
	if s := stuck.ConnectionState(); s != webrtc.PeerConnectionStateClosed {
		t.Errorf("state after closePeer: %s", s)
	}

	up, down := loopbackPair(t)
	exchange(t, up, down, false)
	testsync.Eventually(t, 10*time.Second, "connected", func() bool { return up.ConnectionState() == webrtc.PeerConnectionStateConnected })
	if transportsStarting(up) {
		t.Fatal("a connected peer counts as starting")
	}
	if err := closePeer(up); err != nil {
		t.Fatal(err)
	}
	if s := up.ConnectionState(); s != webrtc.PeerConnectionStateClosed {
		t.Errorf("state after closePeer: %s", s)
	}
}
