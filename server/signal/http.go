package signal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

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

// ServeWS upgrades the request to a relay socket and serves it until it closes. It returns
// once the socket's goroutines have ended.
func (r *Relay) ServeWS(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.wg.Add(1)
	}
	r.mu.Unlock()
	if closed {
		http.Error(w, ErrClosed.Error(), http.StatusServiceUnavailable)
		return
	}
	defer r.wg.Done()
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		// The upgrader has answered and counted it.
		r.log.Debug("relay handshake refused", "remote", req.RemoteAddr, "err", err)
		return
	}
	s := &socket{
		relay:  r,
		ws:     ws,
		log:    r.log.With("remote", req.RemoteAddr),
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		limits: rate.NewLimiter(rate.Limit(r.cfg.FramesPerSecond), r.cfg.FrameBurst),
	}
	r.mu.Lock()
	r.sockets[s] = struct{}{}
	r.mu.Unlock()
	r.stats.openWS.Add(1)
	r.stats.totalWS.Add(1)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	// The reader is not tied to the request context: net/http cancels it on hijack.
	failed := s.readLoop(context.WithoutCancel(req.Context()))
	s.detach()
	if failed {
		// Let the writer send the error frame; it closes the connection itself.
		select {
		case <-writerDone:
		case <-time.After(r.cfg.WriteTimeout):
		}
	}
	s.closeWith(1000, "")
	<-writerDone
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
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, protocol.MaxMessageBytes))
		if err != nil {
			r.stats.httpErrors.Add(1)
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, ErrTooLarge.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "Failed to read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) == 0 {
			r.stats.httpErrors.Add(1)
			http.Error(w, protocol.ErrTextMissingMsg, http.StatusInternalServerError)
			return
		}
		if err := r.Send(req.Context(), roomID, clientID, string(body)); err != nil {
			r.stats.httpErrors.Add(1)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "OK\n")
	case http.MethodDelete:
		r.Delete(req.Context(), roomID, clientID)
		io.WriteString(w, "OK\n")
	default:
	}
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
