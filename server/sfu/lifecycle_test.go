package sfu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

func TestEveryoneLeavesNothingLeaks(t *testing.T) {
	h := newHarness(t, Config{})
	base := runtime.NumGoroutine()
	for round := range 2 {
		var clients []*sfutest.Client
		for i := range 3 {
			c := h.join("leak", fmt.Sprintf("r%dp%d", round, i), sfutest.Options{Audio: true, Layers: sfutest.DefaultLayers})
			h.publish(c)
			clients = append(clients, c)
		}
		for _, c := range clients {
			ids := others(clients, c)
			testsync.Eventually(t, 20*time.Second, c.ID+" receiving", func() bool { return receivingFrom(c, ids, nil) })
		}
		for _, c := range clients {
			c.Close()
		}
		testsync.Eventually(t, 10*time.Second, "the room gone", func() bool {
			st := h.sfu.Stats()
			return st.Rooms == 0 && st.Participants == 0
		})
		// What is left is the harness's (HTTP server, UDP mux): the SFU's goroutines and
		// pion's for both sides of every participant are gone.
		var n int
		testsync.Eventually(t, 20*time.Second, "goroutines back to the start", func() bool {
			n = runtime.NumGoroutine()
			return n <= base
		})
	}
}

func TestCloseEndsEveryRoom(t *testing.T) {
	h := newHarness(t, Config{})
	var clients []*sfutest.Client
	for i := range 4 {
		c := h.join(fmt.Sprintf("room%d", i%2), fmt.Sprintf("p%d", i), sfutest.Options{Audio: true, Layers: plainVideo})
		h.publish(c)
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.sfu.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, c := range clients {
		if _, err := c.WaitFor(ctx, func(m protocol.GroupMessage) bool {
			return m.Type == protocol.GroupBye && m.Code == protocol.GroupErrClosing
		}); err != nil {
			t.Fatalf("%s got no bye: %v", c.ID, err)
		}
		testsync.Eventually(t, 5*time.Second, c.ID+"'s socket closed", c.SocketClosed)
	}
	if st := h.sfu.Stats(); st.Rooms != 0 || st.Participants != 0 {
		t.Fatalf("after close: %+v", st)
	}
	_, err := sfutest.Dial(ctx, h.url("room0", "late"), sfutest.Options{})
	if err == nil {
		t.Fatal("a join after Close succeeded")
	}
}

func TestActiveSpeaker(t *testing.T) {
	h := newHarness(t, Config{Tick: 50 * time.Millisecond})
	var clients []*sfutest.Client
	for _, id := range []string{"s0", "s1", "s2"} {
		c := h.join("talk", id, sfutest.Options{Audio: true})
		h.publish(c)
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, speaker := range []*sfutest.Client{clients[1], clients[2]} {
		for _, c := range clients {
			c.SetAudioLevel(127)
		}
		speaker.SetAudioLevel(20)
		for _, c := range clients {
			if _, err := c.WaitFor(ctx, func(m protocol.GroupMessage) bool {
				return m.Type == protocol.GroupSpeaker && m.Participant == speaker.ID
			}); err != nil {
				t.Fatalf("%s never heard that %s speaks: %v", c.ID, speaker.ID, err)
			}
		}
	}
	// Nobody but the speakers was ever announced.
	for _, m := range clients[0].Messages() {
		if m.Type == protocol.GroupSpeaker && m.Participant == clients[0].ID {
			t.Fatalf("silent %s announced as speaker", clients[0].ID)
		}
	}
	// Someone who comes after the last change is told who speaks.
	late := h.join("talk", "s3", sfutest.Options{})
	if _, err := late.WaitFor(ctx, func(m protocol.GroupMessage) bool {
		return m.Type == protocol.GroupSpeaker && m.Participant == clients[2].ID
	}); err != nil {
		t.Fatalf("%s, who joined after %s took the mark, never heard that it speaks: %v", late.ID, clients[2].ID, err)
	}
}

func TestICETCP(t *testing.T) {
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{TCPListener: tcp, IncludeLoopback: true})
	a := h.join("tcp", "a", sfutest.Options{Audio: true, Layers: plainVideo, TCPOnly: true})
	b := h.join("tcp", "b", sfutest.Options{Audio: true, Layers: plainVideo, TCPOnly: true})
	h.publish(a)
	h.publish(b)
	testsync.Eventually(t, 30*time.Second, "media both ways over ICE-TCP", func() bool {
		return receivingFrom(a, []string{"b"}, nil) && receivingFrom(b, []string{"a"}, nil)
	})
}

func TestPublicIPInCandidates(t *testing.T) {
	h := newHarness(t, Config{PublicIPs: []string{"203.0.113.7"}})
	c := h.join("nat", "a", sfutest.Options{Audio: true})
	mark := c.Mark()
	// Publish fails to connect (nothing answers at 203.0.113.7) but returns with the answer.
	h.publish(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.WaitFrom(ctx, mark, func(m protocol.GroupMessage) bool { return m.Type == protocol.GroupAnswer })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.SDP, " 203.0.113.7 ") || strings.Contains(m.SDP, " 127.0.0.1 ") {
		t.Fatalf("answer candidates do not name only the public IP:\n%s", m.SDP)
	}
}

func TestConfigValidate(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{UDPConn: udp}, true},
		{"no UDP", Config{}, false},
		{"room of one", Config{UDPConn: udp, MaxPerRoom: 1}, false},
		{"room over the protocol's bound", Config{UDPConn: udp, MaxPerRoom: protocol.MaxGroupSize + 1}, false},
		{"total below a room", Config{UDPConn: udp, MaxPerRoom: 8, MaxTotal: 4}, false},
		{"bad public IP", Config{UDPConn: udp, PublicIPs: []string{"example.com"}}, false},
		{"pong before ping", Config{UDPConn: udp, PingInterval: time.Minute, PongTimeout: time.Second}, false},
		{"tiny cache", Config{UDPConn: udp, PacketCache: 8}, false},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestSocketLossResumeKeepsTheMedia(t *testing.T) {
	h := newHarness(t, Config{Grace: 5 * time.Second})
	a := h.join("resume", "a", sfutest.Options{Audio: true, Layers: plainVideo})
	b := h.join("resume", "b", sfutest.Options{Audio: true, Layers: plainVideo})
	h.publish(a)
	h.publish(b)
	testsync.Eventually(t, 20*time.Second, "media both ways", func() bool {
		return receivingFrom(a, []string{"b"}, nil) && receivingFrom(b, []string{"a"}, nil)
	})
	a.ResetGaps()
	b.ResetGaps()
	a.DropSocket()
	// While a has no socket its media still flows both ways and it is still listed.
	before := snapshot(b, []string{"a"})
	testsync.Eventually(t, 10*time.Second, "b receiving a without a's socket", func() bool { return receivingFrom(b, []string{"a"}, before) })
	if st := h.sfu.Stats(); st.Participants != 2 {
		t.Fatalf("%d participants while a's socket is down, want 2", st.Participants)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	welcome, err := a.Resume(ctx, h.url("resume", "a"))
	if err != nil || welcome.Type != protocol.GroupWelcome || !welcome.Resume || len(welcome.Participants) != 2 {
		t.Fatalf("resume: %+v %v, want a welcome with resume and 2 participants", welcome, err)
	}
	// The resumed socket carries the down renegotiation of a newcomer.
	c := h.join("resume", "c", sfutest.Options{Audio: true, Layers: plainVideo})
	h.publish(c)
	testsync.Eventually(t, 20*time.Second, "a receiving c through the resumed socket", func() bool {
		return receivingFrom(a, []string{"b", "c"}, nil)
	})
	for _, x := range []struct {
		c  *sfutest.Client
		id string
	}{{a, "b"}, {b, "a"}} {
		if r := x.c.Received(x.id); r.MaxAudioGap > time.Second || r.MaxVideoGap > time.Second {
			t.Errorf("%s from %s: gap audio %v video %v across the socket loss, want <= 1s", x.c.ID, x.id, r.MaxAudioGap, r.MaxVideoGap)
		}
	}
}

func TestSocketLossWithoutResumeLeavesAfterGrace(t *testing.T) {
	h := newHarness(t, Config{Grace: time.Second})
	a := h.join("grace", "a", sfutest.Options{Audio: true})
	b := h.join("grace", "b", sfutest.Options{})
	h.publish(a)
	testsync.Eventually(t, 20*time.Second, "b receiving a", func() bool { return b.Received("a").AudioPackets > 10 })
	lost := time.Now()
	a.DropSocket()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.WaitFor(ctx, func(m protocol.GroupMessage) bool {
		return m.Type == protocol.GroupParticipants && len(m.Participants) == 1
	}); err != nil {
		t.Fatalf("a never left: %v", err)
	}
	if waited := time.Since(lost); waited < time.Second {
		t.Fatalf("a left %v after its socket died, before the 1 s grace", waited)
	}
	testsync.Eventually(t, 5*time.Second, "the room down to b", func() bool { return h.sfu.Stats().Participants == 1 })
}

// The server binds its media port on every address (":port"), as the binary does: the UDP
// mux then names each interface's address in its candidates, and media flows.
func TestUnspecifiedUDPAddress(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{UDPConn: udp})
	a := h.join("any", "a", sfutest.Options{Audio: true, Layers: plainVideo})
	b := h.join("any", "b", sfutest.Options{})
	h.publish(a)
	testsync.Eventually(t, 20*time.Second, "b receiving a", func() bool { return receivingFrom(b, []string{"a"}, nil) })
}
