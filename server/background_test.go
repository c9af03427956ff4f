package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
)

// redisTruth counts the rooms and clients Redis holds, walking every room: what the room
// gauges must say.
func redisTruth(t *testing.T, rdb *redis.Client) (rooms, clients float64) {
	t.Helper()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, redisKeyPrefix+"{*}:clients", 100).Iterator()
	for iter.Next(ctx) {
		n, err := rdb.LLen(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		rooms++
		clients += float64(n)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return rooms, clients
}

// The room gauges in Redis mode survive updates Redis refused: joins go through while a
// real ACL denies the counters' key, each refused update shows in
// onertc_errors_total{op="room_stats"}, and once the key is allowed again the next scrape
// shows the rooms Redis holds.
func TestRoomGaugesRecoverAfterRefusedUpdates(t *testing.T) {
	srv := redistest.Start(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	acl := func(stats bool) {
		t.Helper()
		args := []any{"ACL", "SETUSER", "app", "reset", "on", ">pw", "+@all", "allchannels",
			"~" + redisKeyPrefix + "{*", "~" + redisKeyPrefix + "grace", "~" + redisKeyPrefix + "instances",
			"~" + redisKeyPrefix + "owned:*", "~" + redisKeyPrefix + "turn"}
		if stats {
			args = append(args, "~"+redisKeyPrefix+"stats")
		}
		if err := admin.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("ACL SETUSER: %v", err)
		}
	}
	acl(true)
	ts := startServer(t, func(c *Config) {
		c.Redis = "redis://app:pw@" + srv.Addr
		c.RelayGrace = time.Minute // joined clients that never register stay for the test
	})
	ts.join(t, "before")
	acl(false)
	for _, roomID := range []string{"a", "a", "b"} {
		ts.join(t, roomID)
	}
	m := scrape(t, ts.url+"/metrics")
	// One per refused update, and the scrape's own attempt to write them before it reads.
	if got := m[`onertc_errors_total{op="room_stats"}`]; got != 4 {
		t.Fatalf(`onertc_errors_total{op="room_stats"} = %v, want 4`, got)
	}
	if _, ok := m["onertc_rooms"]; ok {
		t.Fatal("onertc_rooms served while its counter cannot be read")
	}
	if m[`onertc_errors_total{op="stats_read"}`] < 1 {
		t.Fatal(`the refused read of the counters is not in onertc_errors_total{op="stats_read"}`)
	}
	acl(true)
	m = scrape(t, ts.url+"/metrics")
	rooms, clients := redisTruth(t, admin)
	if rooms != 3 || clients != 4 {
		t.Fatalf("Redis holds %v rooms and %v clients, want 3 and 4", rooms, clients)
	}
	if m["onertc_rooms"] != rooms || m["onertc_room_clients"] != clients {
		t.Fatalf("gauges after recovery: %v rooms, %v clients; Redis holds %v and %v",
			m["onertc_rooms"], m["onertc_room_clients"], rooms, clients)
	}
}

// With Redis stopped, scrapes and the relay's background passes fail: both are counted,
// and once Redis is back (empty: no persistence) the gauges follow what it holds.
func TestBackgroundErrorsThroughRedisOutage(t *testing.T) {
	f := startFleet(t, 1, func(c *Config) { c.RelayGrace = time.Minute })
	ts := f.servers[0]
	admin := redis.NewClient(&redis.Options{Addr: f.redis.Addr})
	t.Cleanup(func() { admin.Close() })
	ts.join(t, "a")
	ts.join(t, "a")
	f.redis.Stop()
	testsync.Eventually(t, 20*time.Second, "failed scrapes and reaping passes counted", func() bool {
		m := scrape(t, ts.url+"/metrics")
		_, gauge := m["onertc_rooms"]
		return !gauge && m[`onertc_errors_total{op="stats_read"}`] >= 1 && m[`onertc_errors_total{op="relay_reap"}`] >= 1
	})
	if err := f.redis.Start(); err != nil {
		t.Fatal(err)
	}
	testsync.Eventually(t, 10*time.Second, "ready again", func() bool { code, _ := get(t, ts.url+"/readyz"); return code == 200 })
	ts.join(t, "b")
	m := scrape(t, ts.url+"/metrics")
	rooms, clients := redisTruth(t, admin)
	if rooms != 1 || clients != 1 || m["onertc_rooms"] != rooms || m["onertc_room_clients"] != clients {
		t.Fatalf("after the outage: gauges %v rooms %v clients, Redis holds %v and %v (want 1 and 1)",
			m["onertc_rooms"], m["onertc_room_clients"], rooms, clients)
	}
}

// Joins, registers and dropped sockets in many rooms while /status and /metrics are read
// all along, under -race: the reads never race the relay, and at the end the gauges and
// the relay's counters equal what the test did.
func TestStatusAndMetricsDuringChurn(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.RelayGrace = time.Minute })
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for _, path := range []string{"/status", "/metrics"} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(ts.url + path)
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s: %d", path, resp.StatusCode)
					return
				}
			}
		}()
	}
	const rooms = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []*wsClient
	for i := range rooms {
		roomID := fmt.Sprintf("churn%d", i)
		for j := range 2 {
			p := ts.join(t, roomID)
			c := ts.dial(t)
			c.register(roomID, p.ClientID)
			if i%3 == 0 && j == 1 {
				wg.Add(1)
				go func() { defer wg.Done(); c.conn.Close() }() // dropped: offline, still in the room
				continue
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		}
	}
	wg.Wait()
	wantOnline := int64(len(open))
	testsync.Eventually(t, 10*time.Second, "every register and drop to land", func() bool {
		return ts.relay.Stats().Online == wantOnline
	})
	close(stop)
	readers.Wait()
	m := scrape(t, ts.url+"/metrics")
	if m["onertc_rooms"] != rooms || m["onertc_room_clients"] != 2*rooms || m["onertc_relay_sockets_open"] != float64(wantOnline) {
		t.Fatalf("gauges: %v rooms, %v clients, %v sockets; want %d, %d, %d", m["onertc_rooms"], m["onertc_room_clients"],
			m["onertc_relay_sockets_open"], rooms, 2*rooms, wantOnline)
	}
	if st := ts.relay.Stats(); st.Rooms != rooms || st.Online != wantOnline {
		t.Fatalf("relay stats: %d rooms, %d online; want %d and %d", st.Rooms, st.Online, rooms, wantOnline)
	}
	_, body := get(t, ts.url+"/status")
	if !strings.Contains(body, fmt.Sprintf(`"openws":%d`, wantOnline)) {
		t.Fatalf("/status = %s, want openws %d", body, wantOnline)
	}
}
