package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/onertc/onertc/server"
)

// serveOptions are the serve flags before they become a server.Config.
type serveOptions struct {
	cfg                 server.Config
	logLevel, logFormat string
	trustProxy          listFlag
	origins             listFlag
	allowPeer, denyPeer listFlag
	relayPorts          string
	acmeDomains         listFlag
}

func bindServeFlags(fs *flag.FlagSet) *serveOptions {
	o := &serveOptions{cfg: server.DefaultConfig()}
	c := &o.cfg
	fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "HTTP listen address")
	fs.DurationVar(&c.RelayGrace, "relay-grace", c.RelayGrace, "how long a client whose relay socket dropped may re-register")
	fs.Float64Var(&c.RelayFramesPerSecond, "relay-rate", c.RelayFramesPerSecond, "frames per second one relay socket may send")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long shutdown waits for requests in flight")
	// The binary drains by default; DefaultConfig does not, so embedders and tests stop at once.
	c.DrainTimeout = 30 * time.Second
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "on SIGTERM, how long calls in progress may go on (a second signal stops at once)")
	fs.IntVar(&c.MaxSockets, "max-sockets", c.MaxSockets, "open relay WebSockets in total (0: no cap)")
	fs.IntVar(&c.MaxSocketsPerIP, "max-sockets-per-ip", c.MaxSocketsPerIP, "open relay WebSockets per client IP (0: no cap)")
	fs.IntVar(&c.MaxPending, "max-pending", c.MaxPending, "HTTPS-port connections still in their TLS handshake or first bytes (10 s at most each; 0: no cap)")
	fs.IntVar(&c.MaxPendingPerIP, "max-pending-per-ip", c.MaxPendingPerIP, "the same, per client IP (0: no cap)")
	fs.Float64Var(&c.Limits.Join, "limit-join", c.Limits.Join, "joins per second per client IP (0: off)")
	fs.Float64Var(&c.Limits.Message, "limit-message", c.Limits.Message, "/message posts per second per client IP (0: off)")
	fs.Float64Var(&c.Limits.TURN, "limit-turn", c.Limits.TURN, "TURN credential requests per second per client IP (0: off)")
	fs.Float64Var(&c.Limits.WS, "limit-ws", c.Limits.WS, "new relay WebSockets per second per client IP (0: off)")
	fs.Float64Var(&c.Limits.Burst, "limit-burst", c.Limits.Burst, "burst allowance, in seconds' worth of each limit")
	fs.StringVar(&c.MetricsAddr, "metrics-listen", c.MetricsAddr, "serve /metrics on this address instead of the HTTP port")
	fs.StringVar(&c.MetricsAuth, "metrics-auth", c.MetricsAuth, "user:password required for /metrics (basic auth)")
	fs.StringVar(&c.PprofAddr, "pprof", c.PprofAddr, "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060")
	fs.StringVar(&c.Redis, "redis", c.Redis, "Redis URL (redis://[:password@]host:port[/db], rediss:// for TLS) shared by several instances")
	fs.BoolVar(&c.RedisCluster, "redis-cluster", c.RedisCluster, "--redis names a node of a Redis Cluster (more seed nodes as ?addr=host:port)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	o.trustProxy = prefixStrings(c.TrustProxy)
	fs.Var(&o.trustProxy, "trust-proxy", "comma-separated CIDRs whose X-Forwarded-* headers are believed")
	fs.Var(&o.origins, "allowed-origin", "extra browser origin allowed on /ws (repeatable, or comma-separated; * for any)")

	tl := &c.TLS
	fs.StringVar(&tl.CertFile, "tls-cert", tl.CertFile, "certificate file (PEM) for HTTPS and TURN over TLS; re-read when it changes")
	fs.StringVar(&tl.KeyFile, "tls-key", tl.KeyFile, "private key file (PEM) of --tls-cert")
	fs.BoolVar(&tl.SelfSigned, "tls-self-signed", tl.SelfSigned, "serve HTTPS with a generated certificate (a LAN without a domain)")
	fs.Var(&o.acmeDomains, "acme-domain", "get certificates for this domain from an ACME CA (Let's Encrypt by default; repeatable)")
	fs.StringVar(&tl.ACMEEmail, "acme-email", tl.ACMEEmail, "contact address given to the ACME CA")
	fs.StringVar(&tl.ACMEDir, "acme-dir", "data/acme", "where ACME account keys and certificates are kept")
	fs.StringVar(&tl.ACMECA, "acme-ca", tl.ACMECA, "ACME directory URL of another CA (default: Let's Encrypt)")
	fs.StringVar(&tl.HTTPRedirect, "http-redirect", tl.HTTPRedirect, "plain-HTTP address (e.g. :80) that redirects to https and answers ACME HTTP-01")

	t := &c.TURN
	fs.BoolVar(&t.Disabled, "turn-disable", t.Disabled, "do not run the built-in TURN server")
	fs.StringVar(&t.Addr, "turn", t.Addr, "TURN listen address (UDP and TCP)")
	fs.StringVar(&t.TLSAddr, "turn-tls", t.TLSAddr, "TURN over TLS on a port of its own too, e.g. :5349 (when a certificate is set)")
	fs.BoolVar(&t.ShareHTTPS, "turn-on-https", t.ShareHTTPS, "with HTTPS, serve TURN over TLS and TCP on the HTTPS port too (--turn-on-https=false: only on --turn and --turn-tls)")
	fs.StringVar(&t.PublicIP, "public-ip", t.PublicIP, "public IP put in TURN URIs and relayed candidates (default: detected)")
	fs.StringVar(&t.Host, "public-host", t.Host, "host name put in TURN URIs (default: the public IP)")
	fs.StringVar(&t.Realm, "realm", t.Realm, "TURN realm (default: the host name)")
	fs.StringVar(&t.Secret, "turn-secret", t.Secret, "TURN REST shared secret (default: random at each start)")
	fs.StringVar(&t.OldSecret, "turn-old-secret", t.OldSecret, "previous TURN secret, still accepted during a rotation")
	fs.DurationVar(&t.TTL, "turn-ttl", t.TTL, "lifetime of minted TURN credentials")
	o.relayPorts = fmt.Sprintf("%d-%d", t.RelayPortMin, t.RelayPortMax)
	fs.StringVar(&o.relayPorts, "relay-ports", o.relayPorts, "TURN relay port range MIN-MAX")
	fs.Var(&o.allowPeer, "turn-allow-peer", "CIDR the TURN server may relay to despite the default deny list (repeatable)")
	fs.Var(&o.denyPeer, "turn-deny-peer", "CIDR the TURN server must not relay to (repeatable)")
	fs.BoolVar(&t.AllowLoopback, "turn-allow-loopback", t.AllowLoopback, "allow relaying to loopback (tests on one machine)")
	fs.IntVar(&t.UserQuota, "turn-user-quota", t.UserQuota, "allocations per TURN user (0: unlimited)")
	fs.IntVar(&t.TotalQuota, "turn-total-quota", t.TotalQuota, "allocations in total (0: unlimited)")
	fs.DurationVar(&t.SelfTestInterval, "turn-self-test", t.SelfTestInterval, "interval of the TURN self-test (a relayed round trip through our own TURN; 0: off)")
	fs.StringVar(&t.APIKey, "turn-api-key", t.APIKey, "key required as key= on GET /turn (default: none)")
	return o
}

