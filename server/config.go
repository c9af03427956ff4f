package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/redisconn"
	"github.com/onertc/onertc/server/turn"
)

// Config is everything the server runs with. DefaultConfig gives a working localhost setup;
// Validate checks a Config once, before anything starts.
type Config struct {
	// HTTPAddr is the listen address of the one HTTP(S) port.
	HTTPAddr string
	// RelayGrace is how long a relay client whose socket dropped may re-register.
	RelayGrace time.Duration
	// RelayFramesPerSecond bounds the frames one relay socket may send (burst: twice that).
	RelayFramesPerSecond float64
	// AllowedOrigins are browser origins admitted to /ws besides the server's own host;
	// "*" admits all.
	AllowedOrigins []string
	// TrustProxy lists the networks whose X-Forwarded-Proto/-Host/-For are believed.
	TrustProxy []netip.Prefix
	// ShutdownTimeout bounds the graceful shutdown of HTTP requests in flight.
	ShutdownTimeout time.Duration
	// SharedHold is how long, in Redis mode, a relay message Redis cannot take is held and
	// retried before its sender gets an error (default 15 s): a shorter outage loses nothing.
	SharedHold time.Duration
	// DrainTimeout is how long a shutdown lets calls in progress go on (new joins are
	// refused, /readyz says 503) before closing them; it ends early when no room is left.
	DrainTimeout time.Duration
	// Limits are the per-IP request rates.
	Limits limit.Rates
	// MaxSockets and MaxSocketsPerIP cap open relay WebSockets (0: no cap).
	MaxSockets, MaxSocketsPerIP int
	// MaxPending and MaxPendingPerIP cap HTTPS-port connections that have not yet said
	// what they are (TLS handshake, first bytes), in total and per client IP (0: no cap).
	MaxPending, MaxPendingPerIP int
	// MetricsAddr, when set, serves /metrics on its own listener instead of the main port;
	// MetricsAuth ("user:password") protects it with basic auth.
	MetricsAddr, MetricsAuth string
	// PprofAddr, when set, serves net/http/pprof on its own listener; it must be a
	// loopback address.
	PprofAddr string
	// Redis, when set (redis://[:password@]host:port[/db] or rediss://), is the Redis that
	// several instances share the room table in; empty keeps everything in memory.
	// RedisCluster says it names a node of a Redis Cluster (more seed nodes as
	// ?addr=host:port), whose other nodes are found from it.
	Redis        string
	RedisCluster bool

	// RoomSize is the most people in one room (2..50): from the third on, a room of
	// onertc clients becomes a group room whose media goes through the SFU. 2 keeps every
	// room a room for two, as AppRTC.
	RoomSize int
	// SFUAddr is the UDP listen address of the SFU's media (one port for every group
	// participant); empty turns group rooms off.
	SFUAddr string
	// InternalURL is the base URL (http://10.0.0.11:8080) the other instances sharing the
	// Redis reach this one's HTTP port at, to pass a participant's group socket on to the
	// SFU here. Empty: http:// and the HTTP listener's address (its host, or the outbound
	// interface's when it listens on all); with TLS there is no default (the certificate
	// must cover the name), and without one no group room is placed here.
	InternalURL string
	// SFUWeight is this instance's share of new group rooms against the others' in Redis
	// mode (grouproom.Place): 2 for a machine that carries twice as much.
	SFUWeight float64

	TLS    TLSConfig
	TURN   TURNConfig
	Access AccessConfig
}

// AccessConfig is who may use the server (server/access): anyone (open, AppRTC's way), or
// holders of the password or of an invite link (password).
type AccessConfig struct {
	// Mode is "open" (the default when empty) or "password".
	Mode string
	// Password is the server password (password mode); only ever read from a file.
	Password string
	// Key, when set, is the secret the session and invite tokens are signed with (derived);
	// empty: derived from the TURN secret. Instances behind one load balancer need the same.
	Key string
	// SessionTTL is how long the cookie given for the password admits a browser;
	// InviteTTL how long an invite link works; TURNTTL the lifetime of TURN credentials
	// in password mode (calls outlive it: see server/turn's expiry rule).
	SessionTTL, InviteTTL, TURNTTL time.Duration
}

// TURNConfig is the built-in TURN server's part of Config.
type TURNConfig struct {
	// Disabled turns the built-in TURN server (and its credentials API) off.
	Disabled bool
	// Addr is the listen address of TURN over UDP and TCP (":3478").
	Addr string
	// TLSAddr is the listen address of TURN over TLS on a port of its own, used when a
	// certificate is set; empty: none (the HTTPS port serves it when OnHTTPS).
	TLSAddr string
	// OnHTTPS serves TURN over TLS and over TCP on the HTTPS port as well, so a client
	// that may reach only port 443 gets a relay.
	OnHTTPS bool
	// PublicIP is put in relayed candidates and TURN URIs; empty means detect it.
	PublicIP string
	// Host is the host name put in TURN URIs; empty means PublicIP.
	Host          string
	Realm         string
	Secret        string
	OldSecret     string
	TTL           time.Duration
	RelayPortMin  uint16
	RelayPortMax  uint16
	AllowPeers    []string
	DenyPeers     []string
	AllowLoopback bool
	UserQuota     int
	TotalQuota    int
	APIKey        string
	// SelfTestInterval is how often the server relays a datagram through its own TURN to
	// check it (at start, then at this interval); 0 turns the self-test off.
	SelfTestInterval time.Duration
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:   ":8080",
		RelayGrace: 10 * time.Second,
		// A call's signaling is tens of messages; 200/s leaves room for ICE restarts.
		RelayFramesPerSecond: 200,
		TrustProxy: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		},
		ShutdownTimeout: 10 * time.Second,
		RoomSize:        8,
		SFUWeight:       1,
		Limits:          limit.DefaultRates(),
		MaxSockets:      20000,
		MaxSocketsPerIP: 64,
		MaxPending:      4096,
		MaxPendingPerIP: 64,
		TURN: TURNConfig{
			Addr:             ":3478",
			OnHTTPS:          true,
			TTL:              24 * time.Hour,
			RelayPortMin:     49152,
			RelayPortMax:     65535,
			SelfTestInterval: 5 * time.Minute,
		},
		Access: AccessConfig{
			Mode:       string(access.Open),
			SessionTTL: 7 * 24 * time.Hour,
			InviteTTL:  24 * time.Hour,
			TURNTTL:    10 * time.Minute,
		},
	}
}

