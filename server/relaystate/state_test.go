package relaystate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/room"
)

// fleet is a few instances' handles on one State and its room table, with one clock they
// share. On Memory every handle is the same one instance; on Redis, rinsts are the
// instances again, for what only Redis has (several instances, pub/sub, keys).
type fleet struct {
	rooms  room.Store
	clock  *clock
	insts  []State
	rdb    redis.UniversalClient
	rinsts []*Redis
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const grace = 10 * time.Second

var prefixes atomic.Int32

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func newRedisFleet(t *testing.T, srv *redistest.Server, n int) *fleet {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	return onRedis(rdb, n)
}

// onRedis is n instances on rdb, under a key prefix of their own.
func onRedis(rdb redis.UniversalClient, n int) *fleet {
	prefix := fmt.Sprintf("t%d:", prefixes.Add(1))
	rooms := room.NewRedis(rdb, prefix)
	c := &fleet{rdb: rdb, rooms: rooms, clock: newClock()}
	for i := range n {
		s := NewRedis(rdb, rooms, prefix, fmt.Sprintf("i%d", i), grace)
		s.now = c.clock.now
		c.insts = append(c.insts, s)
		c.rinsts = append(c.rinsts, s)
	}
	return c
}

func newMemoryFleet(n int) *fleet {
	m := NewMemory(grace)
	c := &fleet{rooms: m.Rooms(), clock: newClock()}
	m.now = c.clock.now
	for range n {
		c.insts = append(c.insts, m)
	}
	return c
}

var ctx = context.Background()

// join puts a client in the room through the room table and arms its grace on inst.
func (c *fleet) join(t *testing.T, inst int, roomID, clientID string) room.Joined {
	t.Helper()
	j, err := c.rooms.Join(ctx, roomID, func() string { return clientID })
	if err != nil {
		t.Fatalf("join %s as %s: %v", roomID, clientID, err)
	}
	if err := c.insts[inst].Expect(ctx, roomID, clientID); err != nil {
		t.Fatal(err)
	}
	return j
}

func mustSend(t *testing.T, s State, roomID, from string, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if _, err := s.Send(ctx, roomID, from, m, false); err != nil {
			t.Fatalf("send %q: %v", m, err)
		}
	}
}

// TestState is the contract of State, run against Memory, against Redis on a real
// redis-server and on Valkey, and on a real three-node Redis Cluster: every key a script
// touches is in its room's slot, so the scripts run there as on one server.
func TestState(t *testing.T) {
	srv, valkey := redistest.Start(t), redistest.StartValkey(t)
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3).Addrs()})
	t.Cleanup(func() { rc.Close() })
	for _, impl := range []struct {
		name     string
		newFleet func(t *testing.T, n int) *fleet
	}{
		{"memory", func(_ *testing.T, n int) *fleet { return newMemoryFleet(n) }},
		{"redis", func(t *testing.T, n int) *fleet { return newRedisFleet(t, srv, n) }},
		{"valkey", func(t *testing.T, n int) *fleet { return newRedisFleet(t, valkey, n) }},
		{"redis cluster", func(_ *testing.T, n int) *fleet { return onRedis(rc, n) }},
	} {
		t.Run(impl.name, func(t *testing.T) { stateContract(t, impl.newFleet) })
	}
}

