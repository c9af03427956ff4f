package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v3"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// offerSDP makes a real pion offer with the given sections: "audio", "video", "simulcast"
// (video with three rids), "data"; codecs lists the video codecs the offerer knows.
func offerSDP(t *testing.T, videoCodec string, sections ...string) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: videoCodec, ClockRate: 90000}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for i, s := range sections {
		switch s {
		case "audio":
			tr, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a"+string(rune('0'+i)), "s")
			_, err = pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		case "video":
			tr, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: videoCodec, ClockRate: 90000}, "v"+string(rune('0'+i)), "s")
			_, err = pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		case "simulcast":
			var x *webrtc.RTPTransceiver
			for j, rid := range []string{"q", "h", "f"} {
				tr, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: videoCodec, ClockRate: 90000}, "sv", "s", webrtc.WithRTPStreamID(rid))
				if j == 0 {
					x, err = pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
				} else {
					err = x.Sender().AddEncoding(tr)
				}
				if err != nil {
					break
				}
			}
		case "data":
			_, err = pc.CreateDataChannel("chat", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

func frame(t *testing.T, m protocol.GroupMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nthError waits for the n-th error frame (from 1) c received.
func nthError(t *testing.T, c *sfutest.Client, n int) protocol.GroupMessage {
	t.Helper()
	var got protocol.GroupMessage
	testsync.Eventually(t, 10*time.Second, "error frame", func() bool {
		seen := 0
		for _, m := range c.Messages() {
			if m.Type == protocol.GroupError {
				seen++
				if seen == n {
					got = m
					return true
				}
			}
		}
		return false
	})
	return got
}

func TestBadInputGetsErrorFramesAndTheRoomGoesOn(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.join("bad", "a", sfutest.Options{Audio: true, Layers: plainVideo})
	b := h.join("bad", "b", sfutest.Options{})
	h.publish(a)
	testsync.Eventually(t, 20*time.Second, "b receiving a", func() bool { return receivingFrom(b, []string{"a"}, nil) })
	bad := h.join("bad", "bad", sfutest.Options{Audio: true, Layers: plainVideo})

	good := offerSDP(t, webrtc.MimeTypeVP8, "simulcast")
	fourRIDs := strings.Replace(good, "a=rid:q send\r\n", "a=rid:q send\r\na=rid:x send\r\n", 1)
	if fourRIDs == good {
		t.Fatal("the simulcast offer has no a=rid:q line to add to")
	}
	tests := []struct {
		name  string
		frame []byte
		code  string
	}{
		{"not JSON", []byte("{{{"), protocol.GroupErrMalformed},
		{"no type", []byte("{}"), protocol.GroupErrMalformed},
		{"unknown type", []byte(`{"type":"dance"}`), protocol.GroupErrUnknownType},
		{"field of the wrong type", []byte(`{"type":"view","participant":5}`), protocol.GroupErrMalformed},
		{"offer on the down connection", frame(t, protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCDown, SDP: good}), protocol.GroupErrBadField},
		{"offer without sdp", []byte(`{"type":"offer","pc":"up"}`), protocol.GroupErrBadField},
		{"SDP that does not parse", frame(t, protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: "hello"}), protocol.GroupErrSDP},
		{"no VP8", frame(t, protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: offerSDP(t, webrtc.MimeTypeH264, "audio", "video")}), protocol.GroupErrCodec},
		{"four tracks", frame(t, protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: offerSDP(t, webrtc.MimeTypeVP8, "audio", "audio", "video", "video")}), protocol.GroupErrTooManyTracks},
		{"four simulcast layers", frame(t, protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: fourRIDs}), protocol.GroupErrTooManyTracks},
		{"data channel", frame(t, protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: offerSDP(t, webrtc.MimeTypeVP8, "audio", "data")}), protocol.GroupErrSDP},
		{"answer with no offer pending", frame(t, protocol.GroupMessage{Type: protocol.GroupAnswer, PC: protocol.PCDown, SDP: good}), protocol.GroupErrBadField},
		{"candidate before any offer", []byte(`{"type":"candidate","pc":"up","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`), protocol.GroupErrBadField},
		{"candidate for no connection", []byte(`{"type":"candidate","pc":"sideways","candidate":{"candidate":"x"}}`), protocol.GroupErrBadField},
		{"view size out of range", []byte(`{"type":"view","participant":"a","width":-1}`), protocol.GroupErrBadField},
		{"view of a bad id", []byte(`{"type":"view","participant":"a b"}`), protocol.GroupErrBadField},
		{"state without fields", []byte(`{"type":"state"}`), protocol.GroupErrBadField},
		{"second join", []byte(`{"type":"join"}`), protocol.GroupErrBadField},
		{"server-to-client type", []byte(`{"type":"welcome"}`), protocol.GroupErrUnknownType},
	}
	for i, tc := range tests {
		if err := bad.SendRaw(tc.frame); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := nthError(t, bad, i+1); got.Code != tc.code || got.Message == "" {
			t.Fatalf("%s: error frame %+v, want code %q with a message", tc.name, got, tc.code)
		}
	}
	if st := h.sfu.Stats(); st.ErrorFrames < uint64(len(tests)) {
		t.Fatalf("ErrorFrames %d, want at least %d", st.ErrorFrames, len(tests))
	}

	// The same socket still works: state reaches the others, a good offer publishes.
	muted := true
	if err := bad.Send(protocol.GroupMessage{Type: protocol.GroupState, Muted: &muted}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.WaitFor(ctx, func(m protocol.GroupMessage) bool {
		for _, p := range m.Participants {
			if m.Type == protocol.GroupParticipants && p.ID == "bad" && p.Muted {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("b did not learn that bad is muted: %v", err)
	}
	h.publish(bad)
	before := snapshot(b, []string{"a"})
	testsync.Eventually(t, 20*time.Second, "b receiving a and bad", func() bool {
		return receivingFrom(b, []string{"a"}, before) && receivingFrom(b, []string{"bad"}, nil)
	})

	// A frame over the limit closes that socket, and only that one.
	big := append([]byte(`{"type":"view","participant":"`), make([]byte, protocol.MaxGroupFrameBytes)...)
	if err := bad.SendRaw(big); err != nil {
		t.Fatal(err)
	}
	// gorilla/websocket closes with 1009 as soon as the limit is passed.
	testsync.Eventually(t, 10*time.Second, "the oversized sender's socket closed", bad.SocketClosed)
	if code := bad.CloseCode(); code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized frame: close code %d, want %d", code, websocket.CloseMessageTooBig)
	}
	before = snapshot(b, []string{"a"})
	testsync.Eventually(t, 20*time.Second, "b still receiving a", func() bool { return receivingFrom(b, []string{"a"}, before) })
	testsync.Eventually(t, 10*time.Second, "bad gone from the room", func() bool { return h.sfu.Stats().Participants == 2 })
}

func TestNotJoinedAndRate(t *testing.T) {
	h := newHarness(t, Config{MessagesPerSecond: 1, MessageBurst: 5})
	ws, _, err := websocket.DefaultDialer.Dial(h.url("r", "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() protocol.GroupMessage {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m protocol.GroupMessage
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		return m
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"view","participant":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if m := read(); m.Type != protocol.GroupError || m.Code != protocol.GroupErrNotJoined {
		t.Fatalf("before join: %+v, want a not-joined error", m)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"join"}`)); err != nil {
		t.Fatal(err)
	}
	if m := read(); m.Type != protocol.GroupWelcome || m.ID != "x" || len(m.Participants) != 1 {
		t.Fatalf("join: %+v, want welcome for x alone", m)
	}
	for range 10 {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"view","participant":"a"}`)); err != nil {
			break
		}
	}
	for {
		m := read()
		if m.Type == protocol.GroupError && m.Code == protocol.GroupErrRate {
			break
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("socket still open after the rate error")
	}
}

func TestRoomAndServerFull(t *testing.T) {
	h := newHarness(t, Config{MaxPerRoom: 2, MaxTotal: 3})
	h.join("a", "a1", sfutest.Options{})
	a2 := h.join("a", "a2", sfutest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := sfutest.Dial(ctx, h.url("a", "a3"), sfutest.Options{})
	var refused *sfutest.RefusedError
	if !errorsAs(err, &refused) || refused.Code != protocol.GroupErrFull {
		t.Fatalf("third in a room of 2: %v, want a %q error", err, protocol.GroupErrFull)
	}
	h.join("b", "b1", sfutest.Options{})
	_, err = sfutest.Dial(ctx, h.url("b", "b2"), sfutest.Options{})
	if !errorsAs(err, &refused) || refused.Code != protocol.GroupErrFull || !strings.Contains(refused.Message, "server") {
		t.Fatalf("fourth on a server of 3: %v, want a %q error naming the server", err, protocol.GroupErrFull)
	}
	// Rejoining with a present id takes its place, counts once, and closes the old socket
	// with a bye that says why.
	h.join("a", "a2", sfutest.Options{})
	if st := h.sfu.Stats(); st.Participants != 3 {
		t.Fatalf("after a rejoin: %d participants, want 3", st.Participants)
	}
	if _, err := a2.WaitFor(ctx, func(m protocol.GroupMessage) bool {
		return m.Type == protocol.GroupBye && m.Code == protocol.GroupErrDuplicate
	}); err != nil {
		t.Fatalf("the replaced socket got no bye: %v", err)
	}
	testsync.Eventually(t, 5*time.Second, "the replaced socket closed", a2.SocketClosed)
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

// A browser-shaped simulcast offer (the shape Chromium sends: RED, RTX, VP9 and H264 beside
// VP8, extensions the SFU does not use) is answered with what the SFU needs: the three
// layers received, Opus, VP8, the audio level and simulcast extensions, and no codec it
// does not forward, nor RTX (pion v3 races on a simulcast layer's repair stream).
func TestBrowserShapedSimulcastOfferIsAnswered(t *testing.T) {
	offer, err := os.ReadFile("testdata/chrome-simulcast-offer.sdp")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{})
	c := h.join("chrome", "c", sfutest.Options{})
	mark := c.Mark()
	if err := c.Send(protocol.GroupMessage{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: string(offer)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.WaitFrom(ctx, mark, func(m protocol.GroupMessage) bool {
		return m.Type == protocol.GroupAnswer || m.Type == protocol.GroupError
	})
	if err != nil || m.Type != protocol.GroupAnswer || m.PC != protocol.PCUp {
		t.Fatalf("answer: %+v %v", m, err)
	}
	for _, want := range []string{
		"a=simulcast:recv q;h;f", "a=rid:q recv", "a=rid:f recv",
		"a=rtpmap:111 opus/48000/2", "a=rtpmap:96 VP8/90000",
		"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
		"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
		"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
		"a=rtcp-fb:96 goog-remb", "a=rtcp-fb:96 nack pli", "a=recvonly",
	} {
		if !strings.Contains(m.SDP, want) {
			t.Errorf("answer lacks %q", want)
		}
	}
	for _, unwanted := range []string{"H264", "VP9", "red/48000", "G722", "rtx/90000", "repaired-rtp-stream-id"} {
		if strings.Contains(m.SDP, unwanted) {
			t.Errorf("answer accepts %s, which the SFU does not forward", unwanted)
		}
	}
	if t.Failed() {
		t.Logf("answer:\n%s", m.SDP)
	}
}
