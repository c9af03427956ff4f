package relaystate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/redisconn"
	"github.com/onertc/onertc/server/room"
)

// Redis is one instance's handle on the shared relay state.
type Redis struct {
	rdb      redis.UniversalClient
	rooms    *room.Redis
	prefix   string
	instance string
	grace    time.Duration
	now      func() time.Time
	tokens   atomic.Uint64
	tuning   Tuning
	// errs counts what fails after the script that decided (index upkeep, notices):
	// nobody waits for it, and most of it is made good by a later pass (see ReportTo).
	errs *errcount.Counter

	// onEmptied, if set, hears of each room a removal emptied (OnEmptied).
	onEmptied func(ctx context.Context, roomID string)

	// What Run's heartbeats found (see redis_run.go).
	healthy atomic.Bool
	alive   atomic.Int64
	// steadySince is when this instance's heartbeats last started to come without a gap
	// (unix ns; 0 while Redis is unreachable); lastBeat when the last one reached Redis.
	steadySince, lastBeat atomic.Int64
}

// Tuning is how a Redis state waits and retries.
type Tuning struct {
	// Hold is how long an operation Redis cannot take (an outage) is held and retried
	// before it fails: an outage shorter than this loses nothing.
	Hold time.Duration
	// Attempt bounds one try of an operation.
	Attempt time.Duration
	// InstanceTimeout is how long an instance may miss heartbeats before the others take
	// its clients offline.
	InstanceTimeout time.Duration
	// Logger is told about heartbeats failing and instances judged dead.
	Logger *slog.Logger
}

// defaultTuning is what NewRedis starts with.
func defaultTuning() Tuning {
	return Tuning{Hold: 15 * time.Second, Attempt: 3 * time.Second, InstanceTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
}

// NewRedis returns the relay state in rdb under prefix for the instance named instance
// (unique among the live instances), whose offline clients are removed after grace. rooms
// is the room table on the same keys, whose counters removals keep.
func NewRedis(rdb redis.UniversalClient, rooms *room.Redis, prefix, instance string, grace time.Duration) *Redis {
	return &Redis{rdb: rdb, rooms: rooms, prefix: prefix, instance: instance, grace: grace, now: time.Now,
		tuning: defaultTuning()}
}

// Tune replaces the tuning's non-zero fields. Call it before use.
func (s *Redis) Tune(t Tuning) *Redis {
	if t.Hold > 0 {
		s.tuning.Hold = t.Hold
	}
	if t.Attempt > 0 {
		s.tuning.Attempt = t.Attempt
	}
	if t.InstanceTimeout > 0 {
		s.tuning.InstanceTimeout = t.InstanceTimeout
	}
	if t.Logger != nil {
		s.tuning.Logger = t.Logger
	}
	return s
}

// Hold implements State.
func (s *Redis) Hold() time.Duration { return s.tuning.Hold }

// bound gives one operation its Attempt deadline.
func (s *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.tuning.Attempt)
}

// ReportTo makes errs count the errors nobody waits for: keeping the grace, owned and
// instance indexes after the script that decided, and notices to other instances. A
// stale index entry is harmless (every reader checks the client's own hash) and is
// dropped by the next Reap; a lost notice is made good by the other instance's next
// fetch or confirm, which the State answers as the notice would have. Call it before use.
func (s *Redis) ReportTo(errs *errcount.Counter) *Redis {
	s.errs = errs
	return s
}

// Instance is this instance's id.
func (s *Redis) Instance() string { return s.instance }

// OnEmptied makes f hear of each room that a removal (leave, reaping) left empty, on the
// instance that removed its last client, before the removal returns; keys of the room's
// that the room table does not know of (group records) go with it. Set it before Run.
func (s *Redis) OnEmptied(f func(ctx context.Context, roomID string)) *Redis {
	s.onEmptied = f
	return s
}

func (s *Redis) base(roomID string) string { return room.RedisRoomKey(s.prefix, roomID) }
func (s *Redis) graceKey() string          { return s.prefix + "grace" }
func (s *Redis) instancesKey() string      { return s.prefix + "instances" }
func (s *Redis) turnKey() string           { return s.prefix + "turn" }
func (s *Redis) ownedKey(inst string) string {
	return s.prefix + "owned:" + inst
}

// wakeChannel is the pub/sub channel that wakes instance up.
func (s *Redis) wakeChannel(instance string) string { return s.prefix + "wake:" + instance }

