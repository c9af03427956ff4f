package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/relaystate"
	roomtable "github.com/onertc/onertc/server/room"
)

// rig is one relay on a state of either kind, served over real WebSockets, with the room
// table the state sits on.
type rig struct {
	relay *Relay
	state relaystate.State
	rooms roomtable.Store
	url   string // of the relay socket
	http  string // of the HTTP server
}

// stateKind builds the states of n instances sharing one room table, fresh, whose offline
// clients are removed after grace. A state of this process's alone (memory) has one
// instance whatever n.
type stateKind struct {
	name string
	new  func(grace time.Duration, n int) ([]relaystate.State, roomtable.Store)
}

var prefixes atomic.Int32

// stateKinds are Memory and Redis on a real redis-server (one for the whole test, each rig
// under a key prefix of its own).
func stateKinds(t *testing.T) []stateKind {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	return []stateKind{
		{"memory", func(grace time.Duration, _ int) ([]relaystate.State, roomtable.Store) {
			m := relaystate.NewMemory(grace)
			return []relaystate.State{m}, m.Rooms()
		}},
		{"redis", func(grace time.Duration, n int) ([]relaystate.State, roomtable.Store) {
			prefix := fmt.Sprintf("rt%d:", prefixes.Add(1))
			rooms := roomtable.NewRedis(rdb, prefix)
			var states []relaystate.State
			for i := range n {
				states = append(states, relaystate.NewRedis(rdb, rooms, prefix, fmt.Sprint("i", i), grace))
			}
			return states, rooms
		}},
	}
}

func newRig(t *testing.T, kind stateKind, cfg Config) *rig {
	t.Helper()
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	states, rooms := kind.new(cfg.Grace, 1)
	return serveRig(t, states[0], rooms, cfg)
}

// serveRig serves a relay on state until the test ends.
func serveRig(t *testing.T, state relaystate.State, rooms roomtable.Store, cfg Config) *rig {
	t.Helper()
	cfg.State, cfg.Logger = state, slog.New(slog.DiscardHandler)
	rg := &rig{relay: New(cfg), state: state, rooms: rooms}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", rg.relay.ServeWS)
	mux.HandleFunc("/collider/{room}/{client}", rg.relay.ServeCollider)
	mux.HandleFunc("GET /status", rg.relay.ServeStatus)
	hs := httptest.NewServer(mux)
	rg.http = hs.URL
	rg.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rg.relay.Run(ctx) }()
	t.Cleanup(func() {
		hs.Close()
		rg.relay.Close()
		cancel()
		<-done
	})
	return rg
}

// join puts clientID in the room table and arms its grace period, as POST /join does.
func (rg *rig) join(t *testing.T, roomID, clientID string) roomtable.Joined {
	t.Helper()
	j, err := rg.rooms.Join(context.Background(), roomID, func() string { return clientID })
	if err != nil {
		t.Fatalf("join %s as %s: %v", roomID, clientID, err)
	}
	if err := rg.relay.Expect(roomID, clientID); err != nil {
		t.Fatalf("expect %s: %v", clientID, err)
	}
	return j
}

// peer is one client's socket: a reader goroutine answers pings (gorilla's default) and
// passes on the frames.
type peer struct {
	ws     *websocket.Conn
	frames chan protocol.RelayFrame
	ended  chan struct{}
	err    error // why the socket ended, once ended is closed
}

func (rg *rig) dial(t *testing.T) *peer {
	t.Helper()
	return rg.dialWith(t, nil)
}

// dialWith dials a socket and has setup, when not nil, adjust it before it is read.
func (rg *rig) dialWith(t *testing.T, setup func(*websocket.Conn)) *peer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(rg.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if setup != nil {
		setup(ws)
	}
	t.Cleanup(func() { ws.Close() })
	p := &peer{ws: ws, frames: make(chan protocol.RelayFrame, 4096), ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		for {
			var f protocol.RelayFrame
			if err := ws.ReadJSON(&f); err != nil {
				p.err = err
				return
			}
			p.frames <- f
		}
	}()
	return p
}

func (rg *rig) register(t *testing.T, roomID, clientID string) *peer {
	t.Helper()
	p := rg.dial(t)
	p.write(t, protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: clientID})
	return p
}

func (p *peer) write(t *testing.T, req protocol.RelayRequest) {
	t.Helper()
	if err := p.ws.WriteJSON(req); err != nil {
		t.Fatalf("write %+v: %v", req, err)
	}
}

