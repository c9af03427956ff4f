package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Redis lost while running: every instance says it is not ready and refuses joins with a
// clear error; when Redis is back, both come back by themselves.
func TestSharedRedisOutage(t *testing.T) {
	f := startFleet(t, 2, nil)
	for _, ts := range f.servers {
		testsync.Eventually(t, 5*time.Second, "ready", func() bool { code, _ := get(t, ts.url+"/readyz"); return code == 200 })
	}
	f.redis.Stop()
	for _, ts := range f.servers {
		testsync.Eventually(t, 5*time.Second, "not ready without Redis", func() bool { code, _ := get(t, ts.url+"/readyz"); return code == 503 })
		status, body := ts.post(t, "/join/out", "")
		var jr protocol.JoinResponse
		if err := json.Unmarshal([]byte(body), &jr); err != nil || status != 503 || jr.Result != protocol.ResultError ||
			len(jr.Params.ErrorMessages) != 1 || !strings.Contains(jr.Params.ErrorMessages[0], "database") {
			t.Fatalf("join without Redis = %d %s", status, body)
		}
	}
	if err := f.redis.Start(); err != nil {
		t.Fatal(err)
	}
	for _, ts := range f.servers {
		testsync.Eventually(t, 5*time.Second, "ready again", func() bool { code, _ := get(t, ts.url+"/readyz"); return code == 200 })
	}
	a := f.next().join(t, "back")
	b := f.next().join(t, "back")
	if a.IsInitiator != "true" || b.IsInitiator != "false" {
		t.Fatalf("joins after the outage: %s %s", a.IsInitiator, b.IsInitiator)
	}
	// The count of instances alive is refreshed by each heartbeat: the other instance's
	// first one after the outage may come a heartbeat later than this one's.
	var metrics string
	testsync.Eventually(t, 5*time.Second, "both instances alive in /metrics", func() bool {
		_, metrics = get(t, f.servers[0].url+"/metrics")
		return strings.Contains(metrics, "onertc_instances_alive 2\n")
	})
	for _, want := range []string{"onertc_redis_round_trips_total", "onertc_redis_errors_total", "onertc_relay_messages_cross_instance_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, "onertc_redis_errors_total 0\n") {
		t.Errorf("the outage left no Redis errors in /metrics")
	}
}

// Round trips per relayed message (a count, not a timing): with each message waited for
// before the next is sent, so nothing is batched, a message costs one script to queue it,
// one to fetch it and one to confirm it, plus the instances' background work.
func TestSharedRoundTripsPerMessage(t *testing.T) {
	for _, same := range []bool{false, true} {
		name := map[bool]string{false: "sockets on two instances", true: "sockets on one instance"}[same]
		t.Run(name, func(t *testing.T) {
			f := startFleet(t, 2, nil)
			idA, idB := f.servers[0].join(t, "rt").ClientID, f.servers[0].join(t, "rt").ClientID
			a := f.servers[0].dial(t)
			a.register("rt", idA)
			bServer := f.servers[1]
			if same {
				bServer = f.servers[0]
			}
			b := bServer.dial(t)
			b.register("rt", idB)
			testsync.Eventually(t, 5*time.Second, "both online", func() bool { return f.online() == 2 })
			a.sendMsg("warm-up")
			b.expectMsg("warm-up")
			testsync.Eventually(t, 5*time.Second, "warm-up confirmed", func() bool { return f.pending("rt", idB) == 0 })
			roundTrips := func() uint64 {
				var n uint64
				for _, ts := range f.servers {
					n += ts.redis.Counters.RoundTrips.Load()
				}
				return n
			}
			const n = 200
			before := roundTrips()
			for i := range n {
				m := "m" + strconv.Itoa(i)
				a.sendMsg(m)
				b.expectMsg(m)
			}
			testsync.Eventually(t, 5*time.Second, "all confirmed", func() bool { return f.pending("rt", idB) == 0 })
			perMsg := float64(roundTrips()-before) / n
			t.Logf("%s: %.2f Redis round trips per relayed message", name, perMsg)
			if perMsg > 3.1 {
				t.Errorf("%.2f Redis round trips per message, want at most 3 (+ background)", perMsg)
			}
		})
	}
}

