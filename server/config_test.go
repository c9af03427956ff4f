package server

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no http address", func(c *Config) { c.HTTPAddr = "" }, "http listen address"},
		{"zero grace", func(c *Config) { c.RelayGrace = 0 }, "relay grace"},
		{"negative drain", func(c *Config) { c.DrainTimeout = -time.Second }, "drain timeout"},
		{"zero SFU weight", func(c *Config) { c.SFUWeight = 0 }, "sfu-weight"},
		{"SFU weight too large", func(c *Config) { c.SFUWeight = 101 }, "sfu-weight"},
		{"relay ports reversed", func(c *Config) { c.TURN.RelayPortMin, c.TURN.RelayPortMax = 9000, 8000 }, "relay ports"},
		{"ttl too short", func(c *Config) { c.TURN.TTL = time.Millisecond }, "turn ttl"},
		{"pprof on a public address", func(c *Config) { c.PprofAddr = "0.0.0.0:6060" }, "loopback"},
		{"pprof on loopback", func(c *Config) { c.PprofAddr = "127.0.0.1:6060" }, ""},
		{"metrics auth without colon", func(c *Config) { c.MetricsAuth = "secret" }, "user:password"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "c.pem" }, "go together"},
		{"two certificate sources", func(c *Config) { c.TLS.SelfSigned = true; c.TLS.ACMEDomains = []string{"a.example"} }, "choose one"},
		{"redirect without https", func(c *Config) { c.TLS.HTTPRedirect = ":80" }, "needs HTTPS"},
		{"bad allow CIDR", func(c *Config) { c.TURN.AllowPeers = []string{"10.0.0.0/33"} }, "--turn-allow-peer"},
		{"bad deny CIDR", func(c *Config) { c.TURN.DenyPeers = []string{"not-a-net"} }, "--turn-deny-peer"},
		{"negative socket cap", func(c *Config) { c.MaxSockets = -1 }, "socket caps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("missing certificate file stops New", func(t *testing.T) {
		c := DefaultConfig()
		c.TURN.Disabled = true
		c.TLS.CertFile, c.TLS.KeyFile = "/nonexistent/cert.pem", "/nonexistent/key.pem"
		if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "tls certificate") {
			t.Fatalf("New = %v", err)
		}
	})
}