// config turns the parsed flags into a server.Config.
func (o *serveOptions) config() (server.Config, error) {
	c := o.cfg
	c.TrustProxy = nil
	for _, s := range o.trustProxy.values {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return c, fmt.Errorf("--trust-proxy %q: %w", s, err)
		}
		c.TrustProxy = append(c.TrustProxy, p)
	}
	c.AllowedOrigins = o.origins.values
	c.TLS.ACMEDomains = o.acmeDomains.values
	c.TURN.AllowPeers, c.TURN.DenyPeers = o.allowPeer.values, o.denyPeer.values
	lo, hi, ok := strings.Cut(o.relayPorts, "-")
	low, err1 := strconv.ParseUint(lo, 10, 16)
	high, err2 := strconv.ParseUint(hi, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return c, fmt.Errorf("--relay-ports %q: want MIN-MAX, e.g. 49152-65535", o.relayPorts)
	}
	c.TURN.RelayPortMin, c.TURN.RelayPortMax = uint16(low), uint16(high)
	return c, nil
}

// listFlag is a repeatable flag that also splits on commas. Its first Set replaces the
// default list.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.values = append(l.values, s)
		}
	}
	return nil
}

func prefixStrings(ps []netip.Prefix) listFlag {
	var l listFlag
	for _, p := range ps {
		l.values = append(l.values, p.String())
	}
	return l
}

// envName is the environment variable of a flag: --relay-grace is ONERTC_RELAY_GRACE.
func envName(flagName string) string {
	return "ONERTC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseWithEnv sets each flag from its ONERTC_* variable, then parses args, so a flag on
// the command line wins over the environment. The usage text names each variable.
func parseWithEnv(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
		if v, ok := lookup(envName(f.Name)); ok && err == nil {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("$%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		return err
	}
	return fs.Parse(args)
}
