package room

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
)

// Redis is the Store that several instances share. Each operation is one Lua script on the
// keys of one room, so it is atomic without WATCH retry loops, and every key of a room
// carries the room id as its hash tag ({room}) so the script stays in one slot of a Redis
// Cluster. A room is:
//
//	PREFIX{room}:clients  list of client ids in join order
//	PREFIX{room}:mailbox  list of the messages of the client that is alone
//	PREFIX{room}:mbytes   total bytes of the mailbox
//
// Only a client that is alone stores messages, and the second join takes them all, so one
// mailbox per room holds what Memory keeps per client. Outside any room, PREFIX stats is a
// hash of the counters Stats reads (rooms, clients) and, per process that changed them,
// w:WRITER with its running totals (see count): some 40 bytes per process start.
type Redis struct {
	rdb    redis.Cmdable
	prefix string
	errs   *errcount.Counter

	// writer names this process's contribution to the counters Stats reads (see count).
	writer string
	// mu guards what count keeps: made is the change this process made to the counters
	// since it started, clients then rooms; seq numbers the attempts to write it; acked is
	// the last attempt Redis acknowledged.
	mu       sync.Mutex
	made     [2]int64
	seq      int64
	acked    [2]int64
	ackedSeq int64
}

// NewRedis returns the room table kept in rdb under keys starting with prefix (e.g.
// "onertc:"), so several deployments can share one Redis.
func NewRedis(rdb redis.Cmdable, prefix string) *Redis {
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (it panics instead)
	return &Redis{rdb: rdb, prefix: prefix, writer: hex.EncodeToString(id[:])}
}

// ReportTo makes errs count the errors of the table's bookkeeping (its counters), which
// no caller waits for. Call it before the table is used.
func (r *Redis) ReportTo(errs *errcount.Counter) *Redis {
	r.errs = errs
	return r
}

// keys returns the keys of room roomID the room scripts take: clients, mailbox, mailbox
// bytes.
func (r *Redis) keys(roomID string) []string {
	base := RedisRoomKey(r.prefix, roomID)
	return []string{base + "clients", base + "mailbox", base + "mbytes"}
}

// RedisRoomKey is the start of every key of roomID, PREFIX{room}: , the room table's and the
// relay's alike, so that all of them hash to one Redis Cluster slot. The room table's are
// that plus "clients", "mailbox" and "mbytes".
func RedisRoomKey(prefix, roomID string) string { return prefix + "{" + roomID + "}:" }

// CountRemoved updates the counters Stats reads for a removal done by another script on
// the room's keys (the relay's): one client fewer, and one room fewer when it emptied.
func (r *Redis) CountRemoved(ctx context.Context, emptied bool) { r.count(ctx, -1, emptied) }

func (r *Redis) statsKey() string { return r.prefix + "stats" }

// The scripts answer with a status word first; room rules live here, in one place per
// operation, so the Go side only translates words into errors.
var (
	joinScript = redis.NewScript(`
local n = redis.call('LLEN', KEYS[1])
if n >= tonumber(ARGV[2]) then return {'full'} end
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if id == ARGV[1] then return {'taken'} end
end
local out = {'ok', tostring(n)}
for _, m in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out+1] = m end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('RPUSH', KEYS[1], ARGV[1])
return out`)

	messageScript = redis.NewScript(RedisMailboxLua + `
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
if #ids == 0 then return 'noroom' end
local found = false
for _, id in ipairs(ids) do if id == ARGV[1] then found = true end end
if not found then return 'noclient' end
if #ids > 1 then return 'relay' end
local r = mailbox_store(KEYS[2], KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV, 4)
if r == 'ok' then return 'stored' end
return r`)

	removeScript = redis.NewScript(RedisMailboxLua + `
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 'none' end
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 'emptied'
end
return mailbox_store(KEYS[2], KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV, 4)`)
)