func (p *peer) send(t *testing.T, msg string) {
	t.Helper()
	p.write(t, protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: msg})
}

const frameWait = 5 * time.Second

// expect reads the next frames and wants them to carry msgs, in order.
func (p *peer) expect(t *testing.T, msgs ...string) {
	t.Helper()
	for _, want := range msgs {
		select {
		case f := <-p.frames:
			if f.Msg != want || f.Error != "" {
				t.Fatalf("frame %+v, want message %q", f, want)
			}
		case <-p.ended:
			t.Fatalf("socket ended (%v) before %q", p.err, want)
		case <-time.After(frameWait):
			t.Fatalf("no %q within %v", want, frameWait)
		}
	}
}

// expectError reads the next frame and wants it to be the error errText.
func (p *peer) expectError(t *testing.T, errText string) {
	t.Helper()
	select {
	case f := <-p.frames:
		if f.Error != errText || f.Msg != "" {
			t.Fatalf("frame %+v, want error %q", f, errText)
		}
	case <-time.After(frameWait):
		t.Fatalf("no error %q within %v", errText, frameWait)
	}
}

// expectEnd waits for the socket to end with a close frame of code.
func (p *peer) expectEnd(t *testing.T, code int) {
	t.Helper()
	select {
	case <-p.ended:
		if !websocket.IsCloseError(p.err, code) {
			t.Fatalf("socket ended with %v, want close %d", p.err, code)
		}
	case <-time.After(frameWait):
		t.Fatalf("socket still open after %v, want close %d", frameWait, code)
	}
}

// quiet wants no frame for a moment: what would arrive is already on its way.
func (p *peer) quiet(t *testing.T) {
	t.Helper()
	select {
	case f := <-p.frames:
		t.Fatalf("unexpected frame %+v", f)
	case <-time.After(200 * time.Millisecond):
	}
}

// online waits until the relay holds n registered sockets.
func (rg *rig) online(t *testing.T, n int64) {
	t.Helper()
	testsync.Eventually(t, frameWait, fmt.Sprintf("%d sockets online", n), func() bool { return rg.relay.Stats().Online == n })
}

