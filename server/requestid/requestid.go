// Package requestid gives every HTTP request an id that its response and every log line
// about it carry, so an operator can follow one join or one relay socket through the logs,
// across a proxy that sets the id too.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/onertc/onertc/server/origin"
)

// Header carries the id in requests and responses.
const Header = "X-Request-Id"

// maxLen bounds an id a proxy sends: longer ones are replaced, not cut, so two requests
// never share a truncated id.
const maxLen = 64

type key struct{}

// Wrap gives every request an id: the one a trusted proxy sent in X-Request-Id (fromProxy
// says whether the request came from one), or a new one. It is echoed in the response and
// set in the request's header too, where the relay reads it for the socket's log lines.
func Wrap(next http.Handler, fromProxy func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !fromProxy(r) || id == "" || len(id) > maxLen || !origin.ValidHost(id) {
			var b [8]byte
			_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
			id = hex.EncodeToString(b[:])
		}
		r.Header.Set(Header, id)
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, id)))
	})
}

// Of is the id Wrap gave r ("" outside Wrap).
func Of(r *http.Request) string {
	id, _ := r.Context().Value(key{}).(string)
	return id
}

// Logger is log with r's id and peer.
func Logger(log *slog.Logger, r *http.Request) *slog.Logger {
	return log.With("request_id", Of(r), "remote", r.RemoteAddr)
}