func member(roomID, clientID string) string { return roomID + " " + clientID }

func (s *Redis) ms(t time.Time) int64 { return t.UnixMilli() }

// Owner names one socket: its instance and a sequence number unique within it.
func (s *Redis) Owner(socket uint64) string {
	return s.instance + "/" + strconv.FormatUint(socket, 10)
}

// The scripts. Each takes the room's clients key as KEYS[1] (so a cluster client routes it
// to the room's slot) and the room's key base as ARGV[1], and builds the other keys of the
// room from it: all of them share the {room} hash tag.
const luaHelpers = `
local function has(ids, id)
  for _, x in ipairs(ids) do if x == id then return true end end
  return false
end
local function peer_of(ids, id)
  for _, x in ipairs(ids) do if x ~= id then return x end end
  return nil
end
local function hnum(h, f)
  return tonumber(redis.call('HGET', h, f) or '0') or 0
end
-- claim answers whether socket owns the client behind h, taking it back first when its
-- instance was judged dead (it was only paused) and no other socket registered since.
-- Answers 'removed', 'notowner', 'ok' or 'reclaimed'.
local function claim(h, socket)
  local owner = redis.call('HGET', h, 'owner')
  if not owner then return 'removed' end
  if owner == socket then return 'ok' end
  if owner ~= '' or redis.call('HGET', h, 'lost') ~= socket then return 'notowner' end
  redis.call('HSET', h, 'owner', socket)
  redis.call('HDEL', h, 'deadline', 'lost')
  return 'reclaimed'
end
-- trim drops the queued messages of the client behind h (queue q) before absolute index
-- upto: its socket wrote them and a pong after them came back.
local function trim(h, q, upto)
  local n = upto - hnum(h, 'base')
  if n <= 0 then return end
  local bytes = 0
  for _, m in ipairs(redis.call('LRANGE', q, 0, n - 1)) do bytes = bytes + #m end
  redis.call('LTRIM', q, n, -1)
  redis.call('HINCRBY', h, 'base', n)
  redis.call('HINCRBY', h, 'qbytes', -bytes)
end
-- remove_client takes id out of the room: what it had not been written yet goes to the
-- mailbox of the client that remains, its keys go. Answers owner, emptied (0/1), and how
-- many messages were handed off.
local function remove_client(base, id, maxn, maxb)
  local h, q = base .. 'c:' .. id, base .. 'q:' .. id
  redis.call('LREM', KEYS[1], 0, id)
  local owner = redis.call('HGET', h, 'owner') or ''
  local emptied, handed = 0, 0
  if redis.call('LLEN', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[1], base .. 'mailbox', base .. 'mbytes')
    emptied = 1
  else
    local from = hnum(h, 'written') - hnum(h, 'base')
    if from < 0 then from = 0 end
    local rest = redis.call('LRANGE', q, from, -1)
    mailbox_store(base .. 'mailbox', base .. 'mbytes', maxn, maxb, rest, 1)
    handed = #rest
  end
  redis.call('DEL', h, q)
  return owner, emptied, handed
end
`

