package server

import (
	"net/http"
	"strings"
)

// requestOrigin is how the client reached us: scheme and host as the browser sees them.
type requestOrigin struct {
	secure bool
	host   string
}

func (o requestOrigin) http() string {
	if o.secure {
		return "https://" + o.host
	}
	return "http://" + o.host
}

func (o requestOrigin) ws() string {
	if o.secure {
		return "wss://" + o.host
	}
	return "ws://" + o.host
}

// origin works out the scheme and host of r, believing X-Forwarded-Proto/-Host only from
// a trusted proxy.
func (s *Server) origin(r *http.Request) requestOrigin {
	o := requestOrigin{secure: r.TLS != nil, host: r.Host}
	if !s.fromTrustedProxy(r) {
		return o
	}
	if p := firstHeaderValue(r, "X-Forwarded-Proto"); p != "" {
		o.secure = strings.EqualFold(p, "https") || strings.EqualFold(p, "wss")
	}
	if h := firstHeaderValue(r, "X-Forwarded-Host"); h != "" && validHost(h) {
		o.host = h
	}
	return o
}

func firstHeaderValue(r *http.Request, name string) string {
	v := r.Header.Get(name)
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

func (s *Server) fromTrustedProxy(r *http.Request) bool {
	return s.trusted(remoteIP(r))
}

// validHost admits host[:port] made of the characters a host name or address may hold, so a
// forwarded header cannot inject markup or another URL into the params.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}
