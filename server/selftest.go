package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"

	"github.com/onertc/onertc/server/turn"
)

// SelfTest is the outcome of relaying a datagram between two allocations on the server's
// own TURN server, the way two relay-only browsers would: it proves the TURN port answers
// on the advertised address, credentials verify, and relayed addresses reach each other.
type SelfTest struct {
	OK       bool      `json:"ok"`
	At       time.Time `json:"at"`
	Target   string    `json:"target"`
	Duration string    `json:"duration"`
	Error    string    `json:"error,omitempty"`
	Hint     string    `json:"hint,omitempty"`
}

// selfTestResult holds the last SelfTest for /healthz/turn.
type selfTestResult struct{ last atomic.Pointer[SelfTest] }

// runSelfTests tests TURN at start and then every interval until ctx ends.
func (s *Server) runSelfTests(ctx context.Context, interval time.Duration) {
	for {
		res := s.selfTest(ctx)
		s.selfTests.last.Store(&res)
		if res.OK {
			s.log.Info("TURN self-test passed", "target", res.Target, "took", res.Duration)
		} else {
			s.log.Warn("TURN self-test failed", "target", res.Target, "err", res.Error, "hint", res.Hint)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (s *Server) selfTest(ctx context.Context) SelfTest {
	t := s.turn
	start := time.Now()
	target := net.JoinHostPort(t.publicIP.String(), strconv.Itoa(int(t.udpPort.Load())))
	res := SelfTest{At: start.UTC(), Target: "turn:" + target + "?transport=udp"}
	err := relayRoundTrip(ctx, target, t.realm, t.secret)
	res.Duration = time.Since(start).Round(time.Millisecond).String()
	if err == nil {
		res.OK = true
		return res
	}
	res.Error = err.Error()
	var stage *selfTestStage
	if errors.As(err, &stage) {
		switch stage.name {
		case "allocate":
			res.Hint = fmt.Sprintf("no answer from TURN on %s: is UDP port %d open in the firewall, and is --public-ip (%s) an address of this machine or forwarded to it?",
				target, t.udpPort.Load(), t.publicIP)
		case "relay":
			res.Hint = fmt.Sprintf("allocations work but relayed packets do not reach each other: %s may be a NAT address this machine cannot reach itself (hairpin NAT); browsers outside will still work if the relay ports %d-%d are forwarded",
				t.publicIP, s.cfg.TURN.RelayPortMin, s.cfg.TURN.RelayPortMax)
		}
	}
	if t.publicIP.IsLoopback() && !s.cfg.TURN.AllowLoopback {
		res.Hint = "the public address is loopback (no route found): set --public-ip, or --turn-allow-loopback for a test on one machine"
	}
	return res
}

type selfTestStage struct {
	name string
	err  error
}

func (e *selfTestStage) Error() string { return e.name + ": " + e.err.Error() }
func (e *selfTestStage) Unwrap() error { return e.err }

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
		return &selfTestStage{"allocate", err}
	}
	_, b, err := allocate()
	if err != nil {
		return &selfTestStage{"allocate", err}
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
			return &selfTestStage{"relay", err}
		}
		if _, err := b.WriteTo([]byte("pong"), a.LocalAddr()); err != nil {
			return &selfTestStage{"relay", err}
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
	return &selfTestStage{"relay", errors.New("relayed datagrams did not reach both allocations within 5s")}
}

// handleTURNHealth reports the last self-test: 200 when it passed, 503 otherwise.
func (s *Server) handleTURNHealth(w http.ResponseWriter, _ *http.Request) {
	res := s.selfTests.last.Load()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case res == nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(SelfTest{Error: "self-test not run yet"})
	case !res.OK:
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(res)
	default:
		_ = json.NewEncoder(w).Encode(res)
	}
}
