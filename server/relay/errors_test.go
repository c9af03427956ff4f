package relay

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/internal/testkit/redistest"
	"github.com/onertc/onertc/internal/testkit/testsync"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/relaystate"
	roomtable "github.com/onertc/onertc/server/room"
)

// With Redis gone, the relay's background passes fail every half second and its leave at
// shutdown fails too: each failure is counted, and the log has one line per kind, not one
// per failure.
func TestRelayCountsBackgroundFailures(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	var logs testsync.Buffer
	errs := errcount.New(slog.New(slog.NewJSONHandler(&logs, nil)), time.Hour)
	rooms := roomtable.NewRedis(rdb, "bg:").ReportTo(errs)
	state := relaystate.NewRedis(rdb, rooms, "bg:", "i0", time.Second).ReportTo(errs)
	r := New(Config{State: state, Errors: errs, Grace: time.Second})
	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	testsync.Eventually(t, 10*time.Second, "several failed reaping passes", func() bool {
		return errs.Count(errcount.RelayReap) >= 3
	})
	cancel()
	<-done
	if n := errs.Count(errcount.RelayLeave); n != 1 {
		t.Errorf("relay_leave errors = %d, want 1 (Leave with Redis gone)", n)
	}
	for _, op := range []errcount.Op{errcount.RelayReap, errcount.RelayLeave} {
		if n := strings.Count(logs.String(), `"op":"`+string(op)+`"`); n != 1 {
			t.Errorf("%d log lines for %s, want 1:\n%s", n, op, logs.String())
		}
	}
}

// A socket that closes while Redis is away cannot be taken offline there: the state tries
// again, backing off, and each failed try is counted while the log has one line.
func TestRelayCountsRetriedStateOperations(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	var logs testsync.Buffer
	errs := errcount.New(slog.New(slog.NewJSONHandler(&logs, nil)), time.Hour)
	rooms := roomtable.NewRedis(rdb, "retry:").ReportTo(errs)
	state := relaystate.NewRedis(rdb, rooms, "retry:", "i0", time.Minute).ReportTo(errs)
	r := New(Config{State: state, Errors: errs})
	hs := httptest.NewServer(http.HandlerFunc(r.ServeWS))
	t.Cleanup(func() { hs.Close(); r.Close() })
	if _, err := rooms.Join(context.Background(), "r", func() string { return "A" }); err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: "r", ClientID: "A"}); err != nil {
		t.Fatal(err)
	}
	testsync.Eventually(t, 5*time.Second, "A online", func() bool { return r.Stats().Online == 1 })
	srv.Stop()
	ws.Close()
	testsync.Eventually(t, 10*time.Second, "several failed detach attempts", func() bool {
		return errs.Count(errcount.RelayRetry) >= 3
	})
	if n := strings.Count(logs.String(), `"op":"relay_retry"`); n != 1 {
		t.Errorf("%d log lines for %d failed attempts, want 1:\n%s", n, errs.Count(errcount.RelayRetry), logs.String())
	}
	// Redis back (empty: no persistence): the next attempt goes through, arming A's grace
	// deadline, and the retries end.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	testsync.Eventually(t, 10*time.Second, "a detach attempt to go through", func() bool {
		return rdb.ZScore(context.Background(), "retry:grace", "r A").Err() == nil
	})
}
