package server

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// The whole call of docs/protocol.md section 7, then the ghost and hand-off rules.
func TestCallFlowGhostAndHandoff(t *testing.T) {
	callFlow(t, single(startServer(t, func(c *Config) { c.RelayGrace = 300 * time.Millisecond })))
}

// The same with three instances on Redis, every request and socket on another instance.
func TestSharedCallFlowGhostAndHandoff(t *testing.T) {
	callFlow(t, startFleet(t, 3, func(c *Config) { c.RelayGrace = 300 * time.Millisecond }))
}

// And on Valkey.
func TestValkeyCallFlowGhostAndHandoff(t *testing.T) {
	callFlow(t, startFleetOn(t, redistest.StartValkey(t), 3, func(c *Config) { c.RelayGrace = 300 * time.Millisecond }))
}

// And on a Redis Cluster (--redis-cluster): each room's scripts run on its own slot's node,
// the instances' keys and wake-ups on others.
func TestClusterCallFlowGhostAndHandoff(t *testing.T) {
	callFlow(t, startClusterFleet(t, 3, func(c *Config) { c.RelayGrace = 300 * time.Millisecond }))
}

func callFlow(t *testing.T, f *fleet) {
	ts := f.next
	a := ts().join(t, "call")
	wsA := ts().dial(t)
	wsA.register("call", a.ClientID)
	for _, m := range []string{"offer", "candA"} {
		if r := ts().message(t, "call", a.ClientID, m); r != "SUCCESS" {
			t.Fatalf("message alone = %s", r)
		}
	}
	b := ts().join(t, "call")
	if b.IsInitiator != "false" || strings.Join(b.Messages, ",") != "offer,candA" {
		t.Fatalf("B join: initiator %q messages %q", b.IsInitiator, b.Messages)
	}
	wsB := ts().dial(t)
	wsB.register("call", b.ClientID)
	wsB.sendMsg("answer")
	wsA.expectMsg("answer")
	if r := ts().message(t, "call", a.ClientID, "candA2"); r != "SUCCESS" {
		t.Fatalf("message with two = %s", r)
	}
	wsB.expectMsg("candA2")

	// A's tab closes: only the socket goes (no /leave, no DELETE). B re-offers while A is
	// in its grace period; those messages are handed to the room mailbox when A is dropped.
	wsA.conn.Close()
	testsync.Eventually(t, 5*time.Second, "A offline", func() bool { return f.online() == 1 })
	if r := ts().message(t, "call", b.ClientID, "reoffer"); r != "SUCCESS" {
		t.Fatalf("re-offer = %s", r)
	}
	wsB.sendMsg("reoffer-cand")
	testsync.Eventually(t, 5*time.Second, "ghost A removed from the room", func() bool { return ts().occupancy(t, "call") == 1 })
	// B alone now: straight into its mailbox.
	if r := ts().message(t, "call", b.ClientID, "after-ghost"); r != "SUCCESS" {
		t.Fatalf("message after ghost = %s", r)
	}

	c := ts().join(t, "call")
	if c.IsInitiator != "false" || strings.Join(c.Messages, ",") != "reoffer,reoffer-cand,after-ghost" {
		t.Fatalf("newcomer: initiator %q messages %q", c.IsInitiator, c.Messages)
	}
	wsC := ts().dial(t)
	wsC.register("call", c.ClientID)
	wsC.expectNothing(100 * time.Millisecond) // nothing flushed twice onto the socket
	wsC.sendMsg("answer2")
	wsB.expectMsg("answer2")

	// Hang-up as AppRTC does it: /leave, bye on the socket, close, DELETE.
	if status, body := ts().post(t, "/leave/call/"+b.ClientID, ""); status != 200 || body != "" {
		t.Fatalf("leave = %d %q", status, body)
	}
	wsB.sendMsg(`{"type":"bye"}`)
	wsC.expectMsg(`{"type":"bye"}`)
	if n := ts().occupancy(t, "call"); n != 1 {
		t.Fatalf("occupancy after leave = %d", n)
	}
	d := ts().join(t, "call")
	if d.IsInitiator != "false" {
		t.Fatalf("D joined as initiator %q", d.IsInitiator)
	}
}

