package grouproom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/server/room"
)

// recordTTL bounds the life of a record of a room that never became a group, should
// Emptied not be called for it (an instance dying in between): a stale capable flag is
// checked against the room table before it counts anyway.
const recordTTL = 24 * time.Hour

// RedisConfig is a Redis store's configuration.
type RedisConfig struct {
	Config
	// Instance names this process among the instances sharing the Redis (the relay
	// state's name, whose heartbeat says it is alive).
	Instance string
	// Live lists the instances whose heartbeat is recent.
	Live func(ctx context.Context) ([]string, error)
	// LiveWithin lists the instances whose heartbeat is younger than within: with a
	// within shorter than Live's, the judge of an instance that refused a connection.
	LiveWithin func(ctx context.Context, within time.Duration) ([]string, error)
	// Logger hears of a group socket's end that could not be written.
	Logger *slog.Logger
}

// Redis keeps the group records in the Redis that several instances share, one hash per
// room beside the room table's keys (same hash slot), and a directory of the instances'
// SFUs (Load, by instance). Every rule is a Lua script, so instances deciding at once
// decide as one.
//
// A record's fields: "c:ID" a capable table client; "g" the instance whose SFU serves
// the group (set once the room is a group); "t:ID" a ticket (issued, unix ms), "s:ID" its
// open sockets, "u:ID" set once a socket was opened.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    RedisConfig
}

// NewRedis returns the store in rdb under keys starting with prefix.
func NewRedis(rdb redis.UniversalClient, prefix string, cfg RedisConfig) (*Redis, error) {
	if cfg.Instance == "" || cfg.Live == nil {
		return nil, errors.New("grouproom: Instance and Live are required")
	}
	if _, err := New(cfg.Config); err != nil { // the same checks and defaults
		return nil, err
	}
	if cfg.TicketTTL == 0 {
		cfg.TicketTTL = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Redis{rdb: rdb, prefix: prefix, cfg: cfg}, nil
}

func (r *Redis) key(roomID string) []string {
	return []string{room.RedisRoomKey(r.prefix, roomID) + "group"}
}

func (r *Redis) directoryKey() string { return r.prefix + "sfu" }

// cutoff is the issue time before which an unused ticket has lapsed (unix ms).
func (r *Redis) cutoff() int64 { return r.cfg.Now().Add(-r.cfg.TicketTTL).UnixMilli() }

// Size implements Store.
func (r *Redis) Size() int { return r.cfg.Size }

// Joined implements Store.
func (r *Redis) Joined(ctx context.Context, roomID, clientID string, capable, initiator bool) error {
	if err := joinedScript.Run(ctx, r.rdb, r.key(roomID), clientID, flag(capable), flag(initiator), recordTTL.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("group record of %s: %w", roomID, err)
	}
	return nil
}

// Count implements Store.
func (r *Redis) Count(ctx context.Context, roomID string) (int, error) {
	n, _, err := r.capables(ctx, roomID)
	return n, err
}

// IsGroup implements Store.
func (r *Redis) IsGroup(ctx context.Context, roomID string) (bool, error) {
	n, err := r.Count(ctx, roomID)
	return n > 0, err
}

// capables returns the group's live ticket count, or, for a room that is no group, its
// capable table clients. A group whose SFU's instance is dead moves to a live one.
func (r *Redis) capables(ctx context.Context, roomID string) (int, []string, error) {
	n, rest, err := r.readCapables(ctx, roomID)
	if err != nil || n == 0 {
		return n, rest, err
	}
	if len(rest) != 1 {
		return 0, nil, fmt.Errorf("group record of %s: %d fields after the count", roomID, len(rest))
	}
	if _, err := r.liveSFU(ctx, roomID, rest[0]); err != nil {
		return 0, nil, err
	}
	return n, nil, nil
}

// liveSFU returns the instance whose SFU serves roomID's group, given instance, the one
// the record names. When that one is dead the group moves to the live instance Place
// picks (this one when none reports a load), in one script conditional on the dead
// instance, so instances noticing at once agree on the first mover's choice. The
// participants' tickets stay: their resumes reach the new SFU, which takes them as fresh
// joins (see docs/scaling.md, group rooms).
func (r *Redis) liveSFU(ctx context.Context, roomID, instance string) (string, error) {
	if instance == r.cfg.Instance {
		return instance, nil
	}
	live, err := r.cfg.Live(ctx)
	if err != nil {
		return "", err
	}
	if slices.Contains(live, instance) {
		return instance, nil
	}
	return r.moveOff(ctx, roomID, instance, nil)
}

// RefusedAfter is how long an instance whose HTTP port refused a connection may have
// been silent (a heartbeat missed; they come every 0.5 s) before it counts as dead. The
// refusal already says its process is gone (a live one does not refuse connections); the
// late heartbeat guards against a refusal with another cause, for a move while the old SFU
// still serves would split the group. The instance timeout would take seconds more.
const RefusedAfter = 700 * time.Millisecond

// Refused is told that passing a socket of roomID's group on to instance, its SFU's, was
// refused (nothing listens on its internal address). When that instance's heartbeat is
// also older than RefusedAfter, the group moves at once, as a dead instance's does, instead
// of after the instance timeout. It returns the instance serving the group now ("" when
// the group is over).
func (r *Redis) Refused(ctx context.Context, roomID, instance string) (string, error) {
	if r.cfg.LiveWithin == nil || instance == r.cfg.Instance {
		return instance, nil
	}
	recent, err := r.cfg.LiveWithin(ctx, RefusedAfter)
	if err != nil {
		return "", err
	}
	if slices.Contains(recent, instance) {
		return instance, nil // alive a moment ago: the refusal was something else
	}
	// Only to an instance that beat as recently: another one as late may be as dead (two
	// instances of one machine, or an earlier move's victim still within Live's bound).
	return r.moveOff(ctx, roomID, instance, recent)
}

// moveOff moves roomID's group off dead (the record must still name it) to the live
// instance Place picks, among only, if not nil, instances.
func (r *Redis) moveOff(ctx context.Context, roomID, dead string, instances []string) (string, error) {
	instance := dead
	loads, err := r.Loads(ctx)
	if err != nil {
		return "", err
	}
	// A refused instance can still be within Live's bound.
	loads = slices.DeleteFunc(loads, func(l Load) bool {
		return l.Instance == dead || (instances != nil && !slices.Contains(instances, l.Instance))
	})
	to, ok := Place(loads)
	if !ok {
		to = r.cfg.Instance
	}
	now, err := moveScript.Run(ctx, r.rdb, r.key(roomID), instance, to, r.cfg.Now().UnixMilli()).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil // the group ended meanwhile
	case err != nil:
		return "", fmt.Errorf("move the group of %s off dead instance %s: %w", roomID, instance, err)
	}
	if now == to {
		r.cfg.Logger.Warn("group moved: its SFU's instance is dead", "room", roomID, "dead_instance", instance, "sfu_instance", to)
	}
	return now, nil
}