// RedisMailboxLua defines mailbox_store(mb, mbytes, maxn, maxb, msgs, first): it appends
// msgs[first..] to the mailbox list mb while they fit maxn messages and maxb bytes (the
// total kept in mbytes) and answers 'ok' or 'mailboxfull'. The relay's scripts store in
// the same mailbox with it.
const RedisMailboxLua = `
local function mailbox_store(mb, mbytes, maxn, maxb, msgs, first)
  local n = redis.call('LLEN', mb)
  local b = tonumber(redis.call('GET', mbytes) or '0')
  for i = first, #msgs do
    if n + 1 > maxn or b + #msgs[i] > maxb then return 'mailboxfull' end
    redis.call('RPUSH', mb, msgs[i])
    n, b = n + 1, b + #msgs[i]
    redis.call('SET', mbytes, b)
  end
  return 'ok'
end
`

// Join implements Store.
func (r *Redis) Join(ctx context.Context, roomID string, newID func() string) (Joined, error) {
	if !protocol.ValidID(roomID) {
		return Joined{}, fmt.Errorf("join room %q: %w", roomID, ErrInvalidID)
	}
	keys := r.keys(roomID)
	for {
		id := newID()
		res, err := joinScript.Run(ctx, r.rdb, keys, id, protocol.RoomCapacity).StringSlice()
		if err != nil {
			return Joined{}, fmt.Errorf("join room %q: %w", roomID, err)
		}
		switch res[0] {
		case "full":
			return Joined{}, fmt.Errorf("join room %q: %w", roomID, ErrFull)
		case "taken":
			continue
		}
		before, _ := strconv.Atoi(res[1])
		r.count(ctx, 1, before == 0)
		return Joined{ClientID: id, IsInitiator: before == 0, Messages: append([]string{}, res[2:]...)}, nil
	}
}

// Message implements Store.
func (r *Redis) Message(ctx context.Context, roomID, clientID, msg string) (bool, error) {
	if !protocol.ValidID(roomID) {
		return false, fmt.Errorf("message in room %q: %w", roomID, ErrUnknownRoom)
	}
	res, err := messageScript.Run(ctx, r.rdb, r.keys(roomID), clientID,
		protocol.MaxMailbox, protocol.MaxQueuedBytesPerSender, msg).Text()
	if err != nil {
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, err)
	}
	switch res {
	case "stored":
		return true, nil
	case "relay":
		return false, nil
	case "noroom":
		return false, fmt.Errorf("message in room %q: %w", roomID, ErrUnknownRoom)
	case "noclient":
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	case "mailboxfull":
		return false, fmt.Errorf("message from %q in room %q: %w", clientID, roomID, ErrMailboxFull)
	}
	return false, fmt.Errorf("message from %q in room %q: unexpected answer %q", clientID, roomID, res)
}

// Remove implements Store.
func (r *Redis) Remove(ctx context.Context, roomID, clientID string, handoff []string) error {
	if !protocol.ValidID(roomID) {
		return nil
	}
	args := make([]any, 0, 3+len(handoff))
	args = append(args, clientID, protocol.MaxMailbox, protocol.MaxQueuedBytesPerSender)
	for _, m := range handoff {
		args = append(args, m)
	}
	res, err := removeScript.Run(ctx, r.rdb, r.keys(roomID), args...).Text()
	if err != nil {
		return fmt.Errorf("remove %q from room %q: %w", clientID, roomID, err)
	}
	switch res {
	case "none":
		return nil
	case "emptied":
		r.count(ctx, -1, true)
		return nil
	case "mailboxfull":
		r.count(ctx, -1, false)
		return fmt.Errorf("hand off in room %q: %w", roomID, ErrMailboxFull)
	}
	r.count(ctx, -1, false)
	return nil
}

// Occupancy implements Store.
func (r *Redis) Occupancy(ctx context.Context, roomID string) (int, error) {
	if !protocol.ValidID(roomID) {
		return 0, nil
	}
	n, err := r.rdb.LLen(ctx, r.keys(roomID)[0]).Result()
	if err != nil {
		return 0, fmt.Errorf("occupancy of room %q: %w", roomID, err)
	}
	return int(n), nil
}

// Member reports whether clientID is in the room: joined and not removed.
func (r *Redis) Member(ctx context.Context, roomID, clientID string) (bool, error) {
	if !protocol.ValidID(roomID) || !protocol.ValidID(clientID) {
		return false, nil
	}
	err := r.rdb.LPos(ctx, r.keys(roomID)[0], clientID, redis.LPosArgs{}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("is %q in room %q: %w", clientID, roomID, err)
	}
	return true, nil
}