var (
	expectScript = redis.NewScript(luaHelpers + `
local h = ARGV[1] .. 'c:' .. ARGV[2]
if not has(redis.call('LRANGE', KEYS[1], 0, -1), ARGV[2]) then return 'unknown' end
if (redis.call('HGET', h, 'owner') or '') == '' then
  redis.call('HSET', h, 'owner', '', 'deadline', ARGV[3])
end
return 'ok'`)

	registerScript = redis.NewScript(luaHelpers + `
local h = ARGV[1] .. 'c:' .. ARGV[2]
if not has(redis.call('LRANGE', KEYS[1], 0, -1), ARGV[2]) then return {'unknown'} end
local prev = redis.call('HGET', h, 'owner') or ''
-- A socket lost with a paused instance is replaced too: it must not take the client back.
if prev == '' then prev = redis.call('HGET', h, 'lost') or '' end
redis.call('HSET', h, 'owner', ARGV[3])
redis.call('HDEL', h, 'deadline', 'lost')
return {'ok', prev, tostring(hnum(h, 'base'))}`)

	sendScript = redis.NewScript(room.RedisMailboxLua + luaHelpers + `
local base, from, msg = ARGV[1], ARGV[2], ARGV[3]
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local peer = peer_of(ids, from)
local hf = base .. 'c:' .. from
local member = has(ids, from)
-- A retry of a send whose first try was carried out (its answer lost in an outage).
if member and redis.call('HGET', hf, 'lastsend') == ARGV[11] then
  if not peer then return {'stored'} end
  return {'queued', redis.call('HGET', base .. 'c:' .. peer, 'owner') or ''}
end
if not member then
  if ARGV[9] ~= '1' then return {'unknown'} end
  if not peer then return {'dropped'} end
elseif not peer then
  local r = mailbox_store(base .. 'mailbox', base .. 'mbytes', tonumber(ARGV[6]), tonumber(ARGV[5]), {msg}, 1)
  if r == 'ok' then
    redis.call('HSET', hf, 'lastsend', ARGV[11])
    return {'stored'}
  end
  return {r}
end
local h, q = base .. 'c:' .. peer, base .. 'q:' .. peer
if redis.call('LLEN', q) >= tonumber(ARGV[4]) or hnum(h, 'qbytes') + #msg > tonumber(ARGV[5]) then
  return {'full'}
end
redis.call('RPUSH', q, msg)
redis.call('HINCRBY', h, 'qbytes', #msg)
if member then redis.call('HSET', hf, 'lastsend', ARGV[11]) end
local owner = redis.call('HGET', h, 'owner') or ''
if owner ~= '' then
  local inst = string.match(owner, '^([^/]*)/')
  -- The sending instance wakes its own sockets itself.
  if inst ~= ARGV[10] then
    redis.call('PUBLISH', ARGV[7] .. inst, 'w ' .. ARGV[8] .. ' ' .. peer)
  end
end
return {'queued', owner}`)

	fetchScript = redis.NewScript(luaHelpers + `
local h, q = ARGV[1] .. 'c:' .. ARGV[2], ARGV[1] .. 'q:' .. ARGV[2]
local claimed = claim(h, ARGV[3])
if claimed == 'removed' or claimed == 'notowner' then return {claimed} end
trim(h, q, tonumber(ARGV[6]))
local base = hnum(h, 'base')
local from = tonumber(ARGV[4])
if from < base then from = base end
local msgs = redis.call('LRANGE', q, from - base, from - base + tonumber(ARGV[5]) - 1)
if from + #msgs > hnum(h, 'written') then redis.call('HSET', h, 'written', from + #msgs) end
local out = {claimed, tostring(from)}
for _, m in ipairs(msgs) do out[#out+1] = m end
return out`)

	confirmScript = redis.NewScript(luaHelpers + `
local h, q = ARGV[1] .. 'c:' .. ARGV[2], ARGV[1] .. 'q:' .. ARGV[2]
local claimed = claim(h, ARGV[3])
if claimed == 'removed' or claimed == 'notowner' then return claimed end
trim(h, q, tonumber(ARGV[4]))
return claimed`)

	// detach: ARGV[3] is the socket, or '' for "whoever owns it on instance ARGV[5]" (an
	// instance found dead, whose socket is remembered as lost: the instance may only have
	// been paused, and takes the client back when it runs again); ARGV[4] the deadline.
	detachScript = redis.NewScript(luaHelpers + `
local h = ARGV[1] .. 'c:' .. ARGV[2]
if not has(redis.call('LRANGE', KEYS[1], 0, -1), ARGV[2]) then return 'unknown' end
local owner = redis.call('HGET', h, 'owner') or ''
if ARGV[3] ~= '' and owner ~= ARGV[3] then
  -- A lost socket that closes gives up its claim.
  if redis.call('HGET', h, 'lost') == ARGV[3] then redis.call('HDEL', h, 'lost') end
  return 'notowner'
end
if ARGV[3] == '' then
  if string.match(owner, '^([^/]*)/') ~= ARGV[5] then return 'notowner' end
  redis.call('HSET', h, 'lost', owner)
end
redis.call('HSET', h, 'owner', '', 'deadline', ARGV[4])
return 'ok'`)

	reclaimScript = redis.NewScript(luaHelpers + `
return claim(ARGV[1] .. 'c:' .. ARGV[2], ARGV[3])`)

	removeScript = redis.NewScript(room.RedisMailboxLua + luaHelpers + `
if not has(redis.call('LRANGE', KEYS[1], 0, -1), ARGV[2]) then
  redis.call('DEL', ARGV[1] .. 'c:' .. ARGV[2], ARGV[1] .. 'q:' .. ARGV[2])
  return {'gone'}
end
local owner, emptied, handed = remove_client(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
return {'removed', owner, tostring(emptied), tostring(handed)}`)

	// reap removes the client when it is offline and its deadline (ARGV[5]) has passed;
	// otherwise it answers why not, with the deadline when there is one.
	reapScript = redis.NewScript(room.RedisMailboxLua + luaHelpers + `
local h = ARGV[1] .. 'c:' .. ARGV[2]
if not has(redis.call('LRANGE', KEYS[1], 0, -1), ARGV[2]) then
  redis.call('DEL', h, ARGV[1] .. 'q:' .. ARGV[2])
  return {'gone'}
end
if (redis.call('HGET', h, 'owner') or '') ~= '' then return {'live'} end
local dl = redis.call('HGET', h, 'deadline')
if dl and tonumber(dl) > tonumber(ARGV[5]) then return {'wait', dl} end
local owner, emptied, handed = remove_client(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
return {'removed', owner, tostring(emptied), tostring(handed)}`)
)

