package server

import (
	"io"
	"net/http"

	"github.com/onertc/onertc/web"
)

// routes wires every route of the one port.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.api.Index)
	mux.HandleFunc("GET /r/{room}", s.api.RoomPage)
	mux.Handle("GET /static/", web.DefaultAssets())
	// In password mode (the gate's Guard) these answer 401 unless the cookies admit the room.
	mux.HandleFunc("POST /join/{room}", s.limited(s.limiters.join, s.gate.Guard(s.api.Join)))
	mux.HandleFunc("POST /message/{room}/{client}", s.limited(s.limiters.message, s.gate.Guard(s.api.Message)))
	mux.HandleFunc("POST /leave/{room}/{client}", s.gate.Guard(s.api.Leave))
	mux.HandleFunc("POST /bye/{room}/{client}", s.gate.Guard(s.api.Leave))
	mux.HandleFunc("GET /params", s.gate.Guard(s.api.Params))
	mux.HandleFunc("GET /ws", s.limited(s.limiters.ws, s.gate.Guard(s.relay.ServeWS)))
	// A group room's socket to the SFU: the same door as /ws (rate, password), and only for
	// a participant the room's record admitted.
	mux.HandleFunc("GET /group/{room}/{client}", s.limited(s.limiters.ws, s.gate.Guard(s.serveGroup)))
	// /collider is the same signaling as /message by another door: one bucket for both.
	mux.HandleFunc("/collider/{room}/{client}", s.limited(s.limiters.message, s.gate.Guard(s.relay.ServeCollider)))
	s.gate.Routes(mux) // /login and /invite in password mode
	// Public and unlimited, as Collider's was: it reads a few counters (no lock, nothing
	// that grows with the rooms), so it costs no more than /healthz, less than a limiter.
	mux.HandleFunc("GET /status", s.relay.ServeStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if s.turn != nil {
		mux.Handle("GET /healthz/turn", s.turn.probe)
		mux.Handle("/turn", s.limited(s.limiters.turn, s.gate.Guard(s.turn.rest.turn.ServeHTTP)))
		mux.Handle("/v1alpha/iceconfig", s.limited(s.limiters.turn, s.gate.Guard(s.turn.rest.iceConfig.ServeHTTP)))
	}
	if s.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.metricsHandler())
	}
	return mux
}

// handleReady is the readiness probe: 503 once the server drains, so a load balancer
// sends new calls elsewhere while the calls in progress finish here.
func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "draining\n")
		return
	}
	if !s.relay.SharedHealthy() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "redis unreachable\n")
		return
	}
	io.WriteString(w, "ready\n")
}