func stateContract(t *testing.T, newFleet func(t *testing.T, n int) *fleet) {
	t.Run("alone goes to the mailbox, two go to the queue", func(t *testing.T) {
		c := newFleet(t, 2)
		c.join(t, 0, "r", "A")
		sent, err := c.insts[0].Send(ctx, "r", "A", "offer", false)
		if err != nil || !sent.Stored {
			t.Fatalf("send alone = %+v, %v; want stored", sent, err)
		}
		if j := c.join(t, 1, "r", "B"); strings.Join(j.Messages, ",") != "offer" {
			t.Fatalf("joiner got %v, want the mailbox", j.Messages)
		}
		sent, err = c.insts[1].Send(ctx, "r", "B", "answer", false)
		if err != nil || sent.Stored || sent.PeerOwner != "" {
			t.Fatalf("send with two, peer offline = %+v, %v", sent, err)
		}
		if _, err := c.insts[1].Send(ctx, "r", "Z", "x", false); !errors.Is(err, ErrUnknownClient) {
			t.Fatalf("send from a stranger: %v", err)
		}
		// A removed client's last words (its socket drains after a DELETE) reach the peer.
		if _, err := c.insts[1].Remove(ctx, "r", "A"); err != nil {
			t.Fatal(err)
		}
		if sent, err := c.insts[1].Send(ctx, "r", "A", "bye", true); err != nil || sent.Dropped {
			t.Fatalf("orphan send = %+v, %v", sent, err)
		}
		reg, err := c.insts[0].Register(ctx, "r", "B", c.insts[0].Owner(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, msgs, _ := c.insts[0].Fetch(ctx, "r", "B", c.insts[0].Owner(1), 0, reg.Base, 10); strings.Join(msgs, ",") != "bye" {
			t.Fatalf("B's queue = %v, want the orphan's bye", msgs)
		}
	})

	t.Run("queue leaves only on confirm; the next socket anywhere gets the rest once", func(t *testing.T) {
		c := newFleet(t, 2)
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		mustSend(t, c.insts[1], "r", "A", "m0", "m1", "m2", "m3")
		own0 := c.insts[0].Owner(1)
		reg, err := c.insts[0].Register(ctx, "r", "B", own0)
		if err != nil || reg.Base != 0 || reg.Previous != "" {
			t.Fatalf("register = %+v, %v", reg, err)
		}
		at, msgs, err := c.insts[0].Fetch(ctx, "r", "B", own0, 0, reg.Base, 3)
		if err != nil || at != 0 || strings.Join(msgs, ",") != "m0,m1,m2" {
			t.Fatalf("fetch = %d %v %v", at, msgs, err)
		}
		if err := c.insts[0].Confirm(ctx, "r", "B", own0, 2); err != nil {
			t.Fatal(err)
		}
		// B's socket moves to instance 1 before m2 was confirmed: m2 and m3 come again,
		// m0 and m1 never.
		own1 := c.insts[1].Owner(7)
		reg, err = c.insts[1].Register(ctx, "r", "B", own1)
		if err != nil || reg.Base != 2 || reg.Previous != own0 {
			t.Fatalf("takeover register = %+v, %v", reg, err)
		}
		if err := c.insts[0].Confirm(ctx, "r", "B", own0, 3); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("confirm by the replaced socket = %v, want ErrNotOwner", err)
		}
		if _, _, err := c.insts[0].Fetch(ctx, "r", "B", own0, 0, 3, 10); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("fetch by the replaced socket = %v, want ErrNotOwner", err)
		}
		at, msgs, err = c.insts[1].Fetch(ctx, "r", "B", own1, 0, reg.Base, 10)
		if err != nil || at != 2 || strings.Join(msgs, ",") != "m2,m3" {
			t.Fatalf("fetch on the new socket = %d %v %v", at, msgs, err)
		}
		if err := c.insts[1].Confirm(ctx, "r", "B", own1, 4); err != nil {
			t.Fatal(err)
		}
		if _, msgs, _ := c.insts[1].Fetch(ctx, "r", "B", own1, 0, 4, 10); len(msgs) != 0 {
			t.Fatalf("after confirming all, fetch = %v", msgs)
		}
	})

	t.Run("a fetch trims what was confirmed before it reads; a replaced socket's trims nothing", func(t *testing.T) {
		c := newFleet(t, 2)
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		mustSend(t, c.insts[1], "r", "A", "m0", "m1", "m2", "m3", "m4")
		own0 := c.insts[0].Owner(1)
		if _, err := c.insts[0].Register(ctx, "r", "B", own0); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			confirmed, from int64
			limit           int
			wantAt          int64
			want            string
		}{
			{0, 0, 2, 0, "m0,m1"},
			{2, 2, 2, 2, "m2,m3"},
			// A confirmed index at or before the head trims nothing more, and a from
			// before the head reads from it.
			{1, 0, 1, 2, "m2"},
		}
		for _, st := range steps {
			at, msgs, err := c.insts[0].Fetch(ctx, "r", "B", own0, st.confirmed, st.from, st.limit)
			if err != nil || at != st.wantAt || strings.Join(msgs, ",") != st.want {
				t.Fatalf("fetch(confirmed %d, from %d) = %d %v %v, want %d %s", st.confirmed, st.from, at, msgs, err, st.wantAt, st.want)
			}
		}
		own1 := c.insts[1].Owner(7)
		reg, err := c.insts[1].Register(ctx, "r", "B", own1)
		if err != nil || reg.Base != 2 {
			t.Fatalf("takeover register = %+v, %v, want base 2 (trimmed by the fetch)", reg, err)
		}
		if _, _, err := c.insts[0].Fetch(ctx, "r", "B", own0, 4, 4, 10); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("fetch by the replaced socket = %v, want ErrNotOwner", err)
		}
		at, msgs, err := c.insts[1].Fetch(ctx, "r", "B", own1, 0, reg.Base, 10)
		if err != nil || at != 2 || strings.Join(msgs, ",") != "m2,m3,m4" {
			t.Fatalf("fetch on the new socket = %d %v %v, want 2 m2,m3,m4", at, msgs, err)
		}
	})

	t.Run("queue bounds", func(t *testing.T) {
		c := newFleet(t, 1)
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		big := strings.Repeat("x", protocol.MaxMessageBytes)
		for i := range protocol.MaxQueuedBytesPerSender / protocol.MaxMessageBytes {
			if _, err := c.insts[0].Send(ctx, "r", "A", big, false); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if _, err := c.insts[0].Send(ctx, "r", "A", big, false); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("over the bytes bound: %v, want ErrQueueFull", err)
		}
	})

	t.Run("grace: an instance that did not arm it reaps, once; a re-register keeps the client", func(t *testing.T) {
		c := newFleet(t, 3)
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		c.join(t, 0, "s", "C")
		own := c.insts[1].Owner(1)
		if _, err := c.insts[1].Register(ctx, "s", "C", own); err != nil {
			t.Fatal(err)
		}
		mustSend(t, c.insts[2], "r", "A", "for B 1", "for B 2")
		c.clock.add(grace - time.Second)
		if gone, err := c.insts[2].Reap(ctx, 100); err != nil || len(gone) != 0 {
			t.Fatalf("reap before the deadline = %v, %v", gone, err)
		}
		c.clock.add(2 * time.Second)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var removed []string
		for _, s := range c.insts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				gone, err := s.Reap(ctx, 100)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				for _, g := range gone {
					removed = append(removed, g.Room+"/"+g.Client)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(removed)
		if strings.Join(removed, ",") != "r/A,r/B" {
			t.Fatalf("removed %v, want r/A and r/B once each (C is online)", removed)
		}
		if n, _ := c.rooms.Occupancy(ctx, "r"); n != 0 {
			t.Fatalf("room r holds %d after its clients were reaped", n)
		}
		if n, _ := c.rooms.Occupancy(ctx, "s"); n != 1 {
			t.Fatalf("room s holds %d, want its online client", n)
		}
	})

	t.Run("hand-off: what the removed client was never written goes to the next joiner", func(t *testing.T) {
		c := newFleet(t, 2)
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		own := c.insts[0].Owner(1)
		if _, err := c.insts[0].Register(ctx, "r", "B", own); err != nil {
			t.Fatal(err)
		}
		mustSend(t, c.insts[1], "r", "A", "seen", "unseen1", "unseen2")
		if _, _, err := c.insts[0].Fetch(ctx, "r", "B", own, 0, 0, 1); err != nil {
			t.Fatal(err)
		}
		gone, err := c.insts[1].Remove(ctx, "r", "B")
		if err != nil || gone.Owner != own || gone.HandedOff != 2 {
			t.Fatalf("remove = %+v, %v; want B's socket named for closing, 2 messages handed off", gone, err)
		}
		j := c.join(t, 1, "r", "C")
		if j.IsInitiator || strings.Join(j.Messages, ",") != "unseen1,unseen2" {
			t.Fatalf("newcomer = %+v; want the two messages B never got", j)
		}
		if _, err := c.insts[0].Register(ctx, "r", "B", own); !errors.Is(err, ErrUnknownClient) {
			t.Fatalf("register after removal = %v, want ErrUnknownClient", err)
		}
		if err := c.insts[0].Confirm(ctx, "r", "B", own, 1); !errors.Is(err, ErrRemoved) {
			t.Fatalf("confirm after removal = %v, want ErrRemoved (not a takeover)", err)
		}
		// Its draining socket closes later: nothing to take offline, no error to retry.
		if err := c.insts[0].Detach(ctx, "r", "B", own); err != nil {
			t.Fatalf("detach after removal = %v, want nil", err)
		}
	})

}