func (r *Redis) readCapables(ctx context.Context, roomID string) (int, []string, error) {
	res, err := capablesScript.Run(ctx, r.rdb, r.key(roomID), r.cutoff()).StringSlice()
	if err != nil {
		return 0, nil, fmt.Errorf("group record of %s: %w", roomID, err)
	}
	if len(res) == 0 {
		return 0, nil, fmt.Errorf("group record of %s: empty answer", roomID)
	}
	n, err := strconv.Atoi(res[0])
	if err != nil {
		return 0, nil, fmt.Errorf("group record of %s: count %q: %w", roomID, res[0], err)
	}
	return n, res[1:], nil
}

// members keeps the ids the room table holds in roomID.
func (r *Redis) members(ctx context.Context, roomID string, ids []string) ([]string, error) {
	var in []string
	for _, id := range ids {
		ok, err := r.cfg.Member(ctx, roomID, id)
		if err != nil {
			return nil, fmt.Errorf("room table: %w", err)
		}
		if ok {
			in = append(in, id)
		}
	}
	return in, nil
}

// Growable implements Store.
func (r *Redis) Growable(ctx context.Context, roomID string) (bool, error) {
	n, ids, err := r.capables(ctx, roomID)
	if err != nil || n > 0 {
		return false, err
	}
	in, err := r.members(ctx, roomID, ids)
	return len(in) >= 2, err
}

// Admit implements Store. The join that makes the group places its SFU (Place over the
// live instances' loads; this instance when none reports one).
func (r *Redis) Admit(ctx context.Context, roomID string, newID func() string) (Admission, error) {
	n, ids, err := r.capables(ctx, roomID)
	if err != nil {
		return Admission{}, err
	}
	place := r.cfg.Instance
	var keep []string
	if n == 0 {
		if keep, err = r.members(ctx, roomID, ids); err != nil {
			return Admission{}, err
		}
		if len(keep) < 2 {
			return Admission{}, ErrNotCapable
		}
		loads, err := r.Loads(ctx)
		if err != nil {
			return Admission{}, err
		}
		if inst, ok := Place(loads); ok {
			place = inst
		}
	}
	for {
		id := newID()
		args := []any{r.cutoff(), r.cfg.Now().UnixMilli(), r.cfg.Size, id, place}
		for _, k := range keep {
			args = append(args, k)
		}
		res, err := admitScript.Run(ctx, r.rdb, r.key(roomID), args...).StringSlice()
		if err != nil {
			return Admission{}, fmt.Errorf("group join of %s: %w", roomID, err)
		}
		switch res[0] { // never empty: every answer of the script starts with its word
		case "ok":
			return Admission{ID: id, Moved: res[1:]}, nil
		case "full":
			return Admission{}, ErrFull
		case "notcapable":
			return Admission{}, ErrNotCapable
		case "taken": // another participant's id: draw again
		default:
			return Admission{}, fmt.Errorf("group join of %s: answer %q", roomID, res[0])
		}
	}
}