// A client that joins and never opens its socket does not hold the room.
func TestJoinWithoutRegisterIsForgotten(t *testing.T) {
	joinWithoutRegister(t, single(startServer(t, func(c *Config) { c.RelayGrace = 200 * time.Millisecond })))
}

func TestSharedJoinWithoutRegisterIsForgotten(t *testing.T) {
	joinWithoutRegister(t, startFleet(t, 3, func(c *Config) { c.RelayGrace = 200 * time.Millisecond }))
}

func joinWithoutRegister(t *testing.T, f *fleet) {
	ts := f.next
	ts().join(t, "idle")
	ts().join(t, "idle")
	if n := ts().occupancy(t, "idle"); n != 2 {
		t.Fatalf("occupancy %d", n)
	}
	testsync.Eventually(t, 5*time.Second, "both silent joiners removed", func() bool { return ts().occupancy(t, "idle") == 0 })
}

// Hundreds of rooms at once, with sequence-numbered messages in both directions: sent while
// the peer has not joined (mailbox), has joined but not registered (queue), is connected,
// and is reconnecting within the grace period. Every stream must arrive whole and in order.
func TestRelayManyRoomsNoLossNoDupNoReorder(t *testing.T) {
	rooms := 200
	if testing.Short() {
		rooms = 40
	}
	// The grace period must outlast the slowest join-to-register of 200 rooms at once on a
	// loaded 2-core machine under -race (seconds); nothing here waits for it to end. A
	// register that comes later is refused, which TestLateRegisterAfterGraceIsRefused covers.
	manyRooms(t, rooms, single(startServer(t, func(c *Config) { c.RelayGrace = time.Minute })))
}

// The same over three instances on Redis: each request and socket on another instance, so
// B's cut socket re-registers on another instance mid-stream.
func TestSharedManyRoomsNoLossNoDupNoReorder(t *testing.T) {
	rooms := 200
	if testing.Short() {
		rooms = 40
	}
	manyRooms(t, rooms, startFleet(t, 3, func(c *Config) { c.RelayGrace = time.Minute }))
}

