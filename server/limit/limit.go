// Package limit bounds what one client can make the server do: per-client-IP request rates
// (token buckets per route class) and a deadline on reading a request's body.
package limit

import (
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// Rates are per-client-IP request rates, per second; the burst is Burst times the rate.
// Zero turns a class off.
type Rates struct {
	Join    float64
	Message float64
	TURN    float64 // GET /turn and POST /v1alpha/iceconfig
	WS      float64 // new relay WebSockets
	Burst   float64
}

// DefaultRates let a real client do everything a call needs (AppRTC's initiator POSTs
// every candidate, tens in a second) and stop a script that loops.
func DefaultRates() Rates {
	return Rates{Join: 1, Message: 50, TURN: 2, WS: 2, Burst: 10}
}

// PerIP is one class's table of per-IP token buckets. Entries idle for a while are swept as
// the table is used, so no goroutine is needed. A nil *PerIP limits nothing.
type PerIP struct {
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

// idleAfter is how long an address's bucket is kept after its last request: by then it is
// full again, so forgetting it changes nothing.
const idleAfter = 10 * time.Minute

// NewPerIP makes the table of class (the metrics label); nil when perSecond is not positive.
func NewPerIP(class string, perSecond, burstFactor float64) *PerIP {
	if perSecond <= 0 {
		return nil
	}
	return &PerIP{
		class:   class,
		limit:   rate.Limit(perSecond),
		burst:   max(1, int(math.Ceil(perSecond*burstFactor))),
		buckets: make(map[netip.Addr]*bucket),
	}
}

// Class is the name the table was made with.
func (l *PerIP) Class() string { return l.class }

// Allow takes a token for ip; when there is none it says how long until there is.
func (l *PerIP) Allow(ip netip.Addr, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleAfter {
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

// Len is how many addresses the table holds.
func (l *PerIP) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Wrap limits h by the address key gives for a request: over the limit, 429 with
// Retry-After, and refused(class) is called (for metrics).
func (l *PerIP) Wrap(h http.HandlerFunc, key func(*http.Request) netip.Addr, refused func(class string)) http.HandlerFunc {
	if l == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ok, wait := l.Allow(key(r), time.Now())
		if !ok {
			refused(l.class)
			TooMany(w, wait, "too many requests: slow down")
			return
		}
		h(w, r)
	}
}

// TooMany answers 429 with a Retry-After of wait, rounded up to whole seconds.
func TooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	http.Error(w, msg, http.StatusTooManyRequests)
}

// DefaultBodyTimeout bounds how long a request may take to send its body once its header
// is in: the largest body a route takes (64 KiB) at a slow mobile link's 5 KB/s.
const DefaultBodyTimeout = 15 * time.Second

// BodyDeadline gives each request that has a body a read deadline d from the end of its
// header (DefaultBodyTimeout when d is not positive), so a client sending it a byte at a
// time cannot hold a handler (or, for a handler that does not read it, the server's own
// draining of it) as long as it likes. A request without a body keeps the deadline net/http
// leaves (none, while the handler runs): a relay WebSocket is such a request, and its
// hijacked connection keeps whatever deadline is set here, so an upgrade is left alone in
// any case. Once the body has been read to its end, net/http clears the deadline itself, so
// a handler that then waits (Redis away) is not cut.
func BodyDeadline(h http.Handler, d time.Duration, log *slog.Logger) http.Handler {
	if d <= 0 {
		d = DefaultBodyTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && !websocket.IsWebSocketUpgrade(r) {
			if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)); err != nil {
				log.Debug("no read deadline for a request body", "path", r.URL.Path, "err", err)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// BodyTimedOut tells a body that stopped arriving (BodyDeadline) from other read errors.
func BodyTimedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
