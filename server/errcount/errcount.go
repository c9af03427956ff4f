// Package errcount counts the errors of operations that have no caller to hand them to
// (bookkeeping done after the answer is known, cleanup, notices to other instances) and
// logs them at most once per operation per interval, saying how many it kept quiet: an
// outage of Redis fails thousands of them a second, and one line per burst is what an
// operator can read. The counts become onertc_errors_total{op}.
package errcount

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Op names an operation. The set is fixed (Ops) so that metric labels stay few.
type Op string

// The operations whose errors are counted.
const (
	// RoomStats: updating the room table's room and client counters in Redis.
	RoomStats Op = "room_stats"
	// StatsRead: reading those counters for a metrics scrape.
	StatsRead Op = "stats_read"
	// RelayIndex: keeping or reading the relay state's indexes in Redis (grace
	// deadlines, sockets owned per instance, the instance list) outside the scripts.
	RelayIndex Op = "relay_index"
	// RelayNotice: publishing a notice (wake-up, takeover, removal, probe) to an instance.
	RelayNotice Op = "relay_notice"
	// RelayLeave: taking this instance off the live list at shutdown.
	RelayLeave Op = "relay_leave"
	// RelayReap: the relay's periodic pass over expired clients and silent instances,
	// which an outage fails every half second.
	RelayReap Op = "relay_reap"
	// RelayRetry: a State operation the relay does for a socket and tries again on
	// failure (fetch, confirm, detach, reclaim): an outage fails it for every socket.
	RelayRetry Op = "relay_retry"
)

// Ops lists every Op, in the order metrics show them.
var Ops = []Op{RoomStats, StatsRead, RelayIndex, RelayNotice, RelayLeave, RelayReap, RelayRetry}

// DefaultEvery is how often one operation's errors may be logged.
const DefaultEvery = 10 * time.Second

// Counter counts errors by Op and logs them. Its methods are safe for concurrent use; a
// nil *Counter counts and logs nothing, for components built on their own in tests.
type Counter struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time
	// counts is filled once by New and only read after: no lock on the counting path.
	counts map[Op]*atomic.Int64

	mu    sync.Mutex
	last  map[Op]time.Time // when the op was last logged
	quiet map[Op]int64     // errors of the op not logged since
}

// New returns a Counter that logs to log (discarded when nil) at most once per op per
// every (DefaultEvery when not positive).
func New(log *slog.Logger, every time.Duration) *Counter {
	return newWithClock(log, every, time.Now)
}

func newWithClock(log *slog.Logger, every time.Duration, now func() time.Time) *Counter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = DefaultEvery
	}
	c := &Counter{log: log, every: every, now: now, counts: make(map[Op]*atomic.Int64, len(Ops)),
		last: make(map[Op]time.Time), quiet: make(map[Op]int64)}
	for _, op := range Ops {
		c.counts[op] = new(atomic.Int64)
	}
	return c
}

// Add counts err against op and logs it, with attrs, unless op was logged less than the
// interval ago; the next line that is logged says how many were not. A nil err is not
// counted, so callers can pass an operation's result straight in. An op outside Ops is a
// programming error and panics, so it cannot slip out of the metric.
func (c *Counter) Add(op Op, err error, attrs ...any) {
	if c == nil || err == nil {
		return
	}
	n, ok := c.counts[op]
	if !ok {
		panic("errcount: unknown op " + string(op))
	}
	n.Add(1)
	now := c.now()
	c.mu.Lock()
	if last, seen := c.last[op]; seen && now.Sub(last) < c.every {
		c.quiet[op]++
		c.mu.Unlock()
		return
	}
	suppressed := c.quiet[op]
	c.last[op], c.quiet[op] = now, 0
	c.mu.Unlock()
	args := append([]any{"op", string(op), "err", err, "suppressed", suppressed}, attrs...)
	c.log.Warn("background operation failed", args...)
}

// Count is the number of errors counted against op.
func (c *Counter) Count(op Op) int64 {
	if c == nil {
		return 0
	}
	if n, ok := c.counts[op]; ok {
		return n.Load()
	}
	return 0
}
