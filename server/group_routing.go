package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/onertc/onertc/server/grouproom"
	"github.com/onertc/onertc/server/relaystate"
)

// Group rooms on several instances (see docs/scaling.md, group rooms): the group records
// are in Redis (grouproom.Redis), a group's SFU is on the instance placed when the room
// became a group, and a group socket that reaches another instance is passed on to that
// one's HTTP port, at the base URL it advertises beside its load.

// sfuDirectoryEvery is how often an instance reports its SFU's load. Placement reads the
// reports of the instances whose heartbeat is recent, so a dead one drops out with it.
const sfuDirectoryEvery = time.Second

// groupHopHeader marks a group socket passed on by another instance: it is served here
// or refused, never passed on again (two instances disagreeing cannot bounce it).
const groupHopHeader = "X-Onertc-Group-Hop"

// setupSharedGroups keeps the group records in Redis beside the relay's state, when the
// configuration asks for group rooms.
func (s *Server) setupSharedGroups(shared *relaystate.Redis) error {
	if !s.cfg.groupRooms() {
		return nil
	}
	g, err := grouproom.NewRedis(s.redis, redisKeyPrefix, grouproom.RedisConfig{
		Config:   grouproom.Config{Size: s.cfg.RoomSize, Member: shared.Member},
		Instance: shared.Instance(), Live: shared.Live, LiveWithin: shared.LiveWithin, Logger: s.log.With("component", "groups"),
	})
	if err != nil {
		return err
	}
	s.groups, s.sharedGroups = g, g
	shared.OnEmptied(func(ctx context.Context, roomID string) {
		if err := g.Emptied(ctx, roomID); err != nil {
			// The record expires by itself (a day) and never counts while stale.
			s.log.Warn("group record of an ended 1:1 room not dropped", "room", roomID, "err", err)
		}
	})
	return nil
}

// startSFUDirectory keeps this instance's SFU load and internal URL reported in Redis
// until ctx ends, then withdraws them (no new group is placed here); the channel closes
// when that is done. Nothing is reported without an SFU, in memory mode, or without an
// address the other instances can reach.
func (s *Server) startSFUDirectory(ctx context.Context, httpLn net.Listener) <-chan struct{} {
	done := make(chan struct{})
	f := s.sfu.Load()
	if s.sharedGroups == nil || f == nil {
		close(done)
		return done
	}
	base := s.internalURL(httpLn)
	if base == "" {
		s.log.Warn("no group room is placed on this instance: with TLS, set --internal-url to a name its certificate covers")
		close(done)
		return done
	}
	s.log.Info("SFU offered to the other instances", "internal_url", base)
	go func() {
		defer close(done)
		tick := time.NewTicker(sfuDirectoryEvery)
		defer tick.Stop()
		last, lastAt := f.Stats().ForwardedPackets, time.Now()
		failing := false
		for {
			st, now := f.Stats(), time.Now()
			pps := uint64(0)
			if secs := now.Sub(lastAt).Seconds(); secs > 0 {
				pps = uint64(float64(st.ForwardedPackets-last) / secs)
			}
			last, lastAt = st.ForwardedPackets, now
			rctx, cancel := context.WithTimeout(ctx, sfuDirectoryEvery)
			err := s.sharedGroups.Advertise(rctx, grouproom.Load{URL: base, PacketsPerSecond: pps, Participants: st.Participants, Weight: s.cfg.SFUWeight})
			cancel()
			switch {
			case err == nil:
				failing = false
			case ctx.Err() == nil && !failing:
				s.log.Warn("SFU load not reported; the other instances place groups on the last report", "err", err)
				failing = true
			}
			select {
			case <-ctx.Done():
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sfuDirectoryEvery)
				if err := s.sharedGroups.Withdraw(wctx); err != nil {
					s.log.Warn("SFU not withdrawn; the other instances stop placing groups here once this one is reaped", "err", err)
				}
				cancel()
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

// internalURL is Config.InternalURL, or the default it documents.
func (s *Server) internalURL(httpLn net.Listener) string {
	if s.cfg.InternalURL != "" {
		return s.cfg.InternalURL
	}
	a, ok := httpLn.Addr().(*net.TCPAddr)
	if s.tls != nil || !ok {
		return ""
	}
	ip := a.IP
	if ip.IsUnspecified() {
		ip = outboundIPv4()
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}

// passGroupOn passes a group socket on to the instance whose SFU serves its room. The
// request goes as it came (Host, Origin, cookies, path), so that instance runs the same
// door (rate, password, origin) and the ticket check on it, and serves it; this one
// carries the bytes both ways.
func (s *Server) passGroupOn(w http.ResponseWriter, r *http.Request, instance string) {
	s.passGroupOnTo(w, r, instance, true)
}

// passGroupOnTo is passGroupOn; mayMove lets a refused connection move the group (once
// per request) and the socket go on to the group's new instance.
func (s *Server) passGroupOnTo(w http.ResponseWriter, r *http.Request, instance string, mayMove bool) {
	log := s.logFor(r).With("room", r.PathValue("room"), "client", r.PathValue("client"), "sfu_instance", instance)
	if r.Header.Get(groupHopHeader) != "" {
		log.Error("group socket passed on twice: the instances disagree on where its SFU is")
		http.Error(w, "group room's server not found", http.StatusBadGateway)
		return
	}
	base, err := s.sharedGroups.URL(r.Context(), instance)
	if err != nil || base == "" {
		log.Warn("group socket not passed on: its SFU's instance advertises no address", "err", err)
		w.Header().Set("Retry-After", "2")
		http.Error(w, "group room's server unreachable: try again", http.StatusServiceUnavailable)
		return
	}
	target, err := url.Parse(base)
	if err != nil {
		log.Error("group socket not passed on: bad internal URL", "url", base, "err", err)
		http.Error(w, "group room's server unreachable", http.StatusBadGateway)
		return
	}
	log.Info("group socket passed on to its SFU's instance", "to", target.Host)
	s.metrics.groupPassedOn.Inc()
	p := &httputil.ReverseProxy{
		// Director, not Rewrite: the Host, X-Forwarded-Host and -Proto stay the client's
		// (the origin check there compares them), X-Forwarded-For gains the client.
		Director: func(out *http.Request) {
			out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
			out.Header.Set(groupHopHeader, "1")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			log.Warn("group socket's SFU instance unreachable", "to", target.Host, "err", err)
			if mayMove && errors.Is(err, syscall.ECONNREFUSED) {
				// Nothing listens there: the instance is likely dead, and the group need
				// not wait the heartbeat timeout to move (grouproom.Redis.Refused).
				now, merr := s.sharedGroups.Refused(r.Context(), r.PathValue("room"), instance)
				switch {
				case merr != nil:
					log.Warn("group's SFU instance refused; the group not moved", "err", merr)
				case now == s.state.Instance():
					s.serveGroup(w, r)
					return
				case now != "" && now != instance:
					s.passGroupOnTo(w, r, now, false)
					return
				}
			}
			http.Error(w, "group room's server unreachable", http.StatusBadGateway)
		},
	}
	p.ServeHTTP(w, r)
}