// BenchmarkRelayOneWay sends messages one at a time from A to B, each waited for, and
// reports the one-way latency's p50 and p99 and the Redis round trips per message: in memory
// mode, and in Redis mode with A and B on two instances (loopback redis-server).
// go test -run '^$' -bench RelayOneWay ./server
func BenchmarkRelayOneWay(b *testing.B) {
	for _, mode := range []string{"memory", "redis"} {
		b.Run(mode, func(b *testing.B) {
			unlimited := func(c *Config) { c.RelayFramesPerSecond = 1e6 }
			var f *fleet
			if mode == "memory" {
				f = single(startServer(b, unlimited))
			} else {
				f = startFleet(b, 2, unlimited)
			}
			srvA, srvB := f.servers[0], f.servers[len(f.servers)-1]
			idA, idB := srvA.join(b, "bench").ClientID, srvA.join(b, "bench").ClientID
			a, c := srvA.dial(b), srvB.dial(b)
			a.register("bench", idA)
			c.register("bench", idB)
			testsync.Eventually(b, 5*time.Second, "both online", func() bool { return f.online() == 2 })
			rt := func() uint64 {
				var n uint64
				for _, ts := range f.servers {
					if ts.redis != nil {
						n += ts.redis.Counters.RoundTrips.Load()
					}
				}
				return n
			}
			// Redis's own CPU time for the commands, from INFO commandstats.
			redisUsec := func() float64 {
				if f.redis == nil {
					return 0
				}
				info, err := f.servers[0].redis.Info(context.Background(), "commandstats").Result()
				if err != nil {
					b.Fatal(err)
				}
				var total float64
				for _, line := range strings.Split(info, "\n") {
					_, rest, ok := strings.Cut(line, ",usec=")
					if !ok {
						continue
					}
					usec, _, _ := strings.Cut(rest, ",")
					v, _ := strconv.ParseFloat(usec, 64)
					total += v
				}
				return total
			}
			lat := make([]time.Duration, 0, b.N)
			before, beforeUsec := rt(), redisUsec()
			b.ResetTimer()
			for i := range b.N {
				m := "m" + strconv.Itoa(i)
				start := time.Now()
				a.sendMsg(m)
				c.expectMsg(m)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(rt()-before)/float64(b.N), "redis-rt/msg")
			b.ReportMetric((redisUsec()-beforeUsec)/float64(b.N), "redis-cpu-µs/msg")
		})
	}
}

// Redis frozen during a call (requests time out as in an outage), then back: the messages
// sent meanwhile are held, retried and delivered in order; nothing is lost and the call goes
// on.
func TestSharedRedisPauseLosesNothing(t *testing.T) {
	f := startFleet(t, 2, nil)
	idA, idB := f.servers[0].join(t, "p").ClientID, f.servers[1].join(t, "p").ClientID
	a, b := f.servers[0].dial(t), f.servers[1].dial(t)
	a.register("p", idA)
	b.register("p", idB)
	a.sendMsg("before")
	b.expectMsg("before")
	f.redis.Pause()
	for _, m := range []string{"during1", "during2", "during3"} {
		a.sendMsg(m)
	}
	for _, ts := range f.servers {
		testsync.Eventually(t, 5*time.Second, "outage noticed", func() bool { code, _ := get(t, ts.url+"/readyz"); return code == 503 })
	}
	f.redis.Resume()
	for _, m := range []string{"during1", "during2", "during3"} {
		b.expectMsg(m)
	}
	b.sendMsg("after")
	a.expectMsg("after")
	for _, ts := range f.servers {
		testsync.Eventually(t, 5*time.Second, "ready again", func() bool { code, _ := get(t, ts.url+"/readyz"); return code == 200 })
	}
	b.expectNothing(100 * time.Millisecond)
}