// TestRelay is the relay's behaviour, the same against each kind of state: the relay has
// one code path, and the state its contract.
func TestRelay(t *testing.T) {
	kinds := stateKinds(t)
	for _, tt := range []struct {
		name string
		cfg  Config
		run  func(t *testing.T, rg *rig)
	}{
		{"register and send both ways", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a, b := rg.register(t, "r", "A"), rg.register(t, "r", "B")
			rg.online(t, 2)
			a.send(t, "offer")
			b.expect(t, "offer")
			b.send(t, "answer")
			a.expect(t, "answer")
			testsync.Eventually(t, frameWait, "both messages confirmed", func() bool {
				return rg.relay.Stats().Relayed == 2 && rg.relay.Pending("r", "A") == 0 && rg.relay.Pending("r", "B") == 0
			})
		}},
		{"a stream is confirmed whole, and the next socket is written none of it again", Config{}, func(t *testing.T, rg *rig) {
			// Pongs that come while the writer runs are trimmed by its next fetch, the
			// others by the reader: either way every message leaves the queue.
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a, b := rg.register(t, "r", "A"), rg.register(t, "r", "B")
			rg.online(t, 2)
			const n = 300
			for i := range n {
				a.send(t, fmt.Sprint("m", i))
			}
			for i := range n {
				b.expect(t, fmt.Sprint("m", i))
			}
			testsync.Eventually(t, frameWait, "the stream confirmed", func() bool {
				return rg.relay.Stats().Relayed == n && rg.relay.Pending("r", "B") == 0
			})
			b.ws.Close()
			rg.online(t, 1)
			b2 := rg.register(t, "r", "B")
			rg.online(t, 2)
			b2.quiet(t)
			a.send(t, "after")
			b2.expect(t, "after")
		}},
		{"queued while the peer is away, in order", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a := rg.register(t, "r", "A")
			rg.online(t, 1)
			for i := range 100 {
				a.send(t, fmt.Sprint("m", i))
			}
			testsync.Eventually(t, frameWait, "100 queued", func() bool { return rg.relay.Stats().Queued == 100 })
			b := rg.register(t, "r", "B")
			for i := range 100 {
				b.expect(t, fmt.Sprint("m", i))
			}
			b.quiet(t)
		}},
		{"alone: the mailbox goes to the next joiner", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			a := rg.register(t, "r", "A")
			a.send(t, "offer")
			testsync.Eventually(t, frameWait, "stored", func() bool { return rg.relay.Stats().Queued == 1 })
			if j := rg.join(t, "r", "B"); strings.Join(j.Messages, ",") != "offer" {
				t.Fatalf("B joined with %q, want the offer", j.Messages)
			}
		}},
		{"grace: a socket that drops and comes back gets what was sent meanwhile", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a, b := rg.register(t, "r", "A"), rg.register(t, "r", "B")
			rg.online(t, 2)
			b.ws.Close()
			rg.online(t, 1)
			a.send(t, "while away")
			b2 := rg.register(t, "r", "B")
			b2.expect(t, "while away")
		}},
		{"grace: a client that stays away is removed, and its peer's message goes to the mailbox", Config{Grace: 300 * time.Millisecond}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a := rg.register(t, "r", "A")
			rg.online(t, 1)
			a.send(t, "for B")
			testsync.Eventually(t, frameWait, "B reaped", func() bool { return rg.relay.Stats().Removed == 1 })
			if n, err := rg.rooms.Occupancy(context.Background(), "r"); err != nil || n != 1 {
				t.Fatalf("occupancy after the reap = %d, %v; want 1", n, err)
			}
			late := rg.register(t, "r", "B")
			late.expectError(t, protocol.ErrTextUnknownClient)
			late.expectEnd(t, websocket.CloseNormalClosure)
			if j := rg.join(t, "r", "C"); strings.Join(j.Messages, ",") != "for B" {
				t.Fatalf("C joined with %q, want what B was never written", j.Messages)
			}
		}},
		{"takeover: a second socket of the client replaces the first", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a, b1 := rg.register(t, "r", "A"), rg.register(t, "r", "B")
			rg.online(t, 2)
			b2 := rg.register(t, "r", "B")
			b1.expectError(t, protocol.ErrTextDuplicateClient)
			b1.expectEnd(t, websocket.CloseNormalClosure)
			a.send(t, "to the new socket")
			b2.expect(t, "to the new socket")
			rg.online(t, 2)
			if st := rg.relay.Stats(); st.Rooms != 1 {
				t.Fatalf("rooms = %d, want 1", st.Rooms)
			}
		}},
		{"leave: a DELETEd client's bye still reaches its peer, then its socket closes", Config{DrainTimeout: 300 * time.Millisecond}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a, b := rg.register(t, "r", "A"), rg.register(t, "r", "B")
			rg.online(t, 2)
			rg.relay.Delete(context.Background(), "r", "A")
			a.send(t, `{"type":"bye"}`)
			b.expect(t, `{"type":"bye"}`)
			a.expectEnd(t, websocket.CloseNormalClosure)
			if n, _ := rg.rooms.Occupancy(context.Background(), "r"); n != 1 {
				t.Fatalf("occupancy after the leave = %d, want 1", n)
			}
			if err := rg.relay.Send(context.Background(), "r", "A", "after leaving"); !errors.Is(err, ErrUnknownClient) {
				t.Fatalf("send as the removed A = %v, want ErrUnknownClient", err)
			}
		}},
		{"leave: what the leaver was never written goes to the next joiner", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			b := rg.register(t, "r", "B")
			rg.online(t, 1)
			b.send(t, "never read")
			testsync.Eventually(t, frameWait, "queued for A", func() bool { return rg.relay.Stats().Queued == 1 })
			rg.relay.Delete(context.Background(), "r", "A")
			if st := rg.relay.Stats(); st.Removed != 1 || st.HandedOff != 1 {
				t.Fatalf("removed %d handed off %d, want 1 and 1", st.Removed, st.HandedOff)
			}
			if j := rg.join(t, "r", "C"); strings.Join(j.Messages, ",") != "never read" {
				t.Fatalf("C joined with %q", j.Messages)
			}
		}},
		{"errors: unknown client, not registered, bad command, too large, queue full", Config{}, func(t *testing.T, rg *rig) {
			stranger := rg.register(t, "r", "nobody")
			stranger.expectError(t, protocol.ErrTextUnknownClient)
			stranger.expectEnd(t, websocket.CloseNormalClosure)
			if err := rg.relay.Send(context.Background(), "r", "nobody", "x"); !errors.Is(err, ErrUnknownClient) {
				t.Fatalf("Send as a stranger = %v, want ErrUnknownClient", err)
			}
			unregistered := rg.dial(t)
			unregistered.send(t, "x")
			unregistered.expectError(t, protocol.ErrTextNotRegistered)

			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a := rg.register(t, "r", "A")
			rg.online(t, 1)
			a.write(t, protocol.RelayRequest{Cmd: "bogus"})
			a.expectError(t, protocol.ErrTextUnexpectedCmd)
			if err := rg.relay.Send(context.Background(), "r", "A", strings.Repeat("x", protocol.MaxMessageBytes+1)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Send too large = %v, want ErrTooLarge", err)
			}
			for i := range protocol.MaxQueuedPerSender {
				if err := rg.relay.Send(context.Background(), "r", "A", "q"); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			if err := rg.relay.Send(context.Background(), "r", "A", "one too many"); !errors.Is(err, ErrQueueFull) {
				t.Fatalf("Send over the queue bound = %v, want ErrQueueFull", err)
			}
			// The socket is told and stays usable.
			a.send(t, "one too many")
			a.expectError(t, ErrQueueFull.Error())
			b := rg.register(t, "r", "B")
			for range protocol.MaxQueuedPerSender {
				b.expect(t, "q")
			}
			// Until B's pongs confirm them, the backlog fills B's queue still.
			testsync.Eventually(t, frameWait, "the backlog confirmed", func() bool { return rg.relay.Pending("r", "B") == 0 })
			a.send(t, "after the backlog")
			b.expect(t, "after the backlog")
		}},
		{"close: every socket is told going away, and nothing new is taken", Config{}, func(t *testing.T, rg *rig) {
			rg.join(t, "r", "A")
			a := rg.register(t, "r", "A")
			rg.online(t, 1)
			rg.relay.Close()
			a.expectEnd(t, websocket.CloseGoingAway)
			if err := rg.relay.Send(context.Background(), "r", "A", "x"); !errors.Is(err, ErrClosed) {
				t.Fatalf("Send after Close = %v, want ErrClosed", err)
			}
			if err := rg.relay.Expect("r", "A"); !errors.Is(err, ErrClosed) {
				t.Fatalf("Expect after Close = %v, want ErrClosed", err)
			}
		}},
	} {
		for _, kind := range kinds {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				tt.run(t, newRig(t, kind, tt.cfg))
			})
		}
	}
}

