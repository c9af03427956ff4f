package relaystate

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/errcount"
)

// beatInterval is how often an instance heartbeats and judges the others.
const beatInterval = 500 * time.Millisecond

// heartbeatTimeout bounds a heartbeat: one slower than this counts as failed, so Healthy
// turns false (and /readyz 503) about a second into an outage rather than after go-redis's
// read timeout and its retry (4 s and more on a loaded machine).
const heartbeatTimeout = time.Second

// Run implements State: heartbeats, judging the silent instances dead (their clients go
// offline, their grace periods start), and the other instances' notices, until ctx ends;
// then this instance leaves the live ones.
func (s *Redis) Run(ctx context.Context, events Events) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.listen(ctx, events) }()
	// Heartbeats have their own loop: judging the others, however slow, never delays them.
	go func() { defer wg.Done(); s.beat(ctx, events) }()
	tick := time.NewTicker(beatInterval)
	defer tick.Stop()
	for {
		if s.judgeOthers() {
			dead, err := s.reapInstances(ctx, s.tuning.InstanceTimeout)
			if ctx.Err() == nil {
				s.errs.Add(errcount.RelayReap, err, "pass", "instances")
			}
			for _, d := range dead {
				s.tuning.Logger.Warn("relay: instance silent, its clients are offline until they register again", "instance", d, "silent_for_more_than", s.tuning.InstanceTimeout)
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			lctx, cancel := s.bound(context.WithoutCancel(ctx))
			s.errs.Add(errcount.RelayLeave, s.leave(lctx))
			cancel()
			return
		case <-tick.C:
		}
	}
}

// Healthy implements State: the last heartbeat reached Redis.
func (s *Redis) Healthy() bool { return s.healthy.Load() }

// Instances implements State: the live instances the last heartbeat counted.
func (s *Redis) Instances() int { return int(s.alive.Load()) }

// Drain implements State: this instance's clients re-register on another instance, where
// their queues wait, as soon as their sockets close; only the notice is waited.
func (s *Redis) Drain(ctx context.Context, notice time.Duration) bool {
	t := time.NewTimer(notice)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return true
}

// judgeOthers reports whether this instance may judge the others dead by their heartbeats:
// its own come without a gap for longer than InstanceTimeout, the last one just now (this
// loop may run first after a pause, before beat noticed it).
func (s *Redis) judgeOthers() bool {
	since, last := s.steadySince.Load(), s.lastBeat.Load()
	return s.healthy.Load() && since != 0 && time.Since(time.Unix(0, since)) > s.tuning.InstanceTimeout &&
		time.Since(time.Unix(0, last)) < s.tuning.InstanceTimeout/2
}

// beat heartbeats until ctx ends. It keeps steadySince, from when this instance has
// heartbeaten without a gap: after a Redis outage, or a pause of this process (a stopped
// process, a frozen VM, a starved machine), the other instances' heartbeats may be just as
// late as ours, so none is judged dead before they all had InstanceTimeout to beat again.
// When the others judged this instance dead meanwhile, events takes its clients back.
func (s *Redis) beat(ctx context.Context, events Events) {
	log := s.tuning.Logger
	tick := time.NewTicker(beatInterval)
	defer tick.Stop()
	var last time.Time // of the last heartbeat that reached Redis
	for {
		hctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
		missing, err := s.heartbeat(hctx)
		cancel()
		now := time.Now()
		if err == nil {
			s.lastBeat.Store(now.UnixNano())
		}
		switch {
		case err != nil:
			if ctx.Err() == nil && s.healthy.Load() {
				log.Warn("relay heartbeat failed: Redis unreachable", "err", err)
			}
			s.steadySince.Store(0)
		case !s.healthy.Load() && !last.IsZero():
			log.Info("relay heartbeat: Redis reachable")
			s.steadySince.Store(now.UnixNano())
		case now.Sub(last) > s.tuning.InstanceTimeout/2:
			if !last.IsZero() {
				log.Warn("relay heartbeat late: this instance was paused", "gap", now.Sub(last).Round(time.Millisecond))
			}
			s.steadySince.Store(now.UnixNano())
		}
		s.healthy.Store(err == nil)
		if err == nil {
			if missing && !last.IsZero() {
				log.Warn("relay: the other instances judged this one dead; taking its clients back")
				events.Reclaim()
			}
			last = now
			n, err := s.countAlive(ctx, s.tuning.InstanceTimeout)
			if err == nil {
				s.alive.Store(int64(n))
			} else if ctx.Err() == nil {
				s.errs.Add(errcount.RelayIndex, err, "index", "instances")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// listen tells events the others' notices, which come on this instance's wake-up channel.
// Pub/sub loses what is published while it reconnects, so each (re)subscription, and a
// probe of the channel that does not come back (seen after failovers: a subscription that
// looks alive but delivers nothing), asks for every local queue to be read again.
func (s *Redis) listen(ctx context.Context, events Events) {
	sub := s.rdb.Subscribe(ctx, s.wakeChannel(s.instance))
	defer sub.Close()
	ch := sub.ChannelWithSubscriptions()
	probe := time.NewTicker(2 * time.Second)
	defer probe.Stop()
	lastProbe := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-probe.C:
			if time.Since(lastProbe) > 5*time.Second {
				events.Resync()
				lastProbe = time.Now()
			}
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := s.rdb.Publish(pctx, s.wakeChannel(s.instance), "p").Err()
			cancel()
			if ctx.Err() == nil {
				s.errs.Add(errcount.RelayNotice, err, "notice", "probe")
			}
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				events.Resync()
			case *redis.Message:
				fields := strings.Fields(m.Payload)
				switch {
				case len(fields) == 1 && fields[0] == "p":
					lastProbe = time.Now()
				case len(fields) == 3 && fields[0] == "w":
					events.Wake(fields[1], fields[2])
				case len(fields) == 4 && fields[0] == "t":
					events.Close(fields[1], fields[3], protocol.ErrTextDuplicateClient)
				case len(fields) == 4 && fields[0] == "d":
					events.Close(fields[1], fields[3], "")
				}
			}
		}
	}
}

// leave removes this instance from the live ones (a clean shutdown).
func (s *Redis) leave(ctx context.Context) error {
	return s.rdb.ZRem(ctx, s.instancesKey(), s.instance).Err()
}
