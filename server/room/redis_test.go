package room_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/roomtest"
	"github.com/onertc/onertc/server/room"
)

func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	var n atomic.Int32
	// Each store gets its own key prefix, as separate deployments sharing one Redis would.
	roomtest.Contract(t, func(*testing.T) room.Store { return room.NewRedis(rdb, fmt.Sprintf("t%d:", n.Add(1))) })
}

// Valkey, the fork of Redis 7.2, runs the same scripts.
func TestValkey(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redistest.StartValkey(t).Addr})
	t.Cleanup(func() { rdb.Close() })
	var n atomic.Int32
	roomtest.Contract(t, func(*testing.T) room.Store { return room.NewRedis(rdb, fmt.Sprintf("t%d:", n.Add(1))) })
}

// Every key of a room carries its hash tag, so each script runs in one slot of a Redis
// Cluster: the same contract holds on a real three-node cluster.
func TestRedisCluster(t *testing.T) {
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.StartCluster(t, 3).Addrs()})
	t.Cleanup(func() { rc.Close() })
	var n atomic.Int32
	roomtest.Contract(t, func(*testing.T) room.Store { return room.NewRedis(rc, fmt.Sprintf("t%d:", n.Add(1))) })
}

func TestRedisErrorsWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s := room.NewRedis(rdb, "down:")
	roomtest.MustJoin(t, s, "r", "A")
	srv.Stop()
	if _, err := s.Join(context.Background(), "r", roomtest.IDs("B")); err == nil || errors.Is(err, room.ErrFull) {
		t.Fatalf("join with Redis down = %v, want a connection error", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// Nothing was persisted (redistest runs without persistence): the room starts over.
	if j := roomtest.MustJoin(t, s, "r", "B"); !j.IsInitiator {
		t.Fatalf("join after Redis came back = %+v, want initiator of a fresh room", j)
	}
}