func manyRooms(t *testing.T, rooms int, f *fleet) {
	ts := f.next
	const perPhase = 5
	var wg sync.WaitGroup
	for i := 0; i < rooms; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t := testsync.Goroutine(t) // helpers that fail end this goroutine, not the test's
			roomID := fmt.Sprintf("many-%d", i)
			var sentA, sentB int
			nextA := func() string { sentA++; return "A" + strconv.Itoa(sentA-1) }
			nextB := func() string { sentB++; return "B" + strconv.Itoa(sentB-1) }

			a := ts().join(t, roomID)
			wsA := ts().dial(t)
			wsA.register(roomID, a.ClientID)
			// Each sender keeps to one channel, as AppRTC clients do (order across two
			// channels of one sender is not defined); rooms vary which one.
			sendA := func() {
				if i%2 == 0 {
					if r := ts().message(t, roomID, a.ClientID, nextA()); r != "SUCCESS" {
						t.Errorf("room %d: /message = %s", i, r)
					}
					return
				}
				wsA.sendMsg(nextA())
			}
			var wsB *wsClient
			var bID string
			sendB := func() {
				switch i % 3 {
				case 0:
					wsB.sendMsg(nextB())
				case 1:
					if r := ts().message(t, roomID, bID, nextB()); r != "SUCCESS" {
						t.Errorf("room %d: /message = %s", i, r)
					}
				case 2:
					if status, _ := ts().post(t, "/collider/"+roomID+"/"+bID, nextB()); status != 200 {
						t.Errorf("room %d: POST /collider = %d", i, status)
					}
				}
			}
			for j := 0; j < perPhase; j++ { // alone: mailbox
				sendA()
			}
			b := ts().join(t, roomID)
			bID = b.ClientID
			gotB := append([]string(nil), b.Messages...)
			for j := 0; j < perPhase; j++ { // B joined, not registered: queued
				sendA()
			}
			wsB = ts().dial(t)
			wsB.register(roomID, b.ClientID)
			for j := 0; j < perPhase; j++ { // both connected
				sendA()
				sendB()
			}
			// Drain what B has so far, then cut its socket and keep A sending.
			// read takes the next message for who; an error frame or a stall ends the room.
			read := func(who string, ws *wsClient, got *[]string, sent int) bool {
				f, ok := ws.tryNext(5 * time.Second)
				switch {
				case !ok:
					t.Errorf("room %d: %s stuck after %q (sent %d)", i, who, *got, sent)
				case f.Error != "":
					t.Errorf("room %d: %s got error %q after %q (sent %d)", i, who, f.Error, *got, sent)
				default:
					*got = append(*got, f.Msg)
				}
				return ok && f.Error == ""
			}
			for len(gotB) < 3*perPhase {
				if !read("B", wsB, &gotB, sentA) {
					return
				}
			}
			// Every message B read is confirmed (its pong came back); then the cut, which
			// the server does not see at once: what A sends next may be written into the
			// dead connection and must come again on B's next socket.
			testsync.Eventually(t, 5*time.Second, "B's messages confirmed", func() bool { return f.pending(roomID, bID) == 0 })
			wsB.conn.Close()
			for j := 0; j < perPhase; j++ {
				sendA()
			}
			wsB = f.otherThan(wsB.server).dial(t)
			wsB.register(roomID, b.ClientID)
			for j := 0; j < perPhase; j++ {
				sendA()
				sendB()
			}
			for len(gotB) < sentA {
				if !read("B", wsB, &gotB, sentA) {
					return
				}
			}
			var gotA []string
			for len(gotA) < sentB {
				if !read("A", wsA, &gotA, sentB) {
					return
				}
			}
			check := func(who string, got []string, prefix string, n int) {
				if len(got) != n {
					t.Errorf("room %d: %s got %d messages, want %d", i, who, len(got), n)
					return
				}
				for k, m := range got {
					if m != prefix+strconv.Itoa(k) {
						t.Errorf("room %d: %s message %d = %q, want %s%d (all: %q)", i, who, k, m, prefix, k, got)
						return
					}
				}
			}
			check("B", gotB, "A", sentA)
			check("A", gotA, "B", sentB)
			if f, ok := wsA.tryNext(20 * time.Millisecond); ok {
				t.Errorf("room %d: A got an extra frame %+v", i, f)
			}
			if f, ok := wsB.tryNext(20 * time.Millisecond); ok {
				t.Errorf("room %d: B got an extra frame %+v", i, f)
			}
		}(i)
	}
	wg.Wait()
	for _, ts := range f.servers {
		if st := ts.relay.Stats(); st.Dropped != 0 {
			t.Fatalf("relay dropped %d messages", st.Dropped)
		}
	}
}

