// Package redisconn opens the Redis connection that several onertc instances share and
// counts what goes over it (round trips and errors) for metrics.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counters are the round trips and failed round trips of one connection. A pipeline is one
// round trip.
type Counters struct {
	RoundTrips, Errors atomic.Uint64
}

// Conn is a Redis client (of one server, or of a Redis Cluster) plus its counters.
type Conn struct {
	redis.UniversalClient
	Counters *Counters
	// URL is the URL it was opened with, password removed, for messages.
	URL string
}

// Open parses rawURL (redis://[:password@]host[:port][/db] or rediss:// for TLS), connects
// and pings within timeout. With cluster set, rawURL names a node of a Redis Cluster, more
// seed nodes may follow as ?addr=host:port, and the client finds the others itself. Its
// error is one line naming the URL (without the password).
// go-redis's own log lines (pool dial failures) go to log at debug level: the callers report
// what matters, once, in their own words.
func Open(ctx context.Context, rawURL string, cluster bool, timeout time.Duration, log *slog.Logger) (*Conn, error) {
	if log != nil {
		redis.SetLogger(debugLogger{log: log, rawURL: rawURL})
	}
	shown := Redact(rawURL)
	kind := "redis"
	if cluster {
		kind = "redis cluster"
	}
	var c redis.UniversalClient
	// Fail fast when Redis is gone: the callers hold and retry what must not be lost, and
	// an HTTP request must not hang on a dead server.
	const ioTimeout = 2 * time.Second
	// RESP2: nothing here uses RESP3's push notifications, and with RESP3 go-redis looks for
	// pending ones around every command, which cost 13 % of a Redis-mode relay's CPU.
	const protocol = 2
	if cluster {
		opts, err := redis.ParseClusterURL(rawURL)
		if err == nil {
			if u, _ := url.Parse(rawURL); u != nil && u.Path != "" && u.Path != "/" && u.Path != "/0" {
				err = errors.New("a Redis Cluster has only database 0")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, shown, scrub(err, rawURL))
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = ioTimeout, ioTimeout, ioTimeout
		opts.MaxRetries, opts.Protocol = 1, protocol
		c = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, shown, scrub(err, rawURL))
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = ioTimeout, ioTimeout, ioTimeout
		opts.MaxRetries, opts.Protocol = 1, protocol
		c = redis.NewClient(opts)
	}
	counters := &Counters{}
	c.AddHook(countHook{counters})
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s %s unreachable: %w", kind, shown, scrub(err, rawURL))
	}
	return &Conn{UniversalClient: c, Counters: counters, URL: shown}, nil
}

// debugLogger passes go-redis's log lines to slog at debug level. go-redis has one logger
// per process, so the last Open's wins; all of them log the same way.
// Its lines go through scrub like Open's errors: they quote server replies.
type debugLogger struct {
	log    *slog.Logger
	rawURL string
}

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.log.DebugContext(ctx, scrubText(fmt.Sprintf(format, v...), d.rawURL), "component", "redis")
}

// redacted stands for a password in what Redact returns.
const redacted = "xxxxx"

// Redact returns rawURL with any password replaced, for logs and errors. It works on the
// text, not on url.Parse's view of it, so a URL that does not parse (a password with a bad
// %-escape, a '/', '?' or '#' in it) loses its password too: the user information is
// everything from the end of the scheme ("redis://", or "redis:" alone) to the last '@';
// what follows its first ':' is replaced, or all of it when it has no ':' (someone who
// wrote the password where the user goes). That may hide more than the password, when a
// query holds an '@', never less.
func Redact(rawURL string) string {
	start, at := userinfo(rawURL)
	if at < 0 {
		return rawURL
	}
	info := rawURL[start:at]
	colon := strings.IndexByte(info, ':')
	if colon < 0 {
		return rawURL[:start] + redacted + rawURL[at:]
	}
	return rawURL[:start] + info[:colon+1] + redacted + rawURL[at:]
}

// userinfo locates the user information of rawURL: from start (after the scheme's ':' and
// any "//") up to at, the last '@'; at is -1 when there is none.
func userinfo(rawURL string) (start, at int) {
	if i := strings.IndexByte(rawURL, ':'); i >= 0 {
		start = i + 1
		if strings.HasPrefix(rawURL[start:], "//") {
			start += 2
		}
	}
	at = strings.LastIndexByte(rawURL[start:], '@')
	if at < 0 {
		return start, -1
	}
	return start, start + at
}

// scrubbed is an error whose text went through scrub; Unwrap still reaches the original,
// so errors.Is and errors.As see through it.
type scrubbed struct {
	text string
	err  error
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub returns err with every copy of rawURL's password taken out of its text (go-redis
// and net/url quote the URL they were given, and a server may echo what it was sent): the
// raw form, the %-decoded form, and rawURL whole.
func scrub(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// net/url quotes the piece it choked on, which may be part of the password, so
		// none of its text is kept.
		return &scrubbed{text: urlProblem(ue.Err), err: err}
	}
	text := scrubText(err.Error(), rawURL)
	if text == err.Error() {
		return err
	}
	return &scrubbed{text: text, err: err}
}

// urlProblem says what is wrong with a URL that does not parse without quoting any of it.
func urlProblem(err error) string {
	var esc url.EscapeError
	var host url.InvalidHostError
	switch {
	case errors.As(err, &esc):
		return "the URL has a bad %-escape (write a '%' in a password as %25)"
	case errors.As(err, &host):
		return "the URL's host has a character a host cannot have"
	}
	return "the URL does not parse (escape '/', '?', '#' and '@' in a password as %2F, %3F, %23, %40)"
}

func scrubText(text, rawURL string) string {
	text = strings.ReplaceAll(text, rawURL, Redact(rawURL))
	for _, p := range passwords(rawURL) {
		text = strings.ReplaceAll(text, p, redacted)
	}
	return text
}

// passwords are the forms rawURL's password (what Redact hides) may take in a message: as
// written, and %-decoded when that decodes. Empty when rawURL has none.
func passwords(rawURL string) []string {
	start, at := userinfo(rawURL)
	if at < 0 {
		return nil
	}
	pass := rawURL[start:at]
	if colon := strings.IndexByte(pass, ':'); colon >= 0 {
		pass = pass[colon+1:]
	}
	if pass == "" {
		return nil
	}
	out := []string{pass}
	if dec, err := url.PathUnescape(pass); err == nil && dec != pass && dec != "" {
		out = append(out, dec)
	}
	return out
}

// countHook counts each command or pipeline sent, and those that failed. A missing key
// (redis.Nil) and a script not yet cached (NOSCRIPT, after which go-redis sends the script
// itself) are answers, not errors.
type countHook struct{ c *Counters }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.RoundTrips.Add(1)
		err := next(ctx, cmd)
		h.count(err)
		return err
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.c.RoundTrips.Add(1)
		err := next(ctx, cmds)
		h.count(err)
		return err
	}
}

func (h countHook) count(err error) {
	if err != nil && !errors.Is(err, redis.Nil) && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		h.c.Errors.Add(1)
	}
}
