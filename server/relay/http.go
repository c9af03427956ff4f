package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/onertc/onertc/protocol"
)

// SameOrigin returns a handshake check that admits clients sending no Origin (native apps
// and bots, which could forge one anyway), browsers on the relay's own host (as hostOf
// tells it, r.Host when nil), and the listed origins ("*" admits every origin).
func SameOrigin(allowed []string, hostOf func(*http.Request) string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		for _, a := range allowed {
			if a == "*" || strings.EqualFold(a, origin) {
				return true
			}
		}
		u, err := url.Parse(origin)
		if err != nil {
			return false
		}
		host := r.Host
		if hostOf != nil {
			host = hostOf(r)
		}
		return strings.EqualFold(u.Host, host)
	}
}

// ServeWS upgrades the request to a relay socket. The socket's reader and writer run in
// goroutines of their own and the handler returns at once, so that net/http's per-request
// state (buffers, request, response) is freed: an idle socket then costs only its own.
func (r *Relay) ServeWS(w http.ResponseWriter, req *http.Request) {
	key := req.RemoteAddr
	if r.cfg.ClientKey != nil {
		key = r.cfg.ClientKey(req)
	}
	r.mu.Lock()
	status, refusal := 0, ""
	switch {
	case r.closed.Load():
		status, refusal = http.StatusServiceUnavailable, ErrClosed.Error()
	case r.cfg.MaxSockets > 0 && r.admitted >= r.cfg.MaxSockets:
		status, refusal = http.StatusServiceUnavailable, "Too many open sockets on this server"
	case r.cfg.MaxSocketsPerIP > 0 && r.perKey[key] >= r.cfg.MaxSocketsPerIP:
		status, refusal = http.StatusTooManyRequests, "Too many open sockets from your address"
	default:
		r.wg.Add(1)
		// Counted before the upgrade so concurrent handshakes cannot overshoot the cap.
		r.perKey[key]++
		r.admitted++
	}
	r.mu.Unlock()
	if status != 0 {
		r.stats.wsErrors.Add(1)
		http.Error(w, refusal, status)
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		// The upgrader has answered and counted it.
		r.log.Debug("relay handshake refused", "remote", req.RemoteAddr, "err", err)
		r.mu.Lock()
		r.releaseLocked(key)
		r.mu.Unlock()
		r.wg.Done()
		return
	}
	s := &socket{
		key:    key,
		relay:  r,
		ws:     ws,
		conn:   ws.NetConn(),
		log:    r.log.With("remote", req.RemoteAddr, "request_id", req.Header.Get("X-Request-Id")),
		dead:   make(chan struct{}),
		limits: rate.NewLimiter(rate.Limit(r.cfg.FramesPerSecond), r.cfg.FrameBurst),
	}
	s.pinger = time.AfterFunc(r.cfg.PingInterval, s.keepalive)
	r.mu.Lock()
	r.sockets[s] = struct{}{}
	r.mu.Unlock()
	r.stats.openWS.Add(1)
	r.stats.totalWS.Add(1)
	// The reader is not tied to the request context: it ends with the handler.
	go s.serve(context.WithoutCancel(req.Context()))
}

// serve reads the socket until it ends, then has the writer close it.
func (s *socket) serve(ctx context.Context) {
	r := s.relay
	defer r.wg.Done()
	defer s.pinger.Stop()
	failed := s.readLoop(ctx)
	s.detach()
	if failed {
		// Let the writer send the error frame; it closes the connection itself.
		select {
		case <-s.dead:
		case <-time.After(r.cfg.WriteTimeout):
		}
	}
	s.closeWith(websocket.CloseNormalClosure, "")
	select {
	case <-s.dead:
	case <-time.After(r.cfg.WriteTimeout + time.Second):
		s.finish()
	}
}

