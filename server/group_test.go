//go:build !js

package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/limit"
)

// startGroupServer is a real server on loopback with an SFU socket (group rooms on unless
// mutate turns them off) and, when turnOn, a TURN server on a UDP port of its own.
func startGroupServer(t testing.TB, turnOn bool, mutate func(*Config)) (*testServer, Listeners) {
	t.Helper()
	return startGroupServerWrapped(t, turnOn, mutate, nil)
}

// startGroupServerWrapped is startGroupServer with wrap, if not nil, standing between the
// SFU's socket and the server.
func startGroupServerWrapped(t testing.TB, turnOn bool, mutate func(*Config), wrap func(net.PacketConn) net.PacketConn) (*testServer, Listeners) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RelayGrace = 500 * time.Millisecond
	cfg.Limits = limit.Rates{}
	cfg.MaxSocketsPerIP = 0
	cfg.SFUAddr = "127.0.0.1:0"
	cfg.TURN.Disabled = !turnOn
	cfg.TURN.PublicIP = "127.0.0.1"
	cfg.TURN.Secret = "group-test-secret"
	cfg.TURN.SelfTestInterval = 0
	cfg.TURN.RelayPortMin, cfg.TURN.RelayPortMax = 56000, 57000
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ls Listeners
	if ls.HTTP, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if cfg.groupRooms() {
		if ls.SFU, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if wrap != nil {
			ls.SFU = wrap(ls.SFU)
		}
	}
	if turnOn {
		udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls.TURNUDP = []net.PacketConn{udp}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: srv, url: "http://" + ls.HTTP.Addr().String(), host: ls.HTTP.Addr().String()}, ls
}

// joinGroup posts /join/ROOM with group=1 (or without) and returns the response.
func (ts *testServer) joinAs(t testing.TB, roomID string, group bool) protocol.JoinResponse {
	t.Helper()
	path := "/join/" + roomID
	if group {
		path += "?group=1"
	}
	status, body := ts.post(t, path, "")
	var jr protocol.JoinResponse
	if err := json.Unmarshal([]byte(body), &jr); err != nil || status != http.StatusOK {
		t.Fatalf("join %s: %d %s (%v)", path, status, body, err)
	}
	return jr
}

// groupMessage waits on c for the group message and returns its URL.
func groupMessage(t testing.TB, c *wsClient) string {
	t.Helper()
	f := c.next()
	s, err := protocol.ParseSignal(f.Msg)
	if err != nil || s.Type != protocol.TypeGroup || f.Error != "" {
		t.Fatalf("frame %+v: want a group message (%v)", f, err)
	}
	return s.URL
}

var groupVideo = []sfutest.Layer{{Width: 640, Height: 360, FrameBytes: 600}}