// BenchmarkJoin is POST /join of a new room each time, in memory mode and in Redis mode
// (the room table's script plus the relay's grace deadline).
func BenchmarkJoin(b *testing.B) {
	for _, mode := range []string{"memory", "redis"} {
		b.Run(mode, func(b *testing.B) {
			var f *fleet
			grace := func(c *Config) { c.RelayGrace = time.Hour } // nothing reaped meanwhile
			if mode == "memory" {
				f = single(startServer(b, grace))
			} else {
				f = startFleet(b, 1, grace)
			}
			ts := f.servers[0]
			b.ResetTimer()
			for i := range b.N {
				ts.join(b, "j"+strconv.Itoa(i))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
		})
	}
}

// POST /message while Redis is frozen: the message is held and retried, not refused, and
// arrives once Redis answers again, both into the mailbox (sender alone) and to the peer's
// socket (two in the room).
func TestSharedMessageHeldThroughOutage(t *testing.T) {
	// A never registers a socket: a grace period longer than the test keeps it in its room.
	f := startFleet(t, 2, func(c *Config) { c.RelayGrace = time.Minute })
	s0, s1 := f.servers[0], f.servers[1]
	type answer struct {
		status int
		body   string
	}
	postHeld := func(ts *testServer, path, msg string) <-chan answer {
		out := make(chan answer, 1)
		go func() {
			resp, err := http.Post(ts.url+path, "text/plain", strings.NewReader(msg))
			if err != nil {
				out <- answer{0, err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out <- answer{resp.StatusCode, string(b)}
		}()
		return out
	}
	outage := func(during func()) {
		f.redis.Pause()
		testsync.Eventually(t, 5*time.Second, "outage noticed", func() bool { code, _ := get(t, s0.url+"/readyz"); return code == 503 })
		during()
		f.redis.Resume()
	}
	wantSuccess := func(what string, c <-chan answer) {
		t.Helper()
		select {
		case a := <-c:
			if a.status != 200 || !strings.Contains(a.body, `"SUCCESS"`) {
				t.Fatalf("%s: POST /message = %d %s, want 200 SUCCESS", what, a.status, a.body)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: POST /message did not answer", what)
		}
	}

	idA := s0.join(t, "held").ClientID
	var alone <-chan answer
	outage(func() { alone = postHeld(s0, "/message/held/"+idA, "offer while alone") })
	wantSuccess("sender alone", alone)
	status, body := s1.post(t, "/join/held", "")
	var jr protocol.JoinResponse
	if err := json.Unmarshal([]byte(body), &jr); err != nil || status != 200 || !slices.Equal(jr.Params.Messages, []string{"offer while alone"}) {
		t.Fatalf("joiner after the outage = %d %s, want the held message in its mailbox", status, body)
	}
	b := s1.dial(t)
	b.register("held", jr.Params.ClientID)
	// The register is done (in Redis) once a message reaches b: only then comes the outage.
	wantSuccess("before the outage", postHeld(s0, "/message/held/"+idA, "before"))
	b.expectMsg("before")
	var two <-chan answer
	outage(func() { two = postHeld(s0, "/message/held/"+idA, "candidate while away") })
	wantSuccess("two in the room", two)
	b.expectMsg("candidate while away")
}

// Redis gone for longer than the hold: POST /message and POST /collider answer 503 with
// Retry-After and say so; nothing is taken that could arrive later.
func TestSharedMessageRefusedAfterHold(t *testing.T) {
	f := startFleet(t, 1, func(c *Config) { c.SharedHold = 500 * time.Millisecond })
	ts := f.servers[0]
	idA := ts.join(t, "gone").ClientID
	idB := ts.join(t, "gone").ClientID
	f.redis.Stop()
	for _, path := range []string{"/message/gone/" + idA, "/collider/gone/" + idB} {
		resp, err := http.Post(ts.url+path, "text/plain", strings.NewReader(`{"type":"bye"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "Relay temporarily unavailable") {
			t.Errorf("POST %s without Redis = %d (Retry-After %q) %s, want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
}