func (s *Redis) run(ctx context.Context, sc *redis.Script, roomID string, args ...any) *redis.Cmd {
	base := s.base(roomID)
	return sc.Run(ctx, s.rdb, []string{base + "clients"}, append([]any{base}, args...)...)
}

// Expect arms the grace deadline of a client that has just joined: one that never
// registers is removed like one whose socket dropped.
func (s *Redis) Expect(ctx context.Context, roomID, clientID string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	dl := s.ms(s.now().Add(s.grace))
	// The sorted set first: a deadline the reapers cannot see would never be reaped.
	if err := s.rdb.ZAdd(ctx, s.graceKey(), redis.Z{Score: float64(dl), Member: member(roomID, clientID)}).Err(); err != nil {
		return fmt.Errorf("expect %q in room %q: %w", clientID, roomID, err)
	}
	res, err := s.run(ctx, expectScript, roomID, clientID, dl).Text()
	if err != nil {
		return fmt.Errorf("expect %q in room %q: %w", clientID, roomID, err)
	}
	if res == "unknown" {
		return fmt.Errorf("expect %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	}
	return nil
}

// Member implements State: the room table's list of the room's clients says.
func (s *Redis) Member(ctx context.Context, roomID, clientID string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.rooms.Member(ctx, roomID, clientID)
}

// Register makes owner the client's socket. ErrUnknownClient when the client is not in
// the room (never joined, or removed).
func (s *Redis) Register(ctx context.Context, roomID, clientID, owner string) (Registered, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.run(ctx, registerScript, roomID, clientID, owner).StringSlice()
	if err != nil {
		return Registered{}, fmt.Errorf("register %q in room %q: %w", clientID, roomID, err)
	}
	if res[0] == "unknown" {
		return Registered{}, fmt.Errorf("register %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	}
	if err := s.own(ctx, roomID, clientID); err != nil {
		return Registered{}, fmt.Errorf("register %q in room %q: %w", clientID, roomID, err)
	}
	if res[1] != "" && InstanceOf(res[1]) != s.instance {
		err := s.rdb.Publish(ctx, s.wakeChannel(InstanceOf(res[1])), "t "+roomID+" "+clientID+" "+res[1]).Err()
		s.errs.Add(errcount.RelayNotice, err, "notice", "takeover", "room", roomID, "client", clientID)
	}
	base, _ := strconv.ParseInt(res[2], 10, 64)
	return Registered{Previous: res[1], Base: base}, nil
}

// Send queues msg from clientID for the other client of the room, or stores it in the
// mailbox when the sender is alone, and wakes the instance holding the recipient's socket
// when that is another instance (this one wakes its own sockets without Redis).
// One round trip. With orphan set, a sender no longer in the room (removed by DELETE while
// its socket drains) still reaches whoever is in the room, as its last words (a bye); the
// message is dropped, Sent{Dropped: true}, when nobody is. While Redis is away the message
// is held and tried again, up to Tuning.Hold, under one token: a try whose answer was lost
// in the outage is recognised and not queued twice. The sender's next messages wait behind
// it, so their order holds too.
func (s *Redis) Send(ctx context.Context, roomID, clientID, msg string, orphan bool) (Sent, error) {
	token := s.newToken()
	var sent Sent
	err := s.hold(ctx, "send", func(ctx context.Context) error {
		var err error
		sent, err = s.sendOnce(ctx, roomID, clientID, msg, orphan, token)
		return err
	})
	return sent, err
}

// hold tries op until it succeeds or gets an answer, for up to Tuning.Hold, each try
// bounded by Tuning.Attempt; every try that fails for want of Redis is counted.
func (s *Redis) hold(ctx context.Context, step string, op func(context.Context) error) error {
	return redisconn.Hold(ctx, s.tuning.Hold, s.tuning.Attempt, answer, func(ctx context.Context) error {
		err := op(ctx)
		if err != nil && !answer(err) {
			s.errs.Add(errcount.RelayRetry, err, "step", step)
		}
		return err
	})
}

// sendOnce is one try of Send; token names the message uniquely among all instances'
// messages (see newToken).
func (s *Redis) sendOnce(ctx context.Context, roomID, clientID, msg string, orphan bool, token string) (Sent, error) {
	flag := "0"
	if orphan {
		flag = "1"
	}
	res, err := s.run(ctx, sendScript, roomID, clientID, msg, protocol.MaxQueuedPerSender,
		protocol.MaxQueuedBytesPerSender, protocol.MaxMailbox, s.wakeChannel(""), roomID, flag, s.instance, token).StringSlice()
	if err != nil {
		return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, err)
	}
	switch res[0] {
	case "stored":
		return Sent{Stored: true}, nil
	case "dropped":
		return Sent{Dropped: true}, nil
	case "queued":
		return Sent{PeerOwner: res[1]}, nil
	case "unknown":
		return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, ErrUnknownClient)
	case "full":
		return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, ErrQueueFull)
	case "mailboxfull":
		return Sent{}, fmt.Errorf("send from %q in room %q: %w", clientID, roomID, ErrMailboxFull)
	}
	return Sent{}, fmt.Errorf("send from %q in room %q: unexpected answer %q", clientID, roomID, res[0])
}

// newToken returns a token for sendOnce unique among all instances' messages.
func (s *Redis) newToken() string {
	return s.instance + "/" + strconv.FormatUint(s.tokens.Add(1), 10)
}

// Fetch implements State, in one round trip: the trim of what was confirmed and the read.
func (s *Redis) Fetch(ctx context.Context, roomID, clientID, owner string, confirmed, from int64, limit int) (int64, []string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.run(ctx, fetchScript, roomID, clientID, owner, from, limit, confirmed).StringSlice()
	if err != nil {
		return 0, nil, fmt.Errorf("fetch for %q in room %q: %w", clientID, roomID, err)
	}
	if err := s.claimed(ctx, "fetch for", roomID, clientID, res[0]); err != nil {
		return 0, nil, err
	}
	at, _ := strconv.ParseInt(res[1], 10, 64)
	return at, res[2:], nil
}

// claimed turns the answer of the scripts' claim into an error, and records the client as
// this instance's again when the script took it back.
func (s *Redis) claimed(ctx context.Context, op, roomID, clientID, answer string) error {
	var err error
	switch answer {
	case "notowner":
		err = ErrNotOwner
	case "removed":
		err = ErrRemoved
	case "reclaimed":
		err = s.own(ctx, roomID, clientID)
	}
	if err != nil {
		return fmt.Errorf("%s %q in room %q: %w", op, clientID, roomID, err)
	}
	return nil
}

// own records that this instance holds the client's socket, for the others to find should
// it die.
func (s *Redis) own(ctx context.Context, roomID, clientID string) error {
	if err := s.rdb.SAdd(ctx, s.ownedKey(s.instance), member(roomID, clientID)).Err(); err != nil {
		return fmt.Errorf("record owned sockets: %w", err)
	}
	return nil
}

// Confirm drops the client's queued messages before absolute index upto: owner's socket
// wrote them and a pong after them came back.
func (s *Redis) Confirm(ctx context.Context, roomID, clientID, owner string, upto int64) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.run(ctx, confirmScript, roomID, clientID, owner, upto).Text()
	if err != nil {
		return fmt.Errorf("confirm for %q in room %q: %w", clientID, roomID, err)
	}
	return s.claimed(ctx, "confirm for", roomID, clientID, res)
}