// TestRedisState is what only Redis has: several instances, their heartbeats and notices,
// on one redis-server, on Valkey and on a three-node Redis Cluster.
func TestRedisState(t *testing.T) {
	srv, valkey := redistest.Start(t), redistest.StartValkey(t)
	t.Run("redis", func(t *testing.T) {
		redisContract(t, func(t *testing.T, n int) *fleet { return newRedisFleet(t, srv, n) })
	})
	t.Run("valkey", func(t *testing.T) {
		redisContract(t, func(t *testing.T, n int) *fleet { return newRedisFleet(t, valkey, n) })
	})
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3).Addrs()})
	t.Cleanup(func() { rc.Close() })
	t.Run("redis cluster", func(t *testing.T) {
		redisContract(t, func(_ *testing.T, n int) *fleet { return onRedis(rc, n) })
	})
}

func redisContract(t *testing.T, newFleet func(t *testing.T, n int) *fleet) {
	t.Run("a retried send is queued once", func(t *testing.T) {
		c := newFleet(t, 1)
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		s := c.rinsts[0]
		tok := s.newToken()
		for range 2 { // the answer to the first was lost: same token again
			if _, err := s.sendOnce(ctx, "r", "A", "once", false, tok); err != nil {
				t.Fatal(err)
			}
		}
		mustSend(t, s, "r", "A", "next")
		own := s.Owner(1)
		reg, _ := s.Register(ctx, "r", "B", own)
		if _, msgs, _ := s.Fetch(ctx, "r", "B", own, 0, reg.Base, 10); strings.Join(msgs, ",") != "once,next" {
			t.Fatalf("queue = %v, want once,next", msgs)
		}
	})

	t.Run("a dead instance's clients are reaped by the others", func(t *testing.T) {
		c := newFleet(t, 2)
		for _, s := range c.rinsts {
			if _, err := s.heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
		}
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		for i, id := range []string{"A", "B"} {
			if _, err := c.rinsts[0].Register(ctx, "r", id, c.rinsts[0].Owner(uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := c.rinsts[1].countAlive(ctx, 5*time.Second); n != 2 {
			t.Fatalf("alive = %d, want 2", n)
		}
		// Instance 0 stops heartbeating (SIGKILL); instance 1 goes on.
		c.clock.add(6 * time.Second)
		c.rinsts[1].heartbeat(ctx)
		if n, _ := c.rinsts[1].countAlive(ctx, 5*time.Second); n != 1 {
			t.Fatalf("alive = %d, want 1", n)
		}
		dead, err := c.rinsts[1].reapInstances(ctx, 5*time.Second)
		if err != nil || strings.Join(dead, ",") != "i0" {
			t.Fatalf("dead = %v, %v", dead, err)
		}
		c.clock.add(grace + time.Second)
		gone, err := c.rinsts[1].Reap(ctx, 100)
		if err != nil || len(gone) != 2 {
			t.Fatalf("reaped %v, %v; want both clients of the dead instance", gone, err)
		}
		if j := c.join(t, 1, "r", "C"); !j.IsInitiator {
			t.Fatalf("room not free after the dead instance's clients were reaped")
		}
	})

	t.Run("wake-ups go to the instance holding the recipient's socket", func(t *testing.T) {
		c := newFleet(t, 2)
		sub := c.rdb.Subscribe(ctx, c.rinsts[0].wakeChannel("i0"))
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		c.join(t, 0, "r", "A")
		c.join(t, 0, "r", "B")
		own := c.rinsts[0].Owner(1)
		if _, err := c.rinsts[0].Register(ctx, "r", "B", own); err != nil {
			t.Fatal(err)
		}
		sent, err := c.rinsts[1].Send(ctx, "r", "A", "hi", false)
		if err != nil || sent.PeerOwner != own {
			t.Fatalf("send = %+v, %v", sent, err)
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		msg, err := sub.ReceiveMessage(tctx)
		if err != nil || msg.Payload != "w r B" {
			t.Fatalf("wake = %v, %v; want \"w r B\"", msg, err)
		}
		// A takeover from instance 1 tells instance 0 which socket to close.
		if _, err := c.rinsts[1].Register(ctx, "r", "B", c.rinsts[1].Owner(2)); err != nil {
			t.Fatal(err)
		}
		msg, err = sub.ReceiveMessage(tctx)
		if err != nil || msg.Payload != "t r B "+own {
			t.Fatalf("takeover notice = %v, %v", msg, err)
		}
	})

	// An instance judged dead may only have been paused (SIGSTOP, a frozen VM, a starved
	// machine) with its sockets still open: it takes its clients back, with what was queued
	// for them meanwhile, unless another socket registered them or their grace ran out.
	t.Run("a paused instance takes its clients back", func(t *testing.T) {
		tests := []struct {
			name string
			// meanwhile happens while instance 0 is judged dead.
			meanwhile func(t *testing.T, c *fleet, lost string)
			want      error // of instance 0's reclaim of A
		}{
			{"nothing else happened", func(*testing.T, *fleet, string) {}, nil},
			{"A registered on another instance", func(t *testing.T, c *fleet, lost string) {
				reg, err := c.rinsts[1].Register(ctx, "r", "A", c.rinsts[1].Owner(7))
				if err != nil || reg.Previous != lost {
					t.Fatalf("register = %+v, %v; want the lost socket %s as the one replaced", reg, err, lost)
				}
			}, ErrNotOwner},
			{"A's lost socket closed", func(t *testing.T, c *fleet, lost string) {
				if err := c.rinsts[0].Detach(ctx, "r", "A", lost); !errors.Is(err, ErrNotOwner) {
					t.Fatalf("detach of the lost socket = %v, want ErrNotOwner", err)
				}
			}, ErrNotOwner},
			{"A's grace period ended", func(t *testing.T, c *fleet, lost string) {
				c.clock.add(grace + time.Second)
				c.rinsts[1].heartbeat(ctx)
				if gone, err := c.rinsts[1].Reap(ctx, 10); err != nil || len(gone) != 1 {
					t.Fatalf("reaped %v, %v; want A", gone, err)
				}
			}, ErrRemoved},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := newFleet(t, 2)
				for i, s := range c.rinsts {
					if missing, err := s.heartbeat(ctx); err != nil || !missing {
						t.Fatalf("first heartbeat of %d = %v, %v; want missing", i, missing, err)
					}
				}
				c.join(t, 0, "r", "A")
				c.join(t, 1, "r", "B")
				ownA, ownB := c.rinsts[0].Owner(1), c.rinsts[1].Owner(1)
				if _, err := c.rinsts[0].Register(ctx, "r", "A", ownA); err != nil {
					t.Fatal(err)
				}
				if _, err := c.rinsts[1].Register(ctx, "r", "B", ownB); err != nil {
					t.Fatal(err)
				}
				mustSend(t, c.rinsts[1], "r", "B", "m0")
				// Instance 0 pauses; instance 1 judges it dead and takes A offline.
				c.clock.add(6 * time.Second)
				if missing, err := c.rinsts[1].heartbeat(ctx); err != nil || missing {
					t.Fatalf("heartbeat of 1 = %v, %v", missing, err)
				}
				if dead, err := c.rinsts[1].reapInstances(ctx, 5*time.Second); err != nil || strings.Join(dead, ",") != "i0" {
					t.Fatalf("dead = %v, %v", dead, err)
				}
				sent, err := c.rinsts[1].Send(ctx, "r", "B", "m1", false)
				if err != nil || sent.PeerOwner != "" {
					t.Fatalf("send to the offline A = %+v, %v", sent, err)
				}
				tt.meanwhile(t, c, ownA)
				// Instance 0 runs again: its heartbeat finds it missing.
				if missing, err := c.rinsts[0].heartbeat(ctx); err != nil || !missing {
					t.Fatalf("heartbeat of the paused instance = %v, %v; want missing", missing, err)
				}
				err = c.rinsts[0].Reclaim(ctx, "r", "A", ownA)
				if !errors.Is(err, tt.want) {
					t.Fatalf("reclaim = %v, want %v", err, tt.want)
				}
				if _, _, ferr := c.rinsts[0].Fetch(ctx, "r", "A", ownA, 0, 0, 10); tt.want != nil && !errors.Is(ferr, tt.want) {
					t.Fatalf("fetch by the lost socket = %v, want %v", ferr, tt.want)
				}
				if tt.want != nil {
					return
				}
				at, msgs, err := c.rinsts[0].Fetch(ctx, "r", "A", ownA, 0, 0, 10)
				if err != nil || at != 0 || strings.Join(msgs, ",") != "m0,m1" {
					t.Fatalf("fetch after reclaim = %d %v %v; want m0,m1 from 0", at, msgs, err)
				}
				owned, _ := c.rdb.SMembers(ctx, c.rinsts[0].ownedKey("i0")).Result()
				if !slices.Equal(owned, []string{"r A"}) {
					t.Fatalf("instance 0 owns %q, want A again (for the others, should it die)", owned)
				}
				// Online again: its old deadline never removes it.
				c.clock.add(grace + time.Second)
				if gone, err := c.rinsts[1].Reap(ctx, 10); err != nil || len(gone) != 0 {
					t.Fatalf("reaped %v, %v; want nobody", gone, err)
				}
			})
		}
		// Without Reclaim, the lost socket's next confirm or fetch takes the client back.
		t.Run("by its next confirm", func(t *testing.T) {
			c := newFleet(t, 2)
			for _, s := range c.rinsts {
				s.heartbeat(ctx)
			}
			c.join(t, 0, "r", "A")
			c.join(t, 1, "r", "B")
			ownA := c.rinsts[0].Owner(1)
			if _, err := c.rinsts[0].Register(ctx, "r", "A", ownA); err != nil {
				t.Fatal(err)
			}
			mustSend(t, c.rinsts[1], "r", "B", "m0")
			if _, msgs, err := c.rinsts[0].Fetch(ctx, "r", "A", ownA, 0, 0, 10); err != nil || len(msgs) != 1 {
				t.Fatalf("fetch = %v, %v", msgs, err)
			}
			c.clock.add(6 * time.Second)
			c.rinsts[1].heartbeat(ctx)
			if _, err := c.rinsts[1].reapInstances(ctx, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := c.rinsts[0].Confirm(ctx, "r", "A", ownA, 1); err != nil {
				t.Fatalf("confirm by the paused instance's socket = %v", err)
			}
			if owner, _ := c.rdb.HGet(ctx, c.rinsts[0].base("r")+"c:A", "owner").Result(); owner != ownA {
				t.Fatalf("owner = %q, want %q", owner, ownA)
			}
		})
	})

	t.Run("each instance lists the live others' TURN servers, never a dead one", func(t *testing.T) {
		c := newFleet(t, 3)
		uris := func(i int) []string {
			return []string{fmt.Sprintf("turn:10.0.0.%d:3478?transport=udp", i), fmt.Sprintf("turn:10.0.0.%d:3478?transport=tcp", i)}
		}
		for i, s := range c.rinsts {
			if _, err := s.heartbeat(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.AdvertiseTURN(ctx, uris(i)); err != nil {
				t.Fatal(err)
			}
		}
		peerSet := func(inst int) []string {
			t.Helper()
			got, err := c.rinsts[inst].PeerTURN(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var flat []string
			for _, g := range got {
				flat = append(flat, strings.Join(g, " "))
			}
			slices.Sort(flat)
			return flat
		}
		want := []string{strings.Join(uris(1), " "), strings.Join(uris(2), " ")}
		if got := peerSet(0); !slices.Equal(got, want) {
			t.Fatalf("instance 0 sees %q, want %q", got, want)
		}
		// Instance 2 dies (no more heartbeats): it leaves the others' lists before it is reaped.
		c.clock.add(6 * time.Second)
		c.rinsts[0].heartbeat(ctx)
		c.rinsts[1].heartbeat(ctx)
		if got, want := peerSet(0), []string{strings.Join(uris(1), " ")}; !slices.Equal(got, want) {
			t.Fatalf("after instance 2 died, instance 0 sees %q, want %q", got, want)
		}
		if _, err := c.rinsts[0].reapInstances(ctx, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if n, _ := c.rdb.HLen(ctx, c.rinsts[0].turnKey()).Result(); n != 2 {
			t.Fatalf("TURN directory holds %d instances after the reap, want 2", n)
		}
		// Instance 1 stops cleanly.
		if err := c.rinsts[1].WithdrawTURN(ctx); err != nil {
			t.Fatal(err)
		}
		if got := peerSet(0); len(got) != 0 {
			t.Fatalf("after instance 1 withdrew, instance 0 sees %q, want none", got)
		}
	})
}
