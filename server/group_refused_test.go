//go:build !js

package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/sfutest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/server/grouproom"
)

// TestGroupSocketRefusedBySFUInstance: two instances on one redis-server, and a group whose
// record names a third instance that left what a SIGKILL leaves in Redis: its SFU's entry
// in the directory, with an internal URL where nothing listens, and its last heartbeat,
// still within the instance timeout. A group socket for that group, dialed at either live
// instance, is refused there. With the heartbeat older than grouproom.RefusedAfter the
// group moves at once and the same request reaches the new SFU; with a fresh one nothing
// moves and the client gets a clear 502 (the refusal may have had another cause).
func TestGroupSocketRefusedBySFUInstance(t *testing.T) {
	rs := redistest.Start(t)
	shared := func(c *Config) { c.Redis = rs.URL(); c.TURN.Secret = "fleet-secret" }
	s0, _ := startGroupServer(t, false, shared)
	s1, _ := startGroupServer(t, false, shared)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	refusing := refusingURL(t)

	for i, tt := range []struct {
		name string
		// heartbeatAge is how long before the socket the dead instance's heartbeat was.
		heartbeatAge time.Duration
		// atNewHome dials the instance the group moves to, else the other one (which
		// passes the socket on a second time, to the new SFU).
		atNewHome bool
		moves     bool
	}{
		{"stale heartbeat, dialed at the new SFU's instance", time.Second, true, true},
		{"stale heartbeat, dialed at the other instance", time.Second, false, true},
		{"fresh heartbeat", 0, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			roomID := "refused-group-" + string(rune('a'+i))
			ghost := "dead-instance-" + string(rune('a'+i))
			s0.joinAs(t, roomID, true)
			s1.joinAs(t, roomID, true)
			c := s1.joinAs(t, roomID, true)
			if c.Params.ClientID == "" {
				t.Fatalf("third join gave no client id: %+v", c)
			}
			// The live instances' SFUs both forward nothing: the group goes to the one
			// Place picks among them (never a dead one: an earlier case's is still in the
			// directory, beating late), which the dial is aimed at.
			loads, err := s0.sharedGroups.Loads(ctx)
			if err != nil {
				t.Fatal(err)
			}
			loads = slices.DeleteFunc(loads, func(l grouproom.Load) bool {
				return l.Instance != s0.state.Instance() && l.Instance != s1.state.Instance()
			})
			newHome, ok := grouproom.Place(loads)
			if !ok {
				t.Fatal("no SFU in the directory")
			}
			dial := s0
			if (s0.state.Instance() == newHome) != tt.atNewHome {
				dial = s1
			}
			entry, err := json.Marshal(grouproom.Load{URL: refusing})
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range []error{
				rdb.HSet(ctx, redisKeyPrefix+"sfu", ghost, entry).Err(),
				rdb.HSet(ctx, redisKeyPrefix+"{"+roomID+"}:group", "g", ghost).Err(),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			beat := time.Now().Add(-tt.heartbeatAge)
			if err := rdb.ZAdd(ctx, redisKeyPrefix+"instances", redis.Z{Score: float64(beat.UnixMilli()), Member: ghost}).Err(); err != nil {
				t.Fatal(err)
			}
			u := "ws://" + dial.host + "/group/" + roomID + "/" + c.Params.ClientID + "?name=tester"

			if !tt.moves {
				resp, err := http.Get("http" + strings.TrimPrefix(u, "ws"))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "group room's server unreachable") {
					t.Fatalf("GET = %d %q, want 502 saying the group's server is unreachable", resp.StatusCode, body)
				}
				if g := rdb.HGet(ctx, redisKeyPrefix+"{"+roomID+"}:group", "g").Val(); g != ghost {
					t.Fatalf("the group moved to %q on a refusal from an instance that beat a moment ago", g)
				}
				return
			}
			cl, err := sfutest.Dial(ctx, u, sfutest.Options{Audio: true, Layers: groupVideo, FPS: 15})
			// Past the instance timeout the dead instance drops out of the live ones and
			// the group moves whether or not the refusal is heeded: the check means
			// nothing then.
			if since := time.Since(beat); since > 4*time.Second {
				t.Fatalf("the socket took until %v after the dead instance's heartbeat, near the instance timeout (5 s): too late to tell the refusal's move from the timeout's", since)
			}
			if err != nil {
				t.Fatalf("dial = %v, want the socket served by the new SFU in the same request", err)
			}
			t.Cleanup(cl.Close)
			home := s0
			if s1.state.Instance() == newHome {
				home = s1
			}
			if g := rdb.HGet(ctx, redisKeyPrefix+"{"+roomID+"}:group", "g").Val(); g != newHome {
				t.Fatalf("after the refusal the group is on %q, want %q", g, newHome)
			}
			if err := cl.Publish(ctx); err != nil {
				t.Fatalf("publish on the new SFU: %v", err)
			}
			// The last case's participant may still be leaving it.
			testsync.Eventually(t, 10*time.Second, "the new SFU carries the one participant", func() bool {
				return home.sfu.Load().Stats().Participants == 1
			})
		})
	}
}

// refusingURL is a base URL where nothing listens: a port just closed.
func refusingURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}
