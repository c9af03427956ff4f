package handover

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"
)

// In memory mode a process that took the listeners over does not hold the calls its
// predecessor drains: their rooms live in the old process. Their requests come to the new
// one all the same (the port is its now), so it passes on those about a room it does not
// hold to the predecessor, over a unix socket the predecessor serves while it drains.
// Relay sockets need no such help: theirs stay connected to the old process.

// clientHeader carries the client's address to the predecessor, whose own view of the
// connection is the unix socket.
const clientHeader = "X-Onertc-Handover-Client"

// Forwarding says which requests go to the predecessor, and how.
type Forwarding struct {
	// Socket is the unix socket the predecessor serves while it drains.
	Socket string
	// RoomOf is the room a request's path names, "" for a request about no room.
	RoomOf func(path string) string
	// Holds says whether this process holds room (an error counts as holding it: the
	// request is answered here).
	Holds func(ctx context.Context, room string) (bool, error)
	// ClientIP is the client's address as this process sees it.
	ClientIP func(*http.Request) string
	// Unavailable answers a request the predecessor can no longer take: the client sends it
	// again, and then it is answered here.
	Unavailable http.HandlerFunc
	Log         *slog.Logger
}

// ForwardToPredecessor passes requests about a room not held here to the predecessor, until
// it stops answering (its drain ended); every other request goes to next.
func ForwardToPredecessor(next http.Handler, f Forwarding) http.Handler {
	var gone atomic.Bool
	var d net.Dialer
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "predecessor"
			r.Out.Header.Set(clientHeader, f.ClientIP(r.In))
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", f.Socket)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Its drain is over (or it died): the room is gone with it. The request
			// was not taken; the client sends it again and it is answered here.
			if gone.CompareAndSwap(false, true) {
				f.Log.Info("hand-over: the predecessor no longer answers; its rooms are gone", "err", err)
			}
			f.Unavailable(w, r)
		},
		ErrorLog: slog.NewLogLogger(f.Log.Handler(), slog.LevelDebug),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		room := f.RoomOf(r.URL.Path)
		if room == "" || gone.Load() {
			next.ServeHTTP(w, r)
			return
		}
		if held, err := f.Holds(r.Context(), room); err != nil || held {
			next.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// FromSuccessor serves the successor's forwarded requests with h: the client's address is
// the one the successor saw, which it alone may say (the socket is private to the two).
func FromSuccessor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := r.Header.Get(clientHeader); ip != "" {
			r.RemoteAddr = net.JoinHostPort(ip, "0")
		}
		r.Header.Del(clientHeader)
		r.Header.Del("X-Forwarded-For")
		h.ServeHTTP(w, r)
	})
}