// Detach takes the client offline when owner is still its socket, and starts its grace
// period. While Redis is away it is tried again, up to Tuning.Hold; should it still fail,
// the client stays this instance's there, and once this instance stops (or dies) the
// others find it through its missing heartbeat.
func (s *Redis) Detach(ctx context.Context, roomID, clientID, owner string) error {
	return s.hold(ctx, "detach", func(ctx context.Context) error {
		return s.detach(ctx, roomID, clientID, owner, "")
	})
}

func (s *Redis) detach(ctx context.Context, roomID, clientID, owner, deadInstance string) error {
	dl := s.ms(s.now().Add(s.grace))
	if err := s.rdb.ZAdd(ctx, s.graceKey(), redis.Z{Score: float64(dl), Member: member(roomID, clientID)}).Err(); err != nil {
		return fmt.Errorf("detach %q in room %q: %w", clientID, roomID, err)
	}
	res, err := s.run(ctx, detachScript, roomID, clientID, owner, dl, deadInstance).Text()
	if err != nil {
		return fmt.Errorf("detach %q in room %q: %w", clientID, roomID, err)
	}
	inst := deadInstance
	if owner != "" {
		inst = InstanceOf(owner)
	}
	err = s.rdb.SRem(ctx, s.ownedKey(inst), member(roomID, clientID)).Err()
	s.errs.Add(errcount.RelayIndex, err, "index", "owned", "room", roomID, "client", clientID)
	if res == "notowner" {
		return fmt.Errorf("detach %q in room %q: %w", clientID, roomID, ErrNotOwner)
	}
	return nil
}

