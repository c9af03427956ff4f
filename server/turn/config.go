package turn

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Defaults applied by Config.Validate to zero fields.
const (
	DefaultRelayAddress          = "0.0.0.0"
	DefaultRelayPortMin          = 49152
	DefaultRelayPortMax          = 65535
	DefaultMaxAllocationLifetime = time.Hour
	DefaultFirstFrameTimeout     = 10 * time.Second
)

// Config configures a Server. Sockets are created by the caller and handed over: the Server
// closes them in Close.
type Config struct {
	// Realm is the long-term credential realm (coTurn's realm). Required.
	Realm string
	// Secret is the current shared secret (coTurn's static-auth-secret). Required.
	Secret string
	// OldSecret, when set, is also accepted so credentials minted before a rotation keep
	// working until they expire.
	OldSecret string
	// PublicIP is the IPv4 address put in relayed candidates (coTurn's external-ip). pion/turn
	// v2 relays over udp4 only, so it must be IPv4. Required.
	PublicIP net.IP
	// RelayAddress is the local address relay sockets bind to; default "0.0.0.0".
	RelayAddress string
	// RelayPortMin and RelayPortMax bound the relay ports (inclusive); default 49152-65535.
	RelayPortMin, RelayPortMax uint16
	// AllowPeers and DenyPeers adjust the peer policy: DenyPeers wins over everything,
	// AllowPeers lifts the special-purpose ranges (loopback, RFC 1918, …).
	AllowPeers, DenyPeers []netip.Prefix
	// AllowLoopback lets allocations relay to loopback peers (tests on one machine).
	AllowLoopback bool
	// AllowPeerAddrs are transport addresses relayed to whatever their address (a
	// private or loopback one included), DenyPeers and OwnPorts still winning: this
	// server's own SFU, for clients that reach it only through TURN. Nothing else on
	// those addresses is lifted.
	AllowPeerAddrs []netip.AddrPort
	// UserQuota and TotalQuota bound concurrent allocations per username and in total;
	// 0 means unlimited. Over quota an Allocate gets 486.
	UserQuota, TotalQuota int
	// MaxAllocationLifetime caps the lifetime granted by Allocate and Refresh; default 1h.
	MaxAllocationLifetime time.Duration
	// PacketConns are UDP listener sockets (see ListenUDP).
	PacketConns []net.PacketConn
	// Listeners are TCP listeners.
	Listeners []net.Listener
	// TLSListeners are TLS-wrapped TCP listeners (turns:).
	TLSListeners []net.Listener
	// FirstFrameTimeout bounds how long a TCP or TLS connection may take (TLS handshake
	// included) to send its first whole STUN message; a silent one is closed then, instead
	// of holding a pion goroutine. Default 10 s.
	FirstFrameTimeout time.Duration
	// OwnPorts are the listener ports of this process (HTTP, TURN): relaying to them on one of
	// this host's addresses is refused so TURN cannot be looped into itself.
	OwnPorts []int
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// Validate fills defaults into zero fields and checks the rest.
func (c *Config) Validate() error {
	if c.RelayAddress == "" {
		c.RelayAddress = DefaultRelayAddress
	}
	if c.RelayPortMin == 0 && c.RelayPortMax == 0 {
		c.RelayPortMin, c.RelayPortMax = DefaultRelayPortMin, DefaultRelayPortMax
	}
	if c.MaxAllocationLifetime == 0 {
		c.MaxAllocationLifetime = DefaultMaxAllocationLifetime
	}
	if c.FirstFrameTimeout <= 0 {
		c.FirstFrameTimeout = DefaultFirstFrameTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Realm == "":
		return fmt.Errorf("%w: realm is empty", ErrInvalidConfig)
	case c.Secret == "":
		return fmt.Errorf("%w: secret is empty", ErrInvalidConfig)
	case c.PublicIP == nil || c.PublicIP.To4() == nil:
		return fmt.Errorf("%w: public IP %v is not an IPv4 address (relays are udp4 only)", ErrInvalidConfig, c.PublicIP)
	case c.RelayPortMin == 0 || c.RelayPortMin > c.RelayPortMax:
		return fmt.Errorf("%w: relay port range %d-%d", ErrInvalidConfig, c.RelayPortMin, c.RelayPortMax)
	case c.UserQuota < 0 || c.TotalQuota < 0:
		return fmt.Errorf("%w: negative quota", ErrInvalidConfig)
	case c.MaxAllocationLifetime < time.Minute:
		return fmt.Errorf("%w: max allocation lifetime %v is under a minute", ErrInvalidConfig, c.MaxAllocationLifetime)
	case len(c.PacketConns)+len(c.Listeners)+len(c.TLSListeners) == 0:
		return fmt.Errorf("%w: no listener sockets", ErrInvalidConfig)
	}
	if ip, err := netip.ParseAddr(c.RelayAddress); err != nil || !ip.Unmap().Is4() {
		return fmt.Errorf("%w: relay address %q is not an IPv4 address", ErrInvalidConfig, c.RelayAddress)
	}
	for _, p := range c.OwnPorts {
		if p <= 0 || p > 65535 {
			return fmt.Errorf("%w: own port %d", ErrInvalidConfig, p)
		}
	}
	return nil
}

// ParseCIDRs parses peer-policy entries: CIDRs ("10.0.0.0/8", "fd00::/8") or single addresses
// (taken as /32 or /128). IPv4-mapped IPv6 prefixes are normalised to IPv4.
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrBadCIDR, s, err)
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%w %q: not a CIDR or an address", ErrBadCIDR, s)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("%w %q: zones are not allowed", ErrBadCIDR, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