// count keeps the counters Stats reads. They live outside the rooms' slots (a script may
// touch only one), so they are updated after the script, and that update may fail on its
// own (Redis away, a timeout) when the room's script went through. A lost increment would
// leave the gauges wrong for good, so this process keeps the total change it made and
// writes that total, not the step: a failed write is made good by the next one (by the
// next change, or by Stats), and a write that times out and still runs later (a frozen
// Redis) counts once, since statsScript applies only what its field does not hold yet.
// An instance that dies between a room script and its write still leaves the counters
// off by that step.
func (r *Redis) count(ctx context.Context, clients int, roomChanged bool) {
	step := [2]int64{int64(clients), 0}
	if roomChanged {
		step[1] = int64(clients)
	}
	r.mu.Lock()
	r.made[0] += step[0]
	r.made[1] += step[1]
	r.mu.Unlock()
	r.errs.Add(errcount.RoomStats, r.syncCounts(ctx, step), "prefix", r.prefix)
}

// statsScript adds to the counters in KEYS[1] what writer ARGV[1]'s totals (ARGV[3]
// clients, ARGV[4] rooms, as of its attempt ARGV[2]) add to what its field w:WRITER holds,
// and keeps them there; an older attempt than the field's changes nothing. A writer that
// wrote before (ARGV[7] is 1) and finds no field finds a Redis that lost its data (a
// restart without persistence, a flush): the rooms its earlier changes were about are
// gone, so only the step of this attempt (ARGV[5] clients, ARGV[6] rooms) is applied.
var statsScript = redis.NewScript(`
local f = 'w:' .. ARGV[1]
local seq, c, r = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ps, pc, pr = 0, 0, 0
local prev = redis.call('HGET', KEYS[1], f)
if prev then
  local a, b, d = string.match(prev, '^(%-?%d+) (%-?%d+) (%-?%d+)$')
  ps, pc, pr = tonumber(a), tonumber(b), tonumber(d)
elseif ARGV[7] == '1' then
  pc, pr = c - tonumber(ARGV[5]), r - tonumber(ARGV[6])
end
if seq <= ps then return 0 end
if c ~= pc then redis.call('HINCRBY', KEYS[1], 'clients', c - pc) end
if r ~= pr then redis.call('HINCRBY', KEYS[1], 'rooms', r - pr) end
redis.call('HSET', KEYS[1], f, ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
return 1`)

// syncCounts writes this process's totals to the counters (see count); step is the change
// that asks for it (none from Stats).
func (r *Redis) syncCounts(ctx context.Context, step [2]int64) error {
	r.mu.Lock()
	r.seq++
	seq, made, wrote := r.seq, r.made, r.ackedSeq > 0
	r.mu.Unlock()
	again := 0
	if wrote {
		again = 1
	}
	err := statsScript.Run(ctx, r.rdb, []string{r.statsKey()}, r.writer, seq, made[0], made[1], step[0], step[1], again).Err()
	if err != nil {
		return fmt.Errorf("room counters: %w", err)
	}
	r.mu.Lock()
	if seq > r.ackedSeq {
		r.ackedSeq, r.acked = seq, made
	}
	r.mu.Unlock()
	return nil
}

// dirty reports whether some change of this process has not reached the counters.
func (r *Redis) dirty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked != r.made
}

// Stats implements Store, from counters (see count), so it costs one round trip however
// many rooms there are. Changes of this process whose write failed are written first: after an outage the
// gauges are right again at the first scrape, even when no room has changed since.
func (r *Redis) Stats(ctx context.Context) (Stats, error) {
	if r.dirty() {
		r.errs.Add(errcount.RoomStats, r.syncCounts(ctx, [2]int64{}), "prefix", r.prefix)
	}
	vals, err := r.rdb.HMGet(ctx, r.statsKey(), "rooms", "clients").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, fmt.Errorf("room stats: %w", err)
	}
	num := func(v any) int {
		s, _ := v.(string)
		n, _ := strconv.Atoi(s)
		return max(n, 0)
	}
	return Stats{Rooms: num(vals[0]), Clients: num(vals[1])}, nil
}
