package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

type requestIDKey struct{}

// withRequestID gives every request an id: the one a trusted proxy sent in X-Request-Id, or
// a new one. It is echoed in the response and carried by every log line about the request,
// so an operator can follow one join or socket through the logs.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !s.fromTrustedProxy(r) || id == "" || len(id) > 64 || !validHost(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		r.Header.Set("X-Request-Id", id) // the relay logs it with the socket
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// logFor is the server's logger with the request's id and peer.
func (s *Server) logFor(r *http.Request) *slog.Logger {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return s.log.With("request_id", id, "remote", r.RemoteAddr)
}
