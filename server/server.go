// Package server wires the room server, the Collider relay and the TURN server of onertc
// onto one HTTP port and the TURN sockets, and serves them until its context ends.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/onertc/onertc/server/room"
	"github.com/onertc/onertc/server/signal"
)

// Listeners are the sockets the server serves on; the caller creates them, so tests can
// run servers on ephemeral ports.
type Listeners struct {
	HTTP    net.Listener
	TURNUDP []net.PacketConn
	TURNTCP []net.Listener
	TURNTLS []net.Listener
}

// Server is one onertc instance.
type Server struct {
	cfg   Config
	log   *slog.Logger
	rooms room.Store
	relay *signal.Relay
	mux   *http.ServeMux
}

// New builds a server from a validated cfg. It starts nothing.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, rooms: room.NewMemory()}
	rcfg := signal.DefaultConfig()
	rcfg.Grace = cfg.RelayGrace
	rcfg.FramesPerSecond = cfg.RelayFramesPerSecond
	rcfg.FrameBurst = int(2 * cfg.RelayFramesPerSecond)
	rcfg.Logger = log.With("component", "relay")
	rcfg.Hooks = relayHooks{s}
	rcfg.CheckOrigin = signal.SameOrigin(cfg.AllowedOrigins, func(r *http.Request) string { return s.origin(r).host })
	s.relay = signal.New(rcfg)
	s.mux = s.routes()
	return s, nil
}

// Handler is the HTTP handler of every route on the one port.
func (s *Server) Handler() http.Handler { return s.mux }

// Relay is the server's relay, for its counters.
func (s *Server) Relay() *signal.Relay { return s.relay }

// Serve serves on ls until ctx ends, then shuts down gracefully: it stops accepting, closes
// relay sockets with "going away", waits for requests in flight up to ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ls Listeners) error {
	if ls.HTTP == nil {
		return errors.New("serve: no HTTP listener")
	}
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ls.HTTP) }()
	s.log.Info("serving", "http", ls.HTTP.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("http server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := hs.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("http shutdown: %w", serr))
	}
	// Hijacked relay sockets are not tracked by http.Server: close them ourselves.
	s.relay.Close()
	s.log.Info("stopped")
	return err
}

// newClientID makes an unguessable client id in the protocol's charset.
func newClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// relayHooks connects the relay to the room table.
type relayHooks struct{ s *Server }

func (h relayHooks) StoreIfAlone(ctx context.Context, roomID, clientID, msg string) bool {
	stored, err := h.s.rooms.Message(ctx, roomID, clientID, msg)
	if err != nil && !errors.Is(err, room.ErrUnknownRoom) && !errors.Is(err, room.ErrUnknownClient) {
		h.s.log.Warn("relay message not stored in mailbox", "room", roomID, "client", clientID, "err", err)
	}
	return stored && err == nil
}

func (h relayHooks) Removed(ctx context.Context, roomID, clientID string, handoff []string) {
	if err := h.s.rooms.Remove(ctx, roomID, clientID, handoff); err != nil {
		h.s.log.Warn("room did not take the relay's removal", "room", roomID, "client", clientID, "err", err)
	}
}
