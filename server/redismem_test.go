package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
)

// BenchmarkRedisMemoryPerRoom fills one instance in Redis mode with rooms of two registered
// clients (sockets open, nothing queued: a call in progress) and reports redis-server's
// used_memory growth per room, the figure docs/scaling.md sizes a shard by. It measures once
// per run whatever b.N is: run it with -benchtime 1x (scripts/bench-shared does).
//
//	go test -run '^$' -bench RedisMemoryPerRoom -benchtime 1x ./server
func BenchmarkRedisMemoryPerRoom(b *testing.B) {
	const rooms = 2500
	// Nothing may expire while the rooms are filled and measured.
	f := startFleet(b, 1, func(c *Config) { c.RelayGrace = time.Hour })
	ts := f.servers[0]
	usedMemory := func() int64 {
		b.Helper()
		// A sample right after a burst of writes can include the client buffers still
		// draining: wait for two equal readings.
		var last int64 = -1
		for range 50 {
			info, err := ts.redis.Info(context.Background(), "memory").Result()
			if err != nil {
				b.Fatalf("INFO memory: %v", err)
			}
			v, err := infoField(info, "used_memory")
			if err != nil {
				b.Fatal(err)
			}
			if v == last {
				return v
			}
			last = v
			time.Sleep(100 * time.Millisecond)
		}
		b.Fatalf("used_memory still moving after 5 s (last %d)", last)
		return 0
	}
	// Plain sockets read by a goroutine that drops what comes (pings get their pongs), not
	// the harness's clients, whose 4096-frame queues would take more memory than the test.
	register := func(room, client string) {
		b.Helper()
		conn, _, err := websocket.DefaultDialer.Dial("ws://"+ts.host+"/ws", nil)
		if err != nil {
			b.Fatalf("dial /ws: %v", err)
		}
		b.Cleanup(func() { conn.Close() })
		go func() {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
		if err := conn.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: room, ClientID: client}); err != nil {
			b.Fatalf("register %s in %s: %v", client, room, err)
		}
	}
	// One measurement per run whatever b.N is: -benchtime 1x.
	b.ResetTimer()
	before := usedMemory()
	for i := range rooms {
		room := "mem-" + strconv.Itoa(i)
		a, c := ts.join(b, room).ClientID, ts.join(b, room).ClientID
		register(room, a)
		register(room, c)
	}
	testsync.Eventually(b, time.Minute, fmt.Sprintf("%d clients online", 2*rooms), func() bool { return f.online() == 2*rooms })
	after := usedMemory()
	b.StopTimer()
	if after <= before {
		b.Fatalf("used_memory %d before %d rooms, %d after: nothing measured", before, rooms, after)
	}
	b.ReportMetric(float64(after-before)/rooms, "redis-bytes/room")
}

// infoField is the integer value of one "name:value" line of a Redis INFO reply.
func infoField(info, name string) (int64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO %s: %q: %w", name, v, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("INFO has no %s line", name)
}
