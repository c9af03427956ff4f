package server

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// defaultBodyTimeout bounds how long a request may take to send its body once its header
// is in: the largest body a route takes (64 KiB) at a slow mobile link's 5 KB/s.
const defaultBodyTimeout = 15 * time.Second

// WithBodyTimeout replaces the 15 s a request has to send its body: tests of slow clients
// run faster with less.
func WithBodyTimeout(d time.Duration) Option { return func(s *Server) { s.bodyTimeout = d } }

// bodyDeadline gives each request that has a body a read deadline, so a client sending it
// a byte at a time cannot hold a handler (or, for a handler that does not read it, the
// server's own draining of it) as long as it likes. A request without a body keeps the
// deadline net/http leaves (none, while the handler runs): a relay WebSocket is such a
// request, and its hijacked connection keeps whatever deadline is set here, so an upgrade
// is left alone in any case. Once the body has been read to its end, net/http clears the
// deadline itself, so a handler that then waits (Redis away) is not cut.
func (s *Server) bodyDeadline(h http.Handler) http.Handler {
	d := s.bodyTimeout
	if d <= 0 {
		d = defaultBodyTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && !websocket.IsWebSocketUpgrade(r) {
			if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)); err != nil {
				s.log.Debug("no read deadline for a request body", "path", r.URL.Path, "err", err)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// bodyTimedOut tells a body that stopped arriving (bodyDeadline) from other read errors.
func bodyTimedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RateLimits are per-client-IP request rates, per second; the burst is Burst times the
// rate. Zero turns a class off.
type RateLimits struct {
	Join    float64
	Message float64
	TURN    float64 // GET /turn and POST /v1alpha/iceconfig
	WS      float64 // new relay WebSockets
	Burst   float64
}

// DefaultRateLimits let a real client do everything a call needs (AppRTC's initiator POSTs
// every candidate, tens in a second) and stop a script that loops.
func DefaultRateLimits() RateLimits {
	return RateLimits{Join: 1, Message: 50, TURN: 2, WS: 2, Burst: 10}
}

// limiter is one class's table of per-IP token buckets. Entries idle for a while are swept
// as the table is used, so no goroutine is needed.
type limiter struct {
	class string
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const limiterIdle = 10 * time.Minute

func newLimiter(class string, perSecond, burstFactor float64) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{
		class:   class,
		limit:   rate.Limit(perSecond),
		burst:   max(1, int(math.Ceil(perSecond*burstFactor))),
		buckets: make(map[netip.Addr]*bucket),
	}
}

// allow takes a token for ip; when there is none it says how long until there is.
func (l *limiter) allow(ip netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > limiterIdle {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limit wraps h with the class's per-IP rate limit: 429 with Retry-After when over.
func (s *Server) limit(l *limiter, h http.HandlerFunc) http.HandlerFunc {
	if l == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ok, wait := l.allow(s.clientIP(r), time.Now())
		if !ok {
			s.metrics.limited.WithLabelValues(l.class).Inc()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			http.Error(w, "too many requests: slow down", http.StatusTooManyRequests)
			return
		}
		h(w, r)
	}
}

// clientIP is the address limits are keyed by: the peer, or behind a trusted proxy the last
// X-Forwarded-For hop that is not one of our proxies. IPv6 clients are keyed by their /64,
// which one host usually owns whole.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	ip := remoteIP(r)
	if s.trusted(ip) {
		hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			ip = hop.Unmap()
			if !s.trusted(ip) {
				break
			}
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return ip.Unmap()
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustProxy {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
