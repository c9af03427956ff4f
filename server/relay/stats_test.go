package relay

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/relaystate"
)

// walk counts the rooms and online clients by walking the clients map under the lock: the
// truth the counters Stats reads must agree with.
func (r *Relay) walk() (rooms, online int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range r.clients {
		if !seen[s.roomID] {
			seen[s.roomID] = true
			rooms++
		}
		online++
	}
	return rooms, online
}

// The counters follow the room map through registers, re-registers, takeovers, dropped
// sockets and removals.
func TestStatsCountersMatchRooms(t *testing.T) {
	state := relaystate.NewMemory(time.Minute)
	r := New(Config{State: state, Logger: slog.New(slog.DiscardHandler), DrainTimeout: 10 * time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(r.ServeWS))
	t.Cleanup(func() { srv.Close(); r.Close() })
	ctx := context.Background()
	for _, j := range []struct{ room, client string }{{"r1", "A"}, {"r1", "B"}, {"r2", "C"}} {
		if _, err := state.Rooms().Join(ctx, j.room, func() string { return j.client }); err != nil {
			t.Fatal(err)
		}
	}
	socks := map[string]*websocket.Conn{}
	t.Cleanup(func() {
		for _, ws := range socks {
			ws.Close()
		}
	})
	// Sockets outlive the step that opened them: they are closed with the test.
	register := func(t *testing.T, name, roomID, clientID string) {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		frame, _ := json.Marshal(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: clientID})
		if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			t.Fatal(err)
		}
		socks[name] = ws
	}
	steps := []struct {
		name          string
		do            func(t *testing.T)
		rooms, online int64
	}{
		{"A registers", func(t *testing.T) { register(t, "A", "r1", "A") }, 1, 1},
		{"B joins A", func(t *testing.T) { register(t, "B", "r1", "B") }, 1, 2},
		{"C in another room", func(t *testing.T) { register(t, "C", "r2", "C") }, 2, 3},
		{"B's socket drops", func(*testing.T) { socks["B"].Close() }, 2, 2},
		{"B registers again", func(t *testing.T) { register(t, "B", "r1", "B") }, 2, 3},
		{"A takes over on a second socket", func(t *testing.T) { register(t, "A2", "r1", "A") }, 2, 3},
		{"A's first socket closes after the takeover", func(*testing.T) { socks["A"].Close() }, 2, 3},
		{"C is deleted", func(*testing.T) { r.Delete(ctx, "r2", "C") }, 1, 2},
		{"C registers after its removal", func(t *testing.T) { register(t, "C2", "r2", "C") }, 1, 2},
		{"A and B drop", func(*testing.T) { socks["A2"].Close(); socks["B"].Close() }, 0, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			testsync.Eventually(t, 5*time.Second, "the walked rooms to match", func() bool {
				rooms, online := r.walk()
				return rooms == st.rooms && online == st.online
			})
			got := r.Stats()
			if got.Rooms != st.rooms || got.Online != st.online {
				t.Fatalf("Stats rooms %d online %d, walked %d and %d", got.Rooms, got.Online, st.rooms, st.online)
			}
		})
	}
}

// Stats and GET /status read counters only: they answer while another goroutine holds
// the relay's lock (which they would wait for if they took it).
func TestStatsTakeNoLock(t *testing.T) {
	r := New(Config{})
	for _, tt := range []struct {
		name string
		call func()
	}{
		{"Stats", func() { r.Stats() }},
		{"GET /status", func() { r.ServeStatus(httptest.NewRecorder(), httptest.NewRequest("GET", "/status", nil)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r.mu.Lock()
			defer r.mu.Unlock()
			done := make(chan struct{})
			go func() { tt.call(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second): // a hang guard, not a measurement
				t.Fatal("blocked on the relay's lock")
			}
		})
	}
}

// Many registers and drops while Stats is read all along (under -race): the reads never
// race the writers, and the counters end equal to the walk.
func TestStatsConcurrentWithChurn(t *testing.T) {
	state := relaystate.NewMemory(time.Minute)
	r := New(Config{State: state, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(http.HandlerFunc(r.ServeWS))
	t.Cleanup(func() { srv.Close(); r.Close() })
	ctx := context.Background()
	const rooms = 20
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if st := r.Stats(); st.Rooms < 0 || st.Online < 0 || st.Online > 2*st.Rooms+2*rooms {
					t.Errorf("impossible stats %+v", st)
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var kept []*websocket.Conn
	for i := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roomID := "room" + string(rune('a'+i))
			for _, id := range []string{"x", "y"} {
				if _, err := state.Rooms().Join(ctx, roomID, func() string { return id }); err != nil {
					t.Error(err)
					return
				}
				ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				frame, _ := json.Marshal(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: roomID, ClientID: id})
				if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 && id == "y" {
					ws.Close() // every other room loses one socket
					continue
				}
				mu.Lock()
				kept = append(kept, ws)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	testsync.Eventually(t, 10*time.Second, "every register and drop to land", func() bool {
		rooms, online := r.walk()
		return rooms == 20 && online == 30
	})
	close(stop)
	readers.Wait()
	if st := r.Stats(); st.Rooms != 20 || st.Online != 30 {
		t.Fatalf("Stats rooms %d online %d, want 20 and 30 as walked", st.Rooms, st.Online)
	}
	for _, ws := range kept {
		ws.Close()
	}
	testsync.Eventually(t, 10*time.Second, "every socket to go", func() bool { rooms, online := r.walk(); return rooms == 0 && online == 0 })
	if st := r.Stats(); st.Rooms != 0 || st.Online != 0 {
		t.Fatalf("Stats rooms %d online %d after every socket closed", st.Rooms, st.Online)
	}
}
