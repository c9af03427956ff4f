// Package origin works out who sent a request and how it reached this server: the client's
// address and the scheme and host the browser used. Forwarding headers (X-Forwarded-For,
// -Proto, -Host) are believed only from the proxies an operator trusts (--trust-proxy), so
// a client cannot choose the address its limits are keyed by or the URLs the server hands
// out.
package origin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trust is the set of proxies whose forwarding headers are believed. The zero value
// trusts nobody.
type Trust struct {
	proxies []netip.Prefix
}

// NewTrust trusts the proxies in prefixes.
func NewTrust(prefixes []netip.Prefix) Trust {
	return Trust{proxies: append([]netip.Prefix(nil), prefixes...)}
}

// Origin is how the client reached us: scheme and host as the browser sees them.
type Origin struct {
	Secure bool
	Host   string
}

// HTTP is the origin as an http(s) URL prefix.
func (o Origin) HTTP() string {
	if o.Secure {
		return "https://" + o.Host
	}
	return "http://" + o.Host
}

// WS is the origin as a ws(s) URL prefix.
func (o Origin) WS() string {
	if o.Secure {
		return "wss://" + o.Host
	}
	return "ws://" + o.Host
}

// Of works out the scheme and host of r, believing X-Forwarded-Proto/-Host only from a
// trusted proxy.
func (t Trust) Of(r *http.Request) Origin {
	o := Origin{Secure: r.TLS != nil, Host: r.Host}
	if !t.FromProxy(r) {
		return o
	}
	if p := firstHeaderValue(r, "X-Forwarded-Proto"); p != "" {
		o.Secure = strings.EqualFold(p, "https") || strings.EqualFold(p, "wss")
	}
	if h := firstHeaderValue(r, "X-Forwarded-Host"); h != "" && ValidHost(h) {
		o.Host = h
	}
	return o
}

// FromProxy says whether r's peer is a trusted proxy.
func (t Trust) FromProxy(r *http.Request) bool {
	return t.trusted(peerIP(r))
}

// ClientIP is the address limits are keyed by: the peer, or behind a trusted proxy the last
// X-Forwarded-For hop that is not one of our proxies. IPv6 clients are keyed by their /64,
// which one host usually owns whole.
func (t Trust) ClientIP(r *http.Request) netip.Addr {
	ip := peerIP(r)
	if t.trusted(ip) {
		hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			ip = hop.Unmap()
			if !t.trusted(ip) {
				break
			}
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (t Trust) trusted(ip netip.Addr) bool {
	for _, p := range t.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerIP is the address of the connection's other end.
func peerIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return ip.Unmap()
}

func firstHeaderValue(r *http.Request, name string) string {
	v := r.Header.Get(name)
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// ValidHost admits host[:port] made of the characters a host name or address may hold, so a
// forwarded header cannot inject markup or another URL into what the server hands out.
func ValidHost(h string) bool {
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