// TestRelayDrain: at shutdown the state says when the sockets may close and whether their
// calls go on elsewhere. Shared (Redis) the clients re-register on another instance, so
// only the notice is waited; alone (memory) the calls must end here first. Either way the
// sockets then close with 1001, and messages written before are not lost.
func TestRelayDrain(t *testing.T) {
	const notice = 400 * time.Millisecond
	for _, kind := range stateKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			rg := newRig(t, kind, Config{DrainTimeout: 50 * time.Millisecond})
			rg.join(t, "r", "A")
			rg.join(t, "r", "B")
			a, b := rg.register(t, "r", "A"), rg.register(t, "r", "B")
			rg.online(t, 2)
			start := time.Now()
			result := make(chan bool, 1)
			go func() { result <- rg.relay.Drain(context.Background(), notice) }()
			// The call goes on during the drain.
			a.send(t, "during the drain")
			b.expect(t, "during the drain")
			var movedOn bool
			if kind.name == "memory" {
				select {
				case <-result:
					t.Fatal("Drain returned while a call was in progress in memory mode")
				case <-time.After(2 * notice):
				}
				rg.relay.Delete(context.Background(), "r", "A")
				rg.relay.Delete(context.Background(), "r", "B")
				movedOn = <-result
				if movedOn {
					t.Fatal("memory mode: Drain says the calls went on elsewhere")
				}
			} else {
				movedOn = <-result
				if took := time.Since(start); !movedOn || took < notice {
					t.Fatalf("redis mode: Drain = %v after %v, want true after the %v notice", movedOn, took, notice)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), frameWait)
			defer cancel()
			if err := rg.relay.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			rg.relay.Close()
			for _, p := range []*peer{a, b} {
				select {
				case <-p.ended:
					// memory: closed after the DELETE's drain timeout, or going away
					if !websocket.IsCloseError(p.err, websocket.CloseGoingAway, websocket.CloseNormalClosure) {
						t.Fatalf("socket ended with %v", p.err)
					}
					if movedOn && !websocket.IsCloseError(p.err, websocket.CloseGoingAway) {
						t.Fatalf("socket of a call that goes on elsewhere ended with %v, want 1001", p.err)
					}
				case <-time.After(frameWait):
					t.Fatal("socket not closed after the drain")
				}
			}
		})
	}
}
