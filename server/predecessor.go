package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/onertc/onertc/server/apprtc"
)

// In memory mode a process that took the listeners over (server/handover) does not hold the
// calls its predecessor drains: their rooms live in the old process. Their requests come to
// the new one all the same (the port is its now), so it passes on those about a room it does
// not hold to the predecessor, over a unix socket the predecessor serves while it drains.
// Relay sockets need no such help: theirs stay connected to the old process.

// clientHeader carries the client's address to the predecessor, whose own view of the
// connection is the unix socket.
const clientHeader = "X-Onertc-Handover-Client"

// WithPredecessor names the unix socket (server/handover) of the process this one took the
// listeners over from: requests about a room this one does not hold go there while it
// answers.
func WithPredecessor(socket string) Option { return func(s *Server) { s.predecessor = socket } }

// roomRoutes are the paths naming a room whose requests may concern a predecessor's call:
// sending, leaving, and the Collider's POST/DELETE. A join starts or enters a call here.
var roomRoutes = []string{"/message/", "/leave/", "/bye/", "/collider/"}

// forwardUnknownRooms passes requests about a room not held here to the predecessor, until
// it stops answering (its drain ended).
func (s *Server) forwardUnknownRooms(next http.Handler) http.Handler {
	if s.predecessor == "" {
		return next
	}
	var d net.Dialer
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "predecessor"
			r.Out.Header.Set(clientHeader, s.trust.ClientIP(r.In).String())
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", s.predecessor)
			},
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Its drain is over (or it died): the room is gone with it. The request
			// was not taken; the client sends it again and it is answered here.
			if s.predecessorGone.CompareAndSwap(false, true) {
				s.log.Info("hand-over: the predecessor no longer answers; its rooms are gone", "err", err)
			}
			apprtc.Unavailable(w)
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		roomID := pathRoom(r.URL.Path)
		if roomID == "" || s.predecessorGone.Load() {
			next.ServeHTTP(w, r)
			return
		}
		if n, err := s.rooms.Occupancy(r.Context(), roomID); err != nil || n > 0 {
			next.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// pathRoom is the room a request of roomRoutes names, "" for any other request.
func pathRoom(path string) string {
	for _, p := range roomRoutes {
		if rest, ok := strings.CutPrefix(path, p); ok {
			roomID, _, _ := strings.Cut(rest, "/")
			return roomID
		}
	}
	return ""
}

// predecessorHandler serves the successor's forwarded requests: the client's address is
// the one the successor saw, which it alone may say (the socket is private to the two).
func (s *Server) predecessorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := r.Header.Get(clientHeader); ip != "" {
			r.RemoteAddr = net.JoinHostPort(ip, "0")
		}
		r.Header.Del(clientHeader)
		r.Header.Del("X-Forwarded-For")
		s.handler.ServeHTTP(w, r)
	})
}
