//go:build !js

package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/access"
)

// TestGroupSocketsAcrossInstances: two instances on one redis-server; a room becomes a group
// through joins on both. A group socket that reaches the instance whose SFU does not serve
// the group is passed on to the one that does, and media flows between a participant that
// came that way and one that came straight; the refusals happen before anything is passed
// on.
func TestGroupSocketsAcrossInstances(t *testing.T) {
	for _, tt := range []struct {
		name  string
		redis func(t *testing.T, c *Config)
	}{
		{"redis-server", func(t *testing.T, c *Config) { c.Redis = redistest.Start(t).URL() }},
		// Each room's group record is on its own slot's node, the SFU directory on one.
		{"Redis Cluster", func(t *testing.T, c *Config) {
			addrs := redistest.StartCluster(t, 3).Addrs()
			c.Redis = "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
			c.RedisCluster = true
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var base Config
			tt.redis(t, &base)
			groupSocketsAcrossInstances(t, func(c *Config) {
				c.Redis, c.RedisCluster, c.TURN.Secret = base.Redis, base.RedisCluster, "fleet-secret"
			})
		})
	}
}

func groupSocketsAcrossInstances(t *testing.T, shared func(*Config)) {
	t.Helper()
	s0, _ := startGroupServer(t, false, shared)
	s1, _ := startGroupServer(t, false, shared)
	const roomID = "shared-group"
	a := s0.joinAs(t, roomID, true)
	s1.joinAs(t, roomID, true)
	c := s1.joinAs(t, roomID, true)
	if c.Params.RoomMode != protocol.RoomModeGroup {
		t.Fatalf("third join = %s %+v, want a group join", c.Result, c.Params)
	}
	if d := s0.joinAs(t, roomID, false); d.Result != protocol.ResultFull {
		t.Fatalf("join without group=1 on the other instance = %s, want FULL", d.Result)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inst, ok, err := s0.groups.Placed(ctx, roomID, c.Params.ClientID)
	if err != nil || !ok {
		t.Fatalf("Placed = %q, %v, %v", inst, ok, err)
	}
	home, away := s0, s1
	if s1.state.Instance() == inst {
		home, away = s1, s0
	} else if s0.state.Instance() != inst {
		t.Fatalf("the group is placed on %q, neither instance (%s, %s)", inst, s0.state.Instance(), s1.state.Instance())
	}

	for _, tt := range []struct {
		name   string
		client string
		hop    bool
		want   int
	}{
		{"no ticket", "nobody", false, http.StatusForbidden},
		{"passed on already", c.Params.ClientID, true, http.StatusBadGateway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, away.url+"/group/"+roomID+"/"+tt.client, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.hop {
				req.Header.Set(groupHopHeader, "1")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}

	opts := sfutest.Options{Audio: true, Layers: groupVideo, FPS: 15}
	var clients []*sfutest.Client
	for _, u := range []string{
		"ws://" + away.host + "/group/" + roomID + "/" + a.Params.ClientID,
		"ws://" + home.host + "/group/" + roomID + "/" + c.Params.ClientID,
	} {
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
	for i, cl := range clients {
		other := clients[1-i]
		testsync.Eventually(t, 20*time.Second, cl.ID+" receives "+other.ID, func() bool {
			r := cl.Received(other.ID)
			return r.AudioPackets > 20 && r.VideoPackets > 20
		})
	}
	if n := home.sfu.Load().Stats().Participants; n != 2 {
		t.Errorf("the group's SFU carries %d participants, want 2", n)
	}
	if n := away.sfu.Load().Stats().Participants; n != 0 {
		t.Errorf("the other SFU carries %d participants, want 0", n)
	}
	if m := away.get(t, "/metrics"); !strings.Contains(m, "onertc_group_sockets_passed_on_total 1\n") {
		t.Errorf("the other instance's /metrics does not count the one socket passed on")
	}
}

// TestGroupRecordGoesWithItsRoom: in Redis mode the group record of a 1:1 room of onertc
// clients goes when the room table empties, whichever instance removes the last client.
func TestGroupRecordGoesWithItsRoom(t *testing.T) {
	rs := redistest.Start(t)
	shared := func(c *Config) { c.Redis = rs.URL(); c.TURN.Secret = "fleet-secret" }
	s0, _ := startGroupServer(t, false, shared)
	s1, _ := startGroupServer(t, false, shared)
	const roomID = "one-to-one"
	a, b := s0.joinAs(t, roomID, true), s1.joinAs(t, roomID, true)
	key := redisKeyPrefix + "{" + roomID + "}:group"
	exists := func() int64 {
		n, err := s0.redis.Exists(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if exists() != 1 {
		t.Fatal("no group record for a room of two onertc clients")
	}
	s1.leave(t, "leave", roomID, a.Params.ClientID)
	if exists() != 1 {
		t.Fatal("the record went while a client is still in the room")
	}
	s0.leave(t, "leave", roomID, b.Params.ClientID)
	if exists() != 0 {
		t.Fatal("the record outlived its room")
	}
}

// TestGroupSocketPassedOnInPasswordMode: in password mode the instance a group socket
// reaches asks for the session first (401 without it, nothing passed on), and the session
// goes on with the socket, so the SFU's instance admits it too.
func TestGroupSocketPassedOnInPasswordMode(t *testing.T) {
	rs := redistest.Start(t)
	shared := func(c *Config) {
		c.Redis = rs.URL()
		c.TURN.Secret = "fleet-secret"
		c.Access.Mode = string(access.Password)
		c.Access.Password = "group secret"
		c.Access.Key = "the instances' common key for sessions"
	}
	s0, _ := startGroupServer(t, false, shared)
	s1, _ := startGroupServer(t, false, shared)
	_, session := login(t, s0, "group secret", nil)
	if session == nil {
		t.Fatal("no session cookie")
	}
	const roomID = "shared-secret-group"
	var joins []protocol.JoinResponse
	for _, ts := range []*testServer{s0, s1, s1} {
		_, body := do(t, http.MethodPost, ts.url+"/join/"+roomID+"?group=1", "", []*http.Cookie{session}, nil)
		var jr protocol.JoinResponse
		if err := json.Unmarshal([]byte(body), &jr); err != nil || jr.Result != protocol.ResultSuccess {
			t.Fatalf("join on %s: %s (%v)", ts.url, body, err)
		}
		joins = append(joins, jr)
	}
	inst, ok, err := s0.groups.Placed(context.Background(), roomID, joins[2].Params.ClientID)
	if err != nil || !ok {
		t.Fatalf("Placed = %q, %v, %v", inst, ok, err)
	}
	away := s0
	if s0.state.Instance() == inst {
		away = s1
	}
	groupURL := "ws://" + away.host + "/group/" + roomID + "/" + joins[2].Params.ClientID
	for _, tt := range []struct {
		name    string
		cookies []*http.Cookie
		want    int
	}{
		{"no session", nil, http.StatusUnauthorized},
		{"session", []*http.Cookie{session}, http.StatusSwitchingProtocols},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, c := range tt.cookies {
				h.Add("Cookie", c.String())
			}
			ws, resp, err := websocket.DefaultDialer.Dial(groupURL, h)
			if ws != nil {
				ws.Close()
			}
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("group socket through the other instance = %d (%v), want %d", resp.StatusCode, err, tt.want)
			}
		})
	}
	if m := away.get(t, "/metrics"); !strings.Contains(m, "onertc_group_sockets_passed_on_total 1\n") {
		t.Errorf("want exactly the socket with a session passed on")
	}
}
