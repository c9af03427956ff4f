package relaystate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// AdvertiseTURN implements State: the other instances hand out this instance's TURN URIs
// beside their own, so a call already has a relay path through a second instance, and an
// ICE restart finds one, when the instance holding its allocation dies. The TURN secret the
// instances hold alike makes the credentials one instance mints good on all of them.
func (s *Redis) AdvertiseTURN(ctx context.Context, uris []string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.rdb.HSet(ctx, s.turnKey(), s.instance, strings.Join(uris, "\n")).Err(); err != nil {
		return fmt.Errorf("advertise TURN URIs: %w", err)
	}
	return nil
}

// WithdrawTURN implements State.
func (s *Redis) WithdrawTURN(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.rdb.HDel(ctx, s.turnKey(), s.instance).Err(); err != nil {
		return fmt.Errorf("withdraw TURN URIs: %w", err)
	}
	return nil
}

// PeerTURN implements State: the URIs of the other instances whose last heartbeat is
// younger than Tuning.InstanceTimeout. A dead instance's URIs are never returned, even
// before it is reaped.
func (s *Redis) PeerTURN(ctx context.Context) ([][]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	live, err := s.Live(ctx)
	if err != nil {
		return nil, err
	}
	others := make([]string, 0, len(live))
	for _, inst := range live {
		if inst != s.instance {
			others = append(others, inst)
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.turnKey(), others...).Result()
	if err != nil {
		return nil, fmt.Errorf("TURN URIs of live instances: %w", err)
	}
	var out [][]string
	for _, v := range vals {
		if text, ok := v.(string); ok && text != "" {
			out = append(out, strings.Split(text, "\n"))
		}
	}
	return out, nil
}

// Live lists the instances whose last heartbeat is younger than Tuning.InstanceTimeout,
// this one included once it has beaten.
func (s *Redis) Live(ctx context.Context) ([]string, error) {
	return s.LiveWithin(ctx, s.tuning.InstanceTimeout)
}

// LiveWithin lists the instances whose last heartbeat is younger than within.
func (s *Redis) LiveWithin(ctx context.Context, within time.Duration) ([]string, error) {
	live, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.instancesKey(), Start: strconv.FormatInt(s.ms(s.now().Add(-within)), 10), Stop: "+inf", ByScore: true,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("live instances: %w", err)
	}
	return live, nil
}