// Remove takes the client out of its room at once (DELETE, leave): what it was never
// written goes to the mailbox of the client that remains. A client not in the room is a
// no-op with an empty Removed.
func (s *Redis) Remove(ctx context.Context, roomID, clientID string) (Removed, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.run(ctx, removeScript, roomID, clientID, protocol.MaxMailbox, protocol.MaxQueuedBytesPerSender).StringSlice()
	if err != nil {
		return Removed{}, fmt.Errorf("remove %q from room %q: %w", clientID, roomID, err)
	}
	return s.removed(ctx, roomID, clientID, res), nil
}

func (s *Redis) removed(ctx context.Context, roomID, clientID string, res []string) Removed {
	if res[0] != "removed" {
		return Removed{}
	}
	s.rooms.CountRemoved(ctx, res[2] == "1")
	if res[2] == "1" && s.onEmptied != nil {
		s.onEmptied(ctx, roomID)
	}
	err := s.rdb.ZRem(ctx, s.graceKey(), member(roomID, clientID)).Err()
	s.errs.Add(errcount.RelayIndex, err, "index", "grace", "room", roomID, "client", clientID)
	if res[1] != "" {
		err := s.rdb.SRem(ctx, s.ownedKey(InstanceOf(res[1])), member(roomID, clientID)).Err()
		s.errs.Add(errcount.RelayIndex, err, "index", "owned", "room", roomID, "client", clientID)
		if inst := InstanceOf(res[1]); inst != s.instance {
			err := s.rdb.Publish(ctx, s.wakeChannel(inst), "d "+roomID+" "+clientID+" "+res[1]).Err()
			s.errs.Add(errcount.RelayNotice, err, "notice", "removal", "room", roomID, "client", clientID)
		}
	}
	handed, _ := strconv.Atoi(res[3])
	return Removed{Room: roomID, Client: clientID, Owner: res[1], HandedOff: handed}
}

// Reap removes the clients whose grace period is over, whichever instance armed it, up to
// limit of them, and returns them. Each removal is one script that checks the client's own
// deadline, so instances reaping at once never remove one twice and a client that came back
// in the meantime stays.
func (s *Redis) Reap(ctx context.Context, limit int) ([]Removed, error) {
	now := s.ms(s.now())
	due, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.graceKey(), Start: "-inf", Stop: strconv.FormatInt(now, 10), ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("reap: %w", err)
	}
	var out []Removed
	for _, m := range due {
		roomID, clientID, ok := strings.Cut(m, " ")
		if !ok {
			s.errs.Add(errcount.RelayIndex, s.rdb.ZRem(ctx, s.graceKey(), m).Err(), "index", "grace")
			continue
		}
		res, err := s.run(ctx, reapScript, roomID, clientID, protocol.MaxMailbox, protocol.MaxQueuedBytesPerSender, now).StringSlice()
		if err != nil {
			return out, fmt.Errorf("reap %q in room %q: %w", clientID, roomID, err)
		}
		switch res[0] {
		case "removed":
			out = append(out, s.removed(ctx, roomID, clientID, res))
		case "wait":
			// Re-armed since: keep it, at its new deadline.
			// Should this fail, the old deadline stays, and the next Reap comes here again.
			dl, _ := strconv.ParseFloat(res[1], 64)
			err := s.rdb.ZAdd(ctx, s.graceKey(), redis.Z{Score: dl, Member: m}).Err()
			s.errs.Add(errcount.RelayIndex, err, "index", "grace", "room", roomID, "client", clientID)
		default: // gone, or online again: its next detach arms a new deadline
			err := s.rdb.ZRem(ctx, s.graceKey(), m).Err()
			s.errs.Add(errcount.RelayIndex, err, "index", "grace", "room", roomID, "client", clientID)
		}
	}
	return out, nil
}

