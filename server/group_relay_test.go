//go:build !js

package server

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// relayWatcher is a group participant that only watches, its PeerConnection restricted to
// TURN relay candidates: the group protocol's down side, written here because sfutest
// takes no ICE servers.
type relayWatcher struct {
	ws      *websocket.Conn
	pc      *webrtc.PeerConnection
	packets atomic.Int64
	wmu     sync.Mutex
	closing atomic.Bool   // the test ended: errors from here on are the teardown's
	done    chan struct{} // answerOffers returned
}

func dialRelayWatcher(t *testing.T, url string, ice webrtc.ICEServer) *relayWatcher {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{
		ICEServers: []webrtc.ICEServer{ice}, ICETransportPolicy: webrtc.ICETransportPolicyRelay,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &relayWatcher{ws: ws, pc: pc, done: make(chan struct{})}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			w.packets.Add(1)
		}
	})
	w.send(t, protocol.GroupMessage{Type: protocol.GroupJoin})
	go func() { defer close(w.done); w.answerOffers(t) }()
	// The reader reports to t: it must be gone before the test ends.
	t.Cleanup(func() {
		w.closing.Store(true)
		ws.Close()
		<-w.done
		pc.Close()
	})
	return w
}

func (w *relayWatcher) send(t *testing.T, m protocol.GroupMessage) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if err := w.ws.WriteJSON(m); err != nil && !w.closing.Load() {
		t.Errorf("group socket write: %v", err)
	}
}

// answerOffers answers every down offer with all the relay candidates gathered.
func (w *relayWatcher) answerOffers(t *testing.T) {
	fail := func(format string, args ...any) {
		if !w.closing.Load() {
			t.Errorf(format, args...)
		}
	}
	for {
		_, data, err := w.ws.ReadMessage()
		if err != nil {
			return
		}
		var m protocol.GroupMessage
		if err := json.Unmarshal(data, &m); err != nil {
			fail("group frame %q: %v", data, err)
			return
		}
		if m.Type == protocol.GroupError {
			fail("error frame: %s %s", m.Code, m.Message)
			continue
		}
		if m.Type != protocol.GroupOffer || m.PC != protocol.PCDown {
			continue
		}
		if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			fail("down offer: %v", err)
			return
		}
		answer, err := w.pc.CreateAnswer(nil)
		if err != nil {
			fail("answer: %v", err)
			return
		}
		gathered := webrtc.GatheringCompletePromise(w.pc)
		if err := w.pc.SetLocalDescription(answer); err != nil {
			fail("set answer: %v", err)
			return
		}
		select {
		case <-gathered:
		case <-time.After(10 * time.Second):
			fail("relay candidates not gathered within 10s")
			return
		}
		sdp := w.pc.LocalDescription().SDP
		if strings.Contains(sdp, "typ host") || !strings.Contains(sdp, "typ relay") {
			fail("the watcher's answer is not relay-only:\n%s", sdp)
		}
		w.send(t, protocol.GroupMessage{Type: protocol.GroupAnswer, PC: protocol.PCDown, SDP: sdp})
	}
}

// TestRelayOnlyParticipantReachesTheSFU: a participant that may use TURN relay candidates
// only, with the credentials /turn gives, receives a publisher's media from the SFU
// through the server's TURN, whose peer policy refuses loopback peers otherwise.
func TestRelayOnlyParticipantReachesTheSFU(t *testing.T) {
	ts, _ := startGroupServer(t, true, func(c *Config) { c.TURN.Realm = "group.test" })
	ts.joinAs(t, "relayed", true)
	ts.joinAs(t, "relayed", true)
	pub, watcher := ts.joinAs(t, "relayed", true), ts.joinAs(t, "relayed", true)
	var creds protocol.TURNCredentials
	if err := json.Unmarshal([]byte(ts.get(t, "/turn?username=watcher")), &creds); err != nil || len(creds.URIs) == 0 {
		t.Fatalf("/turn: %+v (%v)", creds, err)
	}
	var udpURIs []string
	for _, u := range creds.URIs {
		if strings.HasPrefix(u, "turn:") && !strings.Contains(u, "transport=tcp") {
			udpURIs = append(udpURIs, u)
		}
	}
	w := dialRelayWatcher(t, watcher.Params.GroupURL, webrtc.ICEServer{URLs: udpURIs, Username: creds.Username, Credential: creds.Password})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := sfutest.Dial(ctx, pub.Params.GroupURL, sfutest.Options{Audio: true, Layers: groupVideo, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if err := p.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	srv := ts.turn.srv.Load()
	testsync.Eventually(t, 20*time.Second, "the relay-only watcher receiving media through TURN", func() bool {
		return w.packets.Load() > 50 && srv.Stats().FromPeerPackets > 50
	})
}
