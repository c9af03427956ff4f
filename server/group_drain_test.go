package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/testsync"
)

// TestGroupSocketsClosedByRoom: the group sockets a drain moves are those of the rooms it
// names; a closed socket leaves the list, whoever closes it; closing does not wait on the
// list's lock (a closed socket takes itself off it).
func TestGroupSocketsClosedByRoom(t *testing.T) {
	var gs groupSockets
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(gs.track(w, r.URL.Query().Get("room")), r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	dial := func(room string) *websocket.Conn {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial(strings.Replace(srv.URL, "http", "ws", 1)+"/?room="+room, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	moved := []*websocket.Conn{dial("r"), dial("r")}
	stays := dial("q")
	gone := dial("p")
	waitRooms := func(want ...string) {
		t.Helper()
		testsync.Eventually(t, 10*time.Second, fmt.Sprintf("group sockets in rooms %v", want), func() bool {
			got := gs.rooms()
			slices.Sort(got)
			return slices.Equal(got, want)
		})
	}
	waitRooms("p", "q", "r")
	gone.Close() // the client's end: the server's read fails and it closes its side
	waitRooms("q", "r")
	if n := gs.close(map[string]bool{"r": true}); n != 2 {
		t.Fatalf("closed %d sockets of r, want 2", n)
	}
	waitRooms("q")
	for _, c := range moved {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := c.ReadMessage(); err == nil || websocket.IsCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure) {
			t.Fatalf("a moved room's socket read %v, want its connection cut without a close frame", err)
		}
	}
	if err := stays.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
		t.Fatalf("another room's socket: %v", err)
	}
}
