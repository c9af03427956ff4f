package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onertc/onertc/internal/secretfile"
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
	// Files holding a secret: a flag's value shows in ps, a file's content does not.
	secretFile, oldSecretFile, metricsAuthFile string
	// Secrets only a file may hold: the access password and key.
	passwordFile, accessKeyFile string
}

// newServeFlags is serve's flag set, each flag's usage naming its ONERTC_* variable. Its
// output is discarded: serve prints help and errors itself, help on stdout.
func newServeFlags() (*flag.FlagSet, *serveOptions) {
	fs := flag.NewFlagSet("onertc serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	o := bindServeFlags(fs)
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " [$" + envName(f.Name) + "]" })
	return fs, o
}

// printServeHelp writes `onertc serve --help`; README.md carries it verbatim.
func printServeHelp(w io.Writer) {
	fs, _ := newServeFlags()
	fmt.Fprint(w, `usage: onertc serve [flags]

Runs the pages, the room server, the relay and the TURN server. Every flag has an ONERTC_*
variable (--relay-grace is ONERTC_RELAY_GRACE); a flag on the command line replaces its
variable, lists included. Secrets are best given as files (--turn-secret-file...): a flag's
value shows in ps. Exit status: 0 after a clean stop, 1 when the server failed, 2 for bad
flags or variables.

flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
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
	fs.StringVar(&c.MetricsAuth, "metrics-auth", c.MetricsAuth, "user:password required for /metrics (basic auth); --metrics-auth-file is better: flags show in ps")
	fs.StringVar(&o.metricsAuthFile, "metrics-auth-file", "", "file holding --metrics-auth's user:password on one line (preferred to the flag)")
	fs.StringVar(&c.PprofAddr, "pprof", c.PprofAddr, "serve net/http/pprof on this loopback address, e.g. 127.0.0.1:6060")
	fs.IntVar(&c.RoomSize, "room-size", c.RoomSize, "most people in one room (2..50); from the third on, a room of onertc clients goes through the built-in SFU (2: rooms for two, as AppRTC)")
	// The binary serves group rooms by default; DefaultConfig does not, so embedders and
	// tests open no SFU port unless they ask.
	c.SFUAddr = ":3479"
	fs.StringVar(&c.SFUAddr, "sfu-addr", c.SFUAddr, "UDP listen address of the SFU's media, one port for every group participant (empty: no group rooms)")
	fs.Float64Var(&c.SFUWeight, "sfu-weight", c.SFUWeight, "with --redis: this instance's share of new group rooms against the others' (2: a machine that carries twice as much)")
	fs.StringVar(&c.InternalURL, "internal-url", c.InternalURL, "with --redis: base URL the other instances reach this one's HTTP port at, to pass group sockets on to its SFU (default: http:// and the --http address, the outbound interface's for :port; none with TLS)")
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
	fs.BoolVar(&t.OnHTTPS, "turn-on-https", t.OnHTTPS, "with HTTPS, serve TURN over TLS and TCP on the HTTPS port too (--turn-on-https=false: only on --turn and --turn-tls)")
	fs.StringVar(&t.PublicIP, "public-ip", t.PublicIP, "public IP put in TURN URIs and relayed candidates (default: detected)")
	fs.StringVar(&t.Host, "public-host", t.Host, "host name put in TURN URIs (default: the public IP)")
	fs.StringVar(&t.Realm, "realm", t.Realm, "TURN realm (default: the host name)")
	fs.StringVar(&t.Secret, "turn-secret", t.Secret, "TURN REST shared secret (default: random at each start); --turn-secret-file is better: flags show in ps")
	fs.StringVar(&o.secretFile, "turn-secret-file", "", "file holding the TURN secret on one line (preferred to --turn-secret)")
	fs.StringVar(&t.OldSecret, "turn-old-secret", t.OldSecret, "previous TURN secret, still accepted during a rotation; --turn-old-secret-file is better")
	fs.StringVar(&o.oldSecretFile, "turn-old-secret-file", "", "file holding the previous TURN secret on one line (preferred to --turn-old-secret)")
	fs.DurationVar(&t.TTL, "turn-ttl", t.TTL, "lifetime of minted TURN credentials")
	o.relayPorts = fmt.Sprintf("%d-%d", t.RelayPortMin, t.RelayPortMax)
	fs.StringVar(&o.relayPorts, "relay-ports", o.relayPorts, "TURN relay port range MIN-MAX")
	fs.Var(&o.allowPeer, "turn-allow-peer", "CIDR the TURN server may relay to despite the default deny list (repeatable)")
	fs.Var(&o.denyPeer, "turn-deny-peer", "CIDR the TURN server must not relay to (repeatable)")
	fs.BoolVar(&t.AllowLoopback, "turn-allow-loopback", t.AllowLoopback, "allow relaying to loopback (tests on one machine)")
	fs.IntVar(&t.UserQuota, "turn-user-quota", t.UserQuota, "allocations per TURN user (0: unlimited)")
	fs.IntVar(&t.TotalQuota, "turn-total-quota", t.TotalQuota, "allocations in total (0: unlimited)")
	fs.DurationVar(&t.SelfTestInterval, "turn-self-test", t.SelfTestInterval, "interval of the TURN self-test (a relayed round trip through our own TURN; 0: off)")
	fs.StringVar(&t.APIKey, "turn-api-key", t.APIKey, "key required as key= on every endpoint that mints TURN credentials (GET /turn, /v1alpha/iceconfig) (default: none)")

	a := &c.Access
	fs.StringVar(&a.Mode, "access", a.Mode, "who may use the server: open (anyone can open rooms and get TURN credentials) or password (holders of the password or of an invite link)")
	fs.StringVar(&o.passwordFile, "access-password-file", "", "file holding the server password on one line (--access password)")
	fs.StringVar(&o.accessKeyFile, "access-key-file", "", "file holding the secret cookies and invites are signed with (default: derived from the TURN secret); the same on every instance")
	fs.DurationVar(&a.SessionTTL, "access-cookie-ttl", a.SessionTTL, "how long the password admits a browser")
	fs.DurationVar(&a.InviteTTL, "access-invite-ttl", a.InviteTTL, "how long an invite link admits its room")
	fs.DurationVar(&a.TURNTTL, "access-turn-ttl", a.TURNTTL, "lifetime of TURN credentials in password mode (calls outlive it)")
	return o
}

// config turns the parsed flags into a server.Config. Its errors are usage errors; the
// secret files are read later, by readSecretFiles.
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
	for _, s := range o.secrets(&c) {
		if *s.value != "" && s.file != "" {
			// Neither may quietly win: the one left out would be the one the operator meant.
			return c, fmt.Errorf("--%s and --%s are both set (flags or $%s, $%s): give one",
				s.flag, s.flag+"-file", envName(s.flag), envName(s.flag+"-file"))
		}
	}
	return c, nil
}

// secretSetting is a secret flag of c and the file that may hold it instead.
type secretSetting struct {
	flag  string
	value *string
	file  string
}

func (o *serveOptions) secrets(c *server.Config) []secretSetting {
	return []secretSetting{
		{"turn-secret", &c.TURN.Secret, o.secretFile},
		{"turn-old-secret", &c.TURN.OldSecret, o.oldSecretFile},
		{"metrics-auth", &c.MetricsAuth, o.metricsAuthFile},
	}
}

// readSecretFiles fills c's secrets from their files. A file must hold one non-empty line;
// its line ending is not part of the secret.
func (o *serveOptions) readSecretFiles(c *server.Config) error {
	files := append(o.secrets(c),
		secretSetting{"access-password", &c.Access.Password, o.passwordFile},
		secretSetting{"access-key", &c.Access.Key, o.accessKeyFile})
	for _, s := range files {
		if s.file == "" {
			continue
		}
		v, err := secretfile.Read("--"+s.flag+"-file", "secret", s.file)
		if err != nil {
			return err
		}
		*s.value = v
	}
	return nil
}

// listFlag is a repeatable flag that also splits on commas. Its first Set replaces the
// default list, and after envDone the first Set replaces what the variable gave: a list on
// the command line never widens the one in the environment.
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

func (l *listFlag) envDone() { l.set = false }

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

// parseWithEnv sets each flag from its ONERTC_* variable, then parses args: a flag on the
// command line replaces its variable. Help wins over a bad variable, so that --help works
// whatever the environment holds.
func parseWithEnv(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	var envErrs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookup(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				envErrs = append(envErrs, fmt.Errorf("$%s=%q: %w", envName(f.Name), v, err))
			}
		}
		if l, ok := f.Value.(interface{ envDone() }); ok {
			l.envDone()
		}
	})
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errors.Join(append(envErrs, err)...)
}

// otherVariables are the ONERTC_* variables that the project's tests, benchmarks and
// packaging script read; serve does not warn about them.
var otherVariables = []string{
	"ONERTC_BENCH", "ONERTC_BENCH_CALLS", "ONERTC_BENCH_OUT", "ONERTC_BIN", "ONERTC_FAILOVER_KILLS",
	"ONERTC_E2E_BOT", "ONERTC_E2E_LOG", "ONERTC_E2E_SERVER", "ONERTC_TEST_PORT",
}

// unknownVariables names each ONERTC_* variable of environ that no serve flag reads, with
// the closest one a typo may have meant.
func unknownVariables(fs *flag.FlagSet, environ []string) []string {
	known := map[string]bool{}
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		known[envName(f.Name)] = true
		names = append(names, envName(f.Name))
	})
	for _, n := range otherVariables {
		known[n] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ONERTC_") || known[name] {
			continue
		}
		msg := "unknown variable " + name + " (no serve flag reads it)"
		best, bestDist := "", 4 // further than 3 edits is not a typo
		for _, n := range names {
			if d := editDistance(name, n); d < bestDist {
				best, bestDist = n, d
			}
		}
		if best != "" {
			msg = "unknown variable " + name + "; did you mean " + best + "?"
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}

// editDistance is the Levenshtein distance between a and b (ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