// Placed implements Store.
func (r *Redis) Placed(ctx context.Context, roomID, clientID string) (string, bool, error) {
	inst, ok, err := r.ticketScript(ctx, placedScript, roomID, clientID)
	if !ok || err != nil {
		return "", ok, err
	}
	if inst, err = r.liveSFU(ctx, roomID, inst); inst == "" || err != nil {
		return "", false, err
	}
	return inst, true, nil
}

func (r *Redis) ticketScript(ctx context.Context, sc *redis.Script, roomID, clientID string) (string, bool, error) {
	inst, err := sc.Run(ctx, r.rdb, r.key(roomID), r.cutoff(), clientID).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("group ticket of %s in %s: %w", clientID, roomID, err)
	}
	return inst, true, nil
}

// MoveAway moves roomID's group, when its SFU is this instance's, to the live instance
// Place picks among the others (this one drains). It returns that instance, "" when the
// group is elsewhere or over, or when no other instance offers an SFU.
func (r *Redis) MoveAway(ctx context.Context, roomID string) (string, error) {
	// Only this instance moves a group off itself while alive: the script's condition
	// covers the group ending meanwhile.
	g, err := r.rdb.HGet(ctx, r.key(roomID)[0], "g").Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("group record of %s: %w", roomID, err)
	case g != r.cfg.Instance:
		return "", nil
	}
	loads, err := r.Loads(ctx)
	if err != nil {
		return "", err
	}
	loads = slices.DeleteFunc(loads, func(l Load) bool { return l.Instance == r.cfg.Instance })
	to, ok := Place(loads)
	if !ok {
		return "", nil
	}
	now, err := moveScript.Run(ctx, r.rdb, r.key(roomID), r.cfg.Instance, to, r.cfg.Now().UnixMilli()).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("move the group of %s off this instance: %w", roomID, err)
	}
	if now != to {
		return "", nil
	}
	return to, nil
}

// Open implements Store.
func (r *Redis) Open(ctx context.Context, roomID, clientID string) (func(), bool, error) {
	if _, ok, err := r.ticketScript(ctx, openScript, roomID, clientID); !ok || err != nil {
		return nil, ok, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// The socket's request has ended: the record is the room's.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := closeScript.Run(ctx, r.rdb, r.key(roomID), clientID, r.cfg.Instance).Err(); err != nil {
				r.cfg.Logger.Warn("group socket's end not recorded: its ticket stays until the group ends", "room", roomID, "client", clientID, "err", err)
			}
		})
	}, true, nil
}

// Emptied forgets the record of roomID, whose room table has just emptied, unless the room
// is a group (its participants left the room table for the SFU). Table.Sweep does this in
// memory mode.
func (r *Redis) Emptied(ctx context.Context, roomID string) error {
	if err := emptiedScript.Run(ctx, r.rdb, r.key(roomID)).Err(); err != nil {
		return fmt.Errorf("group record of emptied room %s: %w", roomID, err)
	}
	return nil
}

// Advertise writes this instance's SFU load into the directory.
func (r *Redis) Advertise(ctx context.Context, l Load) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode SFU load: %w", err)
	}
	if err := r.rdb.HSet(ctx, r.directoryKey(), r.cfg.Instance, b).Err(); err != nil {
		return fmt.Errorf("advertise SFU: %w", err)
	}
	return nil
}

// Withdraw takes this instance out of the directory: no new group goes to it.
func (r *Redis) Withdraw(ctx context.Context) error {
	if err := r.rdb.HDel(ctx, r.directoryKey(), r.cfg.Instance).Err(); err != nil {
		return fmt.Errorf("withdraw SFU: %w", err)
	}
	return nil
}

// Loads returns the loads of the live instances' SFUs. A dead instance's entry is never
// returned, even before anyone removes it.
func (r *Redis) Loads(ctx context.Context) ([]Load, error) {
	live, err := r.cfg.Live(ctx)
	if err != nil || len(live) == 0 {
		return nil, err
	}
	vals, err := r.rdb.HMGet(ctx, r.directoryKey(), live...).Result()
	if err != nil {
		return nil, fmt.Errorf("SFU directory: %w", err)
	}
	var out []Load
	for i, v := range vals {
		text, ok := v.(string)
		if !ok {
			continue // alive, but no SFU to offer (none, or not reachable from the others)
		}
		var l Load
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return nil, fmt.Errorf("SFU directory entry of %s: %w", live[i], err)
		}
		l.Instance = live[i]
		out = append(out, l)
	}
	return out, nil
}

// URL is the base URL instance advertised, "" when it advertises none (now).
func (r *Redis) URL(ctx context.Context, instance string) (string, error) {
	text, err := r.rdb.HGet(ctx, r.directoryKey(), instance).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("SFU directory: %w", err)
	}
	var l Load
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return "", fmt.Errorf("SFU directory entry of %s: %w", instance, err)
	}
	return l.URL, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