// groupRooms reports whether cfg asks for group rooms: a size above two and an SFU
// address.
func (c *Config) groupRooms() bool { return c.RoomSize > 2 && c.SFUAddr != "" }

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http listen address is empty"))
	}
	if c.RelayGrace <= 0 {
		errs = append(errs, fmt.Errorf("relay grace %v: must be positive", c.RelayGrace))
	}
	if c.RelayFramesPerSecond <= 0 {
		errs = append(errs, fmt.Errorf("relay rate %v: must be positive", c.RelayFramesPerSecond))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown timeout %v: must be positive", c.ShutdownTimeout))
	}
	if c.RoomSize < 2 || c.RoomSize > protocol.MaxGroupSize {
		errs = append(errs, fmt.Errorf("--room-size %d: must be 2..%d", c.RoomSize, protocol.MaxGroupSize))
	}
	if c.SFUAddr != "" {
		if _, _, err := net.SplitHostPort(c.SFUAddr); err != nil {
			errs = append(errs, fmt.Errorf("--sfu-addr %q: want host:port or :port", c.SFUAddr))
		}
	}
	if !(c.SFUWeight > 0 && c.SFUWeight <= 100) {
		errs = append(errs, fmt.Errorf("--sfu-weight %v: must be above 0 and at most 100", c.SFUWeight))
	}
	if c.InternalURL != "" {
		u, err := url.Parse(c.InternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("--internal-url %q: want http(s)://host:port", c.InternalURL))
		}
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("drain timeout %v: must not be negative", c.DrainTimeout))
	}
	if c.MaxSockets < 0 || c.MaxSocketsPerIP < 0 || c.MaxPending < 0 || c.MaxPendingPerIP < 0 {
		errs = append(errs, errors.New("socket caps must not be negative"))
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("pprof address %q: must be a loopback address such as 127.0.0.1:6060", c.PprofAddr))
		}
	}
	if err := c.TLS.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.RedisCluster && c.Redis == "" {
		errs = append(errs, errors.New("--redis-cluster needs --redis with the URL of a cluster node"))
	}
	if c.Redis != "" {
		if !strings.HasPrefix(c.Redis, "redis://") && !strings.HasPrefix(c.Redis, "rediss://") {
			errs = append(errs, fmt.Errorf("--redis %q: want redis://host:port or rediss://host:port", redisconn.Redact(c.Redis)))
		}
		if !c.TURN.Disabled && c.TURN.Secret == "" {
			// A random secret per instance would make credentials from one instance fail
			// on the TURN server of every other.
			errs = append(errs, errors.New("--redis needs --turn-secret: instances must share one TURN secret so credentials from any instance work on every instance's TURN server"))
		}
	}
	if c.MetricsAuth != "" && !strings.Contains(c.MetricsAuth, ":") {
		errs = append(errs, errors.New("metrics auth: want user:password"))
	}
	if err := c.Access.validate(c); err != nil {
		errs = append(errs, err)
	}
	if !c.TURN.Disabled {
		t := c.TURN
		if t.TTL < time.Second {
			errs = append(errs, fmt.Errorf("turn ttl %v: must be at least 1s", t.TTL))
		}
		if t.RelayPortMin == 0 || t.RelayPortMax < t.RelayPortMin {
			errs = append(errs, fmt.Errorf("relay ports %d-%d: not a range", t.RelayPortMin, t.RelayPortMax))
		}
		if _, err := turn.ParseCIDRs(t.AllowPeers); err != nil {
			errs = append(errs, fmt.Errorf("--turn-allow-peer: %w", err))
		}
		if _, err := turn.ParseCIDRs(t.DenyPeers); err != nil {
			errs = append(errs, fmt.Errorf("--turn-deny-peer: %w", err))
		}
		if t.UserQuota < 0 || t.TotalQuota < 0 {
			errs = append(errs, errors.New("turn quotas must not be negative"))
		}
	}
	return errors.Join(errs...)
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (a AccessConfig) validate(c *Config) error {
	mode := access.Open
	if a.Mode != "" {
		m, err := access.ParseMode(a.Mode)
		if err != nil {
			return fmt.Errorf("--access: %w", err)
		}
		mode = m
	}
	if mode != access.Password {
		return nil
	}
	var errs []error
	if a.Password == "" {
		errs = append(errs, errors.New("--access password needs --access-password-file"))
	}
	if a.SessionTTL < time.Minute || a.InviteTTL < time.Second || a.TURNTTL < time.Second {
		errs = append(errs, fmt.Errorf("access ttls (cookie %v, invite %v, turn %v): the cookie's must be at least 1m, the others 1s",
			a.SessionTTL, a.InviteTTL, a.TURNTTL))
	}
	if a.Key == "" && c.TURN.Secret == "" && c.Redis != "" {
		// A random key per instance would make one instance's cookie unknown to the others.
		errs = append(errs, errors.New("--access password with --redis needs --turn-secret or --access-key-file: instances must sign cookies with one key"))
	}
	return errors.Join(errs...)
}
