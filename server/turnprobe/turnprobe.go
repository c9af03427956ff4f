// Package turnprobe tests the server's own TURN server the way two relay-only browsers use
// it: two allocations on the advertised address, a datagram relayed from one to the other
// and back. It proves the TURN port answers where the server says it does, credentials
// verify, and relayed addresses reach each other; when one does not, it says what to check.
package turnprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"

	"github.com/onertc/onertc/server/turn"
)

// Result is the outcome of one probe, as /healthz/turn shows it.
type Result struct {
	OK       bool      `json:"ok"`
	At       time.Time `json:"at"`
	Target   string    `json:"target"`
	Duration string    `json:"duration"`
	Error    string    `json:"error,omitempty"`
	Hint     string    `json:"hint,omitempty"`
}

// Config names the TURN server to probe and what the hints mention.
type Config struct {
	PublicIP net.IP
	// UDPPort is the TURN UDP port, known once the server listens.
	UDPPort       func() int
	Realm, Secret string
	// RelayPortMin and RelayPortMax are the relay port range, for the hairpin-NAT hint.
	RelayPortMin, RelayPortMax int
	// AllowLoopback: a loopback public address is intended (a test on one machine).
	AllowLoopback bool
	Log           *slog.Logger
}

// Prober probes at intervals and keeps the last result.
type Prober struct {
	cfg  Config
	last atomic.Pointer[Result]
}

// New makes a prober of cfg; nothing runs until Run.
func New(cfg Config) *Prober {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Prober{cfg: cfg}
}

// Run probes at once and then every interval until ctx ends.
func (p *Prober) Run(ctx context.Context, interval time.Duration) {
	for {
		res := p.Probe(ctx)
		p.last.Store(&res)
		if res.OK {
			p.cfg.Log.Info("TURN self-test passed", "target", res.Target, "took", res.Duration)
		} else {
			p.cfg.Log.Warn("TURN self-test failed", "target", res.Target, "err", res.Error, "hint", res.Hint)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Probe runs one probe now.
func (p *Prober) Probe(ctx context.Context) Result {
	c := p.cfg
	start := time.Now()
	target := net.JoinHostPort(c.PublicIP.String(), strconv.Itoa(c.UDPPort()))
	res := Result{At: start.UTC(), Target: "turn:" + target + "?transport=udp"}
	err := relayRoundTrip(ctx, target, c.Realm, c.Secret)
	res.Duration = time.Since(start).Round(time.Millisecond).String()
	if err == nil {
		res.OK = true
		return res
	}
	res.Error = err.Error()
	var stage *stageError
	if errors.As(err, &stage) {
		switch stage.name {
		case "allocate":
			res.Hint = fmt.Sprintf("no answer from TURN on %s: is UDP port %d open in the firewall, and is --public-ip (%s) an address of this machine or forwarded to it?",
				target, c.UDPPort(), c.PublicIP)
		case "relay":
			res.Hint = fmt.Sprintf("allocations work but relayed packets do not reach each other: %s may be a NAT address this machine cannot reach itself (hairpin NAT); browsers outside will still work if the relay ports %d-%d are forwarded",
				c.PublicIP, c.RelayPortMin, c.RelayPortMax)
		}
	}
	if c.PublicIP.IsLoopback() && !c.AllowLoopback {
		res.Hint = "the public address is loopback (no route found): set --public-ip, or --turn-allow-loopback for a test on one machine"
	}
	return res
}

// ServeHTTP reports the last probe (/healthz/turn): 200 when it passed, 503 otherwise.
func (p *Prober) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	res := p.last.Load()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case res == nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(Result{Error: "self-test not run yet"})
	case !res.OK:
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(res)
	default:
		_ = json.NewEncoder(w).Encode(res)
	}
}

// stageError says which stage of the probe failed.
type stageError struct {
	name string
	err  error
}

func (e *stageError) Error() string { return e.name + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// relayRoundTrip allocates twice on target and sends a datagram from one relayed address to
// the other and back.
func relayRoundTrip(ctx context.Context, target, realm, secret string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	user, pass := turn.Mint(secret, "selftest", 10*time.Minute, time.Now())
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	allocate := func() (*pionturn.Client, net.PacketConn, error) {
		conn, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			return nil, nil, err
		}
		c, err := pionturn.NewClient(&pionturn.ClientConfig{
			STUNServerAddr: target, TURNServerAddr: target, Conn: conn,
			Username: user, Password: pass, Realm: realm, LoggerFactory: quiet,
		})
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		if err := c.Listen(); err != nil {
			c.Close()
			conn.Close()
			return nil, nil, err
		}
		relay, err := c.Allocate()
		if err != nil {
			c.Close()
			conn.Close()
			return nil, nil, err
		}
		context.AfterFunc(ctx, func() { relay.Close(); c.Close(); conn.Close() })
		return c, relay, nil
	}
	_, a, err := allocate()
	if err != nil {
		return &stageError{"allocate", err}
	}
	_, b, err := allocate()
	if err != nil {
		return &stageError{"allocate", err}
	}
	// A relay only accepts datagrams from peers it has a permission for, and the first
	// WriteTo to a peer creates it: both sides send until each has heard the other.
	bHeard := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		for {
			n, _, err := b.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "ping" {
				close(bHeard)
				return
			}
		}
	}()
	buf := make([]byte, 64)
	aHeard := false
	for ctx.Err() == nil {
		if _, err := a.WriteTo([]byte("ping"), b.LocalAddr()); err != nil {
			return &stageError{"relay", err}
		}
		if _, err := b.WriteTo([]byte("pong"), a.LocalAddr()); err != nil {
			return &stageError{"relay", err}
		}
		_ = a.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, _, err := a.ReadFrom(buf); err == nil && string(buf[:n]) == "pong" {
			aHeard = true
		}
		select {
		case <-bHeard:
			if aHeard {
				return nil
			}
		default:
		}
	}
	return &stageError{"relay", errors.New("relayed datagrams did not reach both allocations within 5s")}
}