// TestThirdJoinMakesAGroup: two onertc clients in a room, a third joins with group=1: it is
// sent to the SFU, the two are told over the relay where their own group socket is, and all
// three then receive each other's audio and video through the SFU. When everyone has left,
// the next join is a 1:1 join again.
func TestThirdJoinMakesAGroup(t *testing.T) {
	ts, _ := startGroupServer(t, false, nil)
	const roomID = "groupie"
	a := ts.joinAs(t, roomID, true)
	b := ts.joinAs(t, roomID, true)
	if a.Params.IsInitiator != "true" || b.Params.IsInitiator != "false" || a.Params.RoomMode != "" || b.Params.RoomMode != "" {
		t.Fatalf("first two joins: %+v / %+v, want a 1:1 initiator and callee", a.Params, b.Params)
	}
	wa, wb := ts.dial(t), ts.dial(t)
	wa.register(roomID, a.Params.ClientID)
	wb.register(roomID, b.Params.ClientID)

	c := ts.joinAs(t, roomID, true)
	if c.Result != protocol.ResultSuccess || c.Params.RoomMode != protocol.RoomModeGroup || c.Params.IsInitiator != "false" || len(c.Params.Messages) != 0 {
		t.Fatalf("third join = %s %+v, want SUCCESS in group mode, not initiator, no messages", c.Result, c.Params)
	}
	wantURL := func(id string) string { return "ws://" + ts.host + "/group/" + roomID + "/" + id }
	if c.Params.GroupURL != wantURL(c.Params.ClientID) {
		t.Fatalf("group_url %q, want %q", c.Params.GroupURL, wantURL(c.Params.ClientID))
	}
	urlA, urlB := groupMessage(t, wa), groupMessage(t, wb)
	if urlA != wantURL(a.Params.ClientID) || urlB != wantURL(b.Params.ClientID) {
		t.Fatalf("group messages: A got %q, B got %q; want each its own URL", urlA, urlB)
	}
	if n := ts.occupancy(t, roomID); n != 2 {
		t.Fatalf("room table holds %d, want the two 1:1 clients until they leave", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := sfutest.Options{Audio: true, Layers: groupVideo, FPS: 15}
	var clients []*sfutest.Client
	for _, u := range []string{urlA, urlB, c.Params.GroupURL} {
		cl, err := sfutest.Dial(ctx, u+"?name=tester", opts)
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		t.Cleanup(cl.Close)
		if err := cl.Publish(ctx); err != nil {
			t.Fatalf("publish %s: %v", cl.ID, err)
		}
		clients = append(clients, cl)
	}
	// The two move: they leave the room table once on the SFU.
	ts.leave(t, "leave", roomID, a.Params.ClientID)
	ts.leave(t, "leave", roomID, b.Params.ClientID)
	for _, cl := range clients {
		for _, other := range clients {
			if other == cl {
				continue
			}
			testsync.Eventually(t, 20*time.Second, cl.ID+" receives "+other.ID, func() bool {
				r := cl.Received(other.ID)
				return r.AudioPackets > 20 && r.VideoPackets > 20
			})
		}
	}
	if got := clients[0].ID; got != a.Params.ClientID {
		t.Fatalf("A is %q on the SFU, want its client id %q", got, a.Params.ClientID)
	}
	metrics := ts.get(t, "/metrics")
	for _, want := range []string{"onertc_sfu_participants 3", "onertc_sfu_rooms 1", "onertc_sfu_room_subscriptions_count 1"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(metrics, "onertc_sfu_forwarded_packets_total ") || strings.Contains(metrics, "onertc_sfu_forwarded_packets_total 0\n") {
		t.Errorf("/metrics shows no forwarded packets")
	}
	// An AppRTC client (no group=1) finds the group full.
	if jr := ts.joinAs(t, roomID, false); jr.Result != protocol.ResultFull {
		t.Fatalf("join without group=1 into a group room = %s, want FULL", jr.Result)
	}
	// Everyone leaves: the room is a 1:1 room again.
	for _, cl := range clients {
		cl.Close()
	}
	testsync.Eventually(t, 10*time.Second, "group record forgotten", func() bool { return ts.groupTable.Rooms() == 0 })
	if jr := ts.joinAs(t, roomID, true); jr.Result != protocol.ResultSuccess || jr.Params.IsInitiator != "true" || jr.Params.RoomMode != "" {
		t.Fatalf("join after the group ended = %s %+v, want a 1:1 initiator", jr.Result, jr.Params)
	}
}

func (ts *testServer) get(t testing.TB, path string) string {
	t.Helper()
	resp, err := http.Get(ts.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGroupJoinRules: who becomes a group participant and who gets FULL.
func TestGroupJoinRules(t *testing.T) {
	type join struct {
		group bool
		want  string // result, or "group" for a group join
	}
	tests := []struct {
		name     string
		size     int
		joins    []join
		fullPage bool // the room's page after the joins is the room-full page
	}{
		{"AppRTC client in the room: third is FULL", 8, []join{{true, "1:1"}, {false, "1:1"}, {true, protocol.ResultFull}}, true},
		{"AppRTC initiator: third is FULL", 8, []join{{false, "1:1"}, {true, "1:1"}, {true, protocol.ResultFull}}, true},
		{"two onertc clients: the page lets a third in", 8, []join{{true, "1:1"}, {true, "1:1"}}, false},
		{"third without group=1 is FULL", 8, []join{{true, "1:1"}, {true, "1:1"}, {false, protocol.ResultFull}, {true, "group"}}, false},
		{"room size 3: the fourth is FULL", 3, []join{{true, "1:1"}, {true, "1:1"}, {true, "group"}, {true, protocol.ResultFull}}, true},
		{"room size 4", 4, []join{{true, "1:1"}, {true, "1:1"}, {true, "group"}, {true, "group"}, {true, protocol.ResultFull}}, true},
		{"room size 2: today's rooms", 2, []join{{true, "1:1"}, {true, "1:1"}, {true, protocol.ResultFull}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := startGroupServer(t, false, func(c *Config) { c.RoomSize = tt.size })
			for i, j := range tt.joins {
				jr := ts.joinAs(t, "rules", j.group)
				got := jr.Result
				if got == protocol.ResultSuccess {
					got = "1:1"
					if jr.Params.RoomMode == protocol.RoomModeGroup {
						got = "group"
					}
				}
				if got != j.want {
					t.Fatalf("join %d (group=%v) = %s (%+v), want %s", i+1, j.group, got, jr.Params, j.want)
				}
			}
			if full := strings.Contains(ts.get(t, "/r/rules"), "Room full"); full != tt.fullPage {
				t.Fatalf("room page is the full page: %v, want %v", full, tt.fullPage)
			}
		})
	}
}

// TestGroupSocketRefusals: the group socket admits only the participants the room's record
// holds, and says why before any upgrade.
func TestGroupSocketRefusals(t *testing.T) {
	ts, _ := startGroupServer(t, false, nil)
	ts.joinAs(t, "refuse", true)
	ts.joinAs(t, "refuse", true)
	c := ts.joinAs(t, "refuse", true)
	if c.Params.RoomMode != protocol.RoomModeGroup {
		t.Fatalf("third join %+v: want a group join", c.Params)
	}
	ts.joinAs(t, "other", true)
	tests := []struct {
		name, path string
		status     int
		text       string
	}{
		{"id never issued", "/group/refuse/neverissued", http.StatusForbidden, "not a participant"},
		{"malformed client id", "/group/refuse/bad.id", http.StatusNotFound, protocol.InvalidClientText},
		{"malformed room", "/group/bad.room/" + c.Params.ClientID, http.StatusNotFound, protocol.InvalidRoomText},
		{"another room's participant", "/group/other/" + c.Params.ClientID, http.StatusForbidden, "not a participant"},
		{"a name that is no name", "/group/refuse/" + c.Params.ClientID + "?name=%01", http.StatusBadRequest, "invalid name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, ts.url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			// A real WebSocket handshake: refused before the upgrade all the same.
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.text) {
				t.Fatalf("GET %s = %d %q, want %d with %q", tt.path, resp.StatusCode, b, tt.status, tt.text)
			}
		})
	}
	// The ticket is good: the participant gets in.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := sfutest.Dial(ctx, c.Params.GroupURL, sfutest.Options{})
	if err != nil {
		t.Fatalf("the admitted participant: %v", err)
	}
	cl.Close()
}

// TestGroupSocketPasswordMode: in password mode the group socket asks for the password
// first (401), like /ws.
func TestGroupSocketPasswordMode(t *testing.T) {
	ts, _ := startGroupServer(t, false, func(c *Config) {
		c.Access.Mode = string(access.Password)
		c.Access.Password = "group secret"
	})
	resp, err := http.Get(ts.url + "/group/room/someone")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /group without the password = %d, want 401", resp.StatusCode)
	}
}

func TestGroupConfig(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
		groups  bool
	}{
		{"default: no SFU address, no group rooms", func(*Config) {}, "", false},
		{"SFU address: group rooms", func(c *Config) { c.SFUAddr = "127.0.0.1:0" }, "", true},
		{"room size 2: none", func(c *Config) { c.SFUAddr = "127.0.0.1:0"; c.RoomSize = 2 }, "", false},
		{"Redis: group rooms", func(c *Config) { c.SFUAddr = "127.0.0.1:0"; c.Redis = "redis://127.0.0.1:1"; c.TURN.Secret = "s" }, "", true},
		{"internal URL", func(c *Config) { c.SFUAddr = "127.0.0.1:0"; c.InternalURL = "http://10.0.0.11:8080" }, "", true},
		{"internal URL with a path", func(c *Config) { c.InternalURL = "http://10.0.0.11:8080/x" }, "--internal-url", false},
		{"internal URL not http", func(c *Config) { c.InternalURL = "ws://10.0.0.11:8080" }, "--internal-url", false},
		{"room size 1", func(c *Config) { c.RoomSize = 1 }, "--room-size 1", false},
		{"room size 51", func(c *Config) { c.RoomSize = 51 }, "--room-size 51", false},
		{"SFU address without a port", func(c *Config) { c.SFUAddr = "127.0.0.1" }, "--sfu-addr", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if (err != nil) != (tt.wantErr != "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error with %q", err, tt.wantErr)
			}
			if err == nil && cfg.groupRooms() != tt.groups {
				t.Fatalf("groupRooms = %v, want %v", cfg.groupRooms(), tt.groups)
			}
		})
	}
}

// TestListenOpensTheSFUSocket: Listen opens the SFU's UDP socket when group rooms are on,
// and hands it over by name with the others.
func TestListenOpensTheSFUSocket(t *testing.T) {
	for _, on := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.TURN.Disabled = true
		if on {
			cfg.SFUAddr = "127.0.0.1:0"
		}
		ls, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		named := false
		for _, s := range ls.Sockets() {
			named = named || s.Name == sockSFU
		}
		got := ls.SFU != nil
		ls.Close()
		if got != on || named != on {
			t.Fatalf("group rooms %v: SFU socket opened %v, in the hand-over %v", on, got, named)
		}
	}
}
