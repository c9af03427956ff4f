package origin

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trust := NewTrust([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "198.51.100.7:5000", "", "198.51.100.7"},
		{"untrusted peer's header ignored", "198.51.100.7:5000", "203.0.113.1", "198.51.100.7"},
		{"trusted proxy names the client", "10.1.2.3:80", "203.0.113.1", "203.0.113.1"},
		{"last untrusted hop wins over a forged first one", "10.1.2.3:80", "192.0.2.66, 203.0.113.1", "203.0.113.1"},
		{"chain of our proxies skipped", "10.1.2.3:80", "203.0.113.1, 10.9.9.9", "203.0.113.1"},
		{"garbage hop stops the walk at the proxy", "10.1.2.3:80", "not-an-ip", "10.1.2.3"},
		{"IPv6 keyed by its /64", "[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2::"},
		{"IPv4-mapped unmapped", "[::ffff:198.51.100.9]:1", "", "198.51.100.9"},
		{"trusted IPv6 proxy", "[::1]:80", "198.51.100.10", "198.51.100.10"},
		{"unparsable peer", "pipe", "", "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := trust.ClientIP(r).String(); got != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOf(t *testing.T) {
	trust := NewTrust([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	tests := []struct {
		name, remote, proto, host string
		tls                       bool
		wantHTTP, wantWS          string
	}{
		{"plain", "198.51.100.7:1", "", "", false, "http://call.test", "ws://call.test"},
		{"TLS here", "198.51.100.7:1", "", "", true, "https://call.test", "wss://call.test"},
		{"untrusted headers ignored", "198.51.100.7:1", "https", "evil.test", false, "http://call.test", "ws://call.test"},
		{"trusted proxy says https and its host", "10.0.0.1:1", "https", "call.example.org", false, "https://call.example.org", "wss://call.example.org"},
		{"trusted proxy says http over our TLS", "10.0.0.1:1", "http", "", true, "http://call.test", "ws://call.test"},
		{"first of several values", "10.0.0.1:1", "https, http", "a.test, b.test", false, "https://a.test", "wss://a.test"},
		{"host with markup ignored", "10.0.0.1:1", "", `x"><script>`, false, "http://call.test", "ws://call.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://call.test/", nil)
			r.RemoteAddr = tt.remote
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			if tt.host != "" {
				r.Header.Set("X-Forwarded-Host", tt.host)
			}
			o := trust.Of(r)
			if o.HTTP() != tt.wantHTTP || o.WS() != tt.wantWS {
				t.Errorf("Of = %s %s, want %s %s", o.HTTP(), o.WS(), tt.wantHTTP, tt.wantWS)
			}
		})
	}
	var nobody Trust
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	if nobody.FromProxy(r) {
		t.Error("the zero Trust trusts a proxy")
	}
}

func TestValidHost(t *testing.T) {
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		host string
		want bool
	}{
		{"call.example.org", true}, {"call.example.org:8443", true}, {"[2001:db8::1]:443", true},
		{"under_score-dash", true}, {"", false}, {string(long), false}, {string(long[:255]), true},
		{"a/b", false}, {"a b", false}, {`a"b`, false}, {"a@b", false}, {"a?b", false},
	}
	for _, tt := range tests {
		if got := ValidHost(tt.host); got != tt.want {
			t.Errorf("ValidHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