// keepalive asks for a ping every PingInterval. When it was armed for written messages
// (ConfirmDelay, socket.wroteLocked), it first only asks that the next burst carry a ping,
// which then costs no write of its own; if no burst comes within another ConfirmDelay, the
// ping goes out alone.
func (s *socket) keepalive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	if s.confirmArmed && !s.pingWanted {
		s.pingWanted = true
		s.pinger.Reset(s.relay.cfg.ConfirmDelay)
		return
	}
	s.pingDue = true
	s.confirmArmed = false
	s.kickLocked()
	s.pinger.Reset(s.relay.cfg.PingInterval)
}

// ServeCollider handles POST (send as that client) and DELETE (remove at once) on
// /collider/{room}/{client}, and answers other methods (CORS preflight) with 200.
func (r *Relay) ServeCollider(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
	roomID, clientID := req.PathValue("room"), req.PathValue("client")
	if !protocol.ValidID(roomID) || !protocol.ValidID(clientID) {
		r.stats.httpErrors.Add(1)
		http.Error(w, "Invalid room or client id", http.StatusNotFound)
		return
	}
	switch req.Method {
	case http.MethodPost:
		if r.stranger(req.Context(), roomID, clientID) {
			r.stats.httpErrors.Add(1)
			// Its body is never read: not here, and not by net/http after the handler,
			// which drains up to 256 KiB of an unread body to reuse the connection unless
			// the answer closes it.
			w.Header().Set("Connection", "close")
			http.Error(w, ErrUnknownClient.Error(), http.StatusInternalServerError)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, protocol.MaxMessageBytes))
		if err != nil {
			r.stats.httpErrors.Add(1)
			var tooLarge *http.MaxBytesError
			var ne net.Error
			switch {
			case errors.As(err, &tooLarge):
				http.Error(w, ErrTooLarge.Error(), http.StatusRequestEntityTooLarge)
			case errors.As(err, &ne) && ne.Timeout():
				// The server's read deadline for bodies passed (a client sending slowly).
				w.Header().Set("Connection", "close")
				http.Error(w, "Request body not received in time", http.StatusRequestTimeout)
			default:
				http.Error(w, "Failed to read request body: "+err.Error(), http.StatusBadRequest)
			}
			return
		}
		if len(body) == 0 {
			r.stats.httpErrors.Add(1)
			http.Error(w, protocol.ErrTextMissingMsg, http.StatusInternalServerError)
			return
		}
		if err := r.Send(req.Context(), roomID, clientID, string(body)); err != nil {
			r.stats.httpErrors.Add(1)
			status := http.StatusInternalServerError // Collider's answer to every failed send
			if errors.Is(err, ErrUnavailable) {
				// Nothing was kept; unlike the others, this one is worth sending again.
				w.Header().Set("Retry-After", "1")
				status = http.StatusServiceUnavailable
			}
			http.Error(w, err.Error(), status)
			return
		}
		io.WriteString(w, "OK\n")
	case http.MethodDelete:
		r.Delete(req.Context(), roomID, clientID)
		io.WriteString(w, "OK\n")
	default:
	}
}

// stranger reports whether clientID is certainly not in the room, asking the State alone
// (nothing else is done for a stranger). When the State cannot say (Redis away), the
// request goes on to Send, which holds it through a short outage as it does a socket's.
func (r *Relay) stranger(ctx context.Context, roomID, clientID string) bool {
	member, err := r.cfg.State.Member(ctx, roomID, clientID)
	if err != nil {
		r.log.Debug("collider post: membership unknown", "room", roomID, "client", clientID, "err", err)
		return false
	}
	return !member
}

// ServeStatus writes Collider's dashboard counters.
func (r *Relay) ServeStatus(w http.ResponseWriter, _ *http.Request) {
	st := r.Stats()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Upsec      float64 `json:"upsec"`
		OpenWS     int64   `json:"openws"`
		TotalWS    int64   `json:"totalws"`
		WSErrors   int64   `json:"wserrors"`
		HTTPErrors int64   `json:"httperrors"`
	}{st.Uptime.Seconds(), st.OpenWS, st.TotalWS, st.WSErrors, st.HTTPErrors})
}