// A client whose grace period ended is out of the room table AND the relay: coming back late
// on the relay is refused with a clear error, and the room works for everyone else. Before
// the fix, the late register re-created the client in the relay only: its peer's messages
// went to the room mailbox instead of to it, and a newcomer got SUCCESS from /join but
// "Max room capacity reached" on register.
func TestLateRegisterAfterGraceIsRefused(t *testing.T) {
	tests := []struct {
		name string
		// away makes B absent from the relay: it never registers, or its socket drops.
		away func(t *testing.T, ts *testServer, roomID, bID string)
	}{
		{"joined and never registered in time", func(*testing.T, *testServer, string, string) {}},
		{"socket dropped and stayed away", func(t *testing.T, ts *testServer, roomID, bID string) {
			ws := ts.dial(t)
			ws.register(roomID, bID)
			testsync.Eventually(t, 5*time.Second, "B online", func() bool { return ts.relay.Stats().Online == 2 })
			ws.conn.Close()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) { c.RelayGrace = 300 * time.Millisecond })
			const roomID = "late"
			a := ts.join(t, roomID)
			wsA := ts.dial(t)
			wsA.register(roomID, a.ClientID)
			b := ts.join(t, roomID)
			tt.away(t, ts, roomID, b.ClientID)
			testsync.Eventually(t, 5*time.Second, "B removed after the grace period", func() bool { return ts.occupancy(t, roomID) == 1 })
			testsync.Eventually(t, 5*time.Second, "relay holds A alone", func() bool { st := ts.relay.Stats(); return st.Rooms == 1 && st.Online == 1 })

			late := ts.dial(t)
			late.register(roomID, b.ClientID)
			if f := late.next(); f.Error != protocol.ErrTextUnknownClient || f.Msg != "" {
				t.Fatalf("late register = %+v, want error %q", f, protocol.ErrTextUnknownClient)
			}
			late.expectClosed()
			if r := ts.message(t, roomID, b.ClientID, "from B"); r != protocol.ResultUnknownClient {
				t.Fatalf("/message from the removed B = %s, want %s", r, protocol.ResultUnknownClient)
			}
			if n := ts.occupancy(t, roomID); n != 1 {
				t.Fatalf("occupancy after the late register = %d, want 1", n)
			}

			// A, alone, keeps talking: it reaches the newcomer through its /join.
			wsA.sendMsg("offer-again")
			testsync.Eventually(t, 5*time.Second, "A's message stored", func() bool { return ts.relay.Stats().Queued >= 1 })
			c := ts.join(t, roomID)
			if c.IsInitiator != "false" || strings.Join(c.Messages, ",") != "offer-again" {
				t.Fatalf("newcomer: initiator %q messages %q", c.IsInitiator, c.Messages)
			}
			wsC := ts.dial(t)
			wsC.register(roomID, c.ClientID)
			wsC.sendMsg("answer")
			wsA.expectMsg("answer")
			if r := ts.message(t, roomID, a.ClientID, "cand"); r != protocol.ResultSuccess {
				t.Fatalf("/message from A = %s", r)
			}
			wsC.expectMsg("cand")
			wsC.expectNothing(50 * time.Millisecond)
			if st := ts.relay.Stats(); st.Online != 2 || st.Rooms != 1 || ts.occupancy(t, roomID) != 2 {
				t.Fatalf("relay %+v, room table %d: they must agree on two clients", st, ts.occupancy(t, roomID))
			}
		})
	}
}

// TestByeAndLeaveWithRealIDs: /bye (AppRTC's old alias) and /leave remove a client that is
// in the room: the room has a free place again, the one who left can no longer send, and
// a newcomer takes the free place.
func TestByeAndLeaveWithRealIDs(t *testing.T) {
	for _, route := range []string{"bye", "leave"} {
		t.Run(route, func(t *testing.T) {
			ts := startServer(t, nil)
			room := "real-" + route
			a, b := ts.join(t, room), ts.join(t, room)
			if n := ts.occupancy(t, room); n != 2 {
				t.Fatalf("occupancy %d after two joins", n)
			}
			ts.leave(t, route, room, a.ClientID)
			testsync.Eventually(t, 5*time.Second, "one left in the room", func() bool { return ts.occupancy(t, room) == 1 })
			if res := ts.message(t, room, a.ClientID, `{"type":"bye"}`); res != protocol.ResultUnknownClient {
				t.Errorf("message from the client who left = %s, want %s", res, protocol.ResultUnknownClient)
			}
			if c := ts.join(t, room); c.IsInitiator != "false" || c.RoomID != room {
				t.Errorf("newcomer after %s: %+v", route, c)
			}
			ts.leave(t, route, room, b.ClientID)
			testsync.Eventually(t, 5*time.Second, "one left after b went", func() bool { return ts.occupancy(t, room) == 1 })
		})
	}
}