// heartbeat tells the other instances this one is alive. It reports whether the instance
// was missing from the live ones: it starts, or the others judged it dead while it was
// paused and took its clients offline (Reclaim takes them back).
func (s *Redis) heartbeat(ctx context.Context) (missing bool, err error) {
	added, err := s.rdb.ZAdd(ctx, s.instancesKey(), redis.Z{Score: float64(s.ms(s.now())), Member: s.instance}).Result()
	if err != nil {
		return false, fmt.Errorf("heartbeat: %w", err)
	}
	return added == 1, nil
}

// Reclaim takes the client back for socket when this instance was judged dead while the
// socket stayed open (the instance was paused: a stopped process, a frozen VM, a starved
// machine) and no other socket registered the client since. ErrNotOwner when one did,
// ErrRemoved when the client's grace period ended meanwhile.
func (s *Redis) Reclaim(ctx context.Context, roomID, clientID, socket string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.run(ctx, reclaimScript, roomID, clientID, socket).Text()
	if err != nil {
		return fmt.Errorf("reclaim %q in room %q: %w", clientID, roomID, err)
	}
	if res == "ok" {
		// Recorded again even when still ours: a reaper that found this instance dead
		// deletes its whole record of owned sockets.
		res = "reclaimed"
	}
	return s.claimed(ctx, "reclaim", roomID, clientID, res)
}

// countAlive counts the instances whose last heartbeat is younger than within.
func (s *Redis) countAlive(ctx context.Context, within time.Duration) (int, error) {
	n, err := s.rdb.ZCount(ctx, s.instancesKey(), strconv.FormatInt(s.ms(s.now().Add(-within)), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return int(n), nil
}

// reapInstances takes the clients whose socket was on an instance silent for longer than
// deadAfter offline, starting their grace period, and forgets that instance. It returns
// the instances found dead.
func (s *Redis) reapInstances(ctx context.Context, deadAfter time.Duration) ([]string, error) {
	dead, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.instancesKey(), Start: "-inf", Stop: strconv.FormatInt(s.ms(s.now().Add(-deadAfter)), 10), ByScore: true, Count: 16,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("find dead instances: %w", err)
	}
	for _, inst := range dead {
		if inst == s.instance {
			continue // ourselves, back from a pause: our own heartbeat fixes it
		}
		owned, err := s.rdb.SMembers(ctx, s.ownedKey(inst)).Result()
		if err != nil {
			return nil, fmt.Errorf("clients of dead instance %s: %w", inst, err)
		}
		for _, m := range owned {
			roomID, clientID, _ := strings.Cut(m, " ")
			if err := s.detach(ctx, roomID, clientID, "", inst); err != nil && !errors.Is(err, ErrNotOwner) {
				return nil, err
			}
		}
		// Every client is detached (idempotently, should another instance do it too):
		// only now is the instance forgotten, and from the instance list last, so that
		// should a step fail the next pass finds the instance and does it all again.
		if err := s.rdb.Del(ctx, s.ownedKey(inst)).Err(); err != nil {
			return nil, fmt.Errorf("forget the clients of dead instance %s: %w", inst, err)
		}
		if err := s.rdb.HDel(ctx, s.turnKey(), inst).Err(); err != nil {
			return nil, fmt.Errorf("forget the TURN URIs of dead instance %s: %w", inst, err)
		}
		if err := s.rdb.ZRem(ctx, s.instancesKey(), inst).Err(); err != nil {
			return nil, fmt.Errorf("forget dead instance %s: %w", inst, err)
		}
	}
	return dead, nil
}
