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
		redis.SetLogger(debugLogger{log})
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
			return nil, fmt.Errorf("%s %s: %w", kind, shown, err)
		}
		opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = ioTimeout, ioTimeout, ioTimeout
		opts.MaxRetries, opts.Protocol = 1, protocol
		c = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, shown, err)
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
		return nil, fmt.Errorf("%s %s unreachable: %w", kind, shown, err)
	}
	return &Conn{UniversalClient: c, Counters: counters, URL: shown}, nil
}

// debugLogger passes go-redis's log lines to slog at debug level. go-redis has one logger
// per process, so the last Open's wins; all of them log the same way.
type debugLogger struct{ log *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// Redact returns rawURL with any password replaced, for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
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
