// Package server wires the room server, the Collider relay and the TURN server of onertc
// onto one HTTP port and the TURN sockets, and serves them until its context ends.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onertc/onertc/server/access"
	"github.com/onertc/onertc/server/admission"
	"github.com/onertc/onertc/server/apprtc"
	"github.com/onertc/onertc/server/demux"
	"github.com/onertc/onertc/server/errcount"
	"github.com/onertc/onertc/server/grouproom"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/origin"
	"github.com/onertc/onertc/server/redisconn"
	"github.com/onertc/onertc/server/relay"
	"github.com/onertc/onertc/server/relaystate"
	"github.com/onertc/onertc/server/requestid"
	"github.com/onertc/onertc/server/room"
	"github.com/onertc/onertc/server/sfu"
)

// redisKeyPrefix starts every key onertc writes in a shared Redis.
const redisKeyPrefix = "onertc:"

// Listeners are the sockets the server serves on; the caller creates them, so tests can
// run servers on ephemeral ports. Only HTTP is required.
type Listeners struct {
	HTTP    net.Listener
	TURNUDP []net.PacketConn
	TURNTCP []net.Listener
	TURNTLS []net.Listener
	// SFU is the UDP socket of the SFU's media (Config.SFUAddr); nil: no group rooms.
	SFU net.PacketConn
	// Metrics and Pprof are the optional listeners of Config.MetricsAddr and PprofAddr;
	// Redirect is the plain-HTTP listener of TLS.HTTPRedirect.
	Metrics, Pprof, Redirect net.Listener
}

// Server is one onertc instance.
type Server struct {
	cfg      Config
	log      *slog.Logger
	rooms    room.Store
	redis    *redisconn.Conn  // nil in memory mode
	state    relaystate.State // the relay's: in this process, or in Redis shared with other instances
	relay    *relay.Relay
	metrics  *metrics
	errs     *errcount.Counter // failures of work no caller waits for, by op (metrics)
	limiters struct{ join, message, turn, ws *limit.PerIP }
	trust    origin.Trust    // the proxies whose forwarding headers are believed
	gate     *admission.Gate // password mode's; nil in open mode
	api      *apprtc.API
	handler  http.Handler
	draining atomic.Bool
	turn     *turnState // nil when TURN is disabled
	// groups is the group rooms' store (nil when Config asks for none); they are on while
	// sfu is set (Serve starts it on Listeners.SFU). It is groupTable in memory mode,
	// sharedGroups in Redis mode (see group_routing.go).
	groups       grouproom.Store
	groupTable   *grouproom.Table
	sharedGroups *grouproom.Redis
	sfu          atomic.Pointer[sfu.SFU]
	// groupSockets are the group sockets this instance's SFU serves, which a drain in
	// Redis mode moves to another instance (group_drain.go).
	groupSockets groupSockets
	// sfuPort and sfuIP are the SFU's UDP port and bound address while serving (TURN's
	// peer policy lets relays reach them).
	sfuPort   int
	sfuIP     netip.Addr
	tls       *tlsState // nil when the HTTP port is plain HTTP
	acmeRoots *x509.CertPool
	// firstBytes bounds how long a connection may take to say what it is: the HTTPS port's
	// TLS handshake and first bytes (server/demux), an HTTP request's header.
	firstBytes time.Duration
	mux        atomic.Pointer[demux.Mux] // the shared HTTPS port while serving, for metrics
	// drainNotice is how long a draining instance in Redis mode keeps its port and relay
	// sockets open after /readyz turned 503 (see drain).
	drainNotice time.Duration
	// ready and stopping are WithLifecycle's; released is closed by Release.
	ready       func()
	stopping    func(within time.Duration)
	released    chan struct{}
	releaseOnce sync.Once
	drainLn     net.Listener // Release's: where the successor passes on requests for our rooms
	// predecessor is WithPredecessor's socket.
	predecessor string
	// bodyTimeout bounds reading a request's body (see limit.BodyDeadline); 0: the default.
	bodyTimeout time.Duration
}

// Option adjusts a Server beyond its Config (things no flag sets).
type Option func(*Server)

// WithACMERoots trusts roots for the ACME CA's own HTTPS: a private or test CA.
func WithACMERoots(pool *x509.CertPool) Option { return func(s *Server) { s.acmeRoots = pool } }

// WithFirstBytesTimeout replaces the 10 s a connection has to say what it is (TLS
// handshake and first bytes on the HTTPS port, an HTTP request's header): tests of silent
// and slow clients run faster with less.
func WithFirstBytesTimeout(d time.Duration) Option { return func(s *Server) { s.firstBytes = d } }

// defaultDrainNotice covers the README's HAProxy example (a check every second, down after
// two failures) with a second to spare.
const defaultDrainNotice = 3 * time.Second

// WithDrainNotice replaces the 3 s a draining instance in Redis mode waits, /readyz saying
// 503, before it closes its port and relay sockets: a load balancer that checks less often
// needs more.
func WithDrainNotice(d time.Duration) Option { return func(s *Server) { s.drainNotice = d } }

// WithLifecycle has Serve call ready once it serves, and stopping when its context ends,
// with the longest time the stop may take from then (for systemd's sd_notify: READY=1,
// EXTEND_TIMEOUT_USEC). Either may be nil.
func WithLifecycle(ready func(), stopping func(within time.Duration)) Option {
	return func(s *Server) { s.ready, s.stopping = ready, stopping }
}

// New builds a server from a validated cfg. It starts nothing.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, firstBytes: demux.DefaultTimeout, drainNotice: defaultDrainNotice,
		released: make(chan struct{}), trust: origin.NewTrust(cfg.TrustProxy)}
	for _, o := range opts {
		o(s)
	}
	if cfg.Redis != "" {
		conn, err := redisconn.Open(context.Background(), cfg.Redis, cfg.RedisCluster, 5*time.Second, log)
		if err != nil {
			return nil, err
		}
		s.redis = conn
	}
	delivery := newDeliveryHistogram()
	s.errs = errcount.New(log.With("component", "background"), errcount.DefaultEvery)
	rcfg := relay.DefaultConfig()
	rcfg.Errors = s.errs
	rcfg.Grace = cfg.RelayGrace
	rcfg.FramesPerSecond = cfg.RelayFramesPerSecond
	rcfg.FrameBurst = int(2 * cfg.RelayFramesPerSecond)
	rcfg.MaxSockets, rcfg.MaxSocketsPerIP = cfg.MaxSockets, cfg.MaxSocketsPerIP
	rcfg.ClientKey = func(r *http.Request) string { return s.trust.ClientIP(r).String() }
	rcfg.Logger = log.With("component", "relay")
	rcfg.OnDelivered = func(d time.Duration) { delivery.Observe(d.Seconds()) }
	rcfg.CheckOrigin = relay.SameOrigin(cfg.AllowedOrigins, func(r *http.Request) string { return s.trust.Of(r).Host })
	// One source of truth: the relay's state sits on the room table, in Redis on its keys.
	if s.redis != nil {
		rooms := room.NewRedis(s.redis, redisKeyPrefix).ReportTo(s.errs)
		s.rooms = rooms
		shared := relaystate.NewRedis(s.redis, rooms, redisKeyPrefix, newInstanceID(), cfg.RelayGrace).
			Tune(relaystate.Tuning{Hold: cfg.SharedHold, Logger: rcfg.Logger}).ReportTo(s.errs)
		s.state = shared
		if err := s.setupSharedGroups(shared); err != nil {
			return nil, s.closeRedis(err)
		}
	} else {
		st := relaystate.NewMemory(cfg.RelayGrace)
		s.rooms = st.Rooms()
		s.state = st
	}
	rcfg.State = s.state
	s.relay = relay.New(rcfg)
	l := cfg.Limits
	s.limiters.join = limit.NewPerIP("join", l.Join, l.Burst)
	s.limiters.message = limit.NewPerIP("message", l.Message, l.Burst)
	s.limiters.turn = limit.NewPerIP("turn", l.TURN, l.Burst)
	s.limiters.ws = limit.NewPerIP("ws", l.WS, l.Burst)
	if !cfg.TURN.Disabled {
		if err := s.setupTURN(); err != nil {
			return nil, s.closeRedis(err)
		}
	}
	s.setupGate() // after setupTURN: the key may derive from the TURN secret
	if err := s.setupTLS(); err != nil {
		return nil, s.closeRedis(err)
	}
	if cfg.groupRooms() && s.redis == nil {
		g, err := grouproom.New(grouproom.Config{Size: cfg.RoomSize, Member: s.state.Member})
		if err != nil {
			return nil, s.closeRedis(err)
		}
		s.groups, s.groupTable = g, g
	}
	s.metrics = newMetrics(s, delivery)
	s.setupAPI()
	s.handler = requestid.Wrap(s.metrics.instrument(s.forwardUnknownRooms(s.routes())), s.trust.FromProxy)
	return s, nil
}

// Handler is the HTTP handler of every route on the one port.
func (s *Server) Handler() http.Handler { return s.handler }

// Relay is the server's relay, for its counters.
func (s *Server) Relay() *relay.Relay { return s.relay }

// Serve serves on ls until ctx ends, then shuts down gracefully (see drain): readiness goes
// false; in memory mode new joins are refused while calls in progress go on, up to
// DrainTimeout or until no room is left; in Redis mode the calls move to other instances.
// Then it stops accepting, closes relay sockets with "going away", waits for requests in
// flight up to ShutdownTimeout and, in Redis mode, for the TURN allocations of calls in
// progress up to DrainTimeout.
func (s *Server) Serve(ctx context.Context, ls Listeners) error {
	if ls.HTTP == nil {
		return errors.New("serve: no HTTP listener")
	}
	newHTTPServer := func(h http.Handler) *http.Server {
		return &http.Server{
			// No ReadTimeout: limit.BodyDeadline bounds bodies from the end of the header, and
			// never an upgrade's (net/http clears no deadline when an upgrade that
			// carried a body is hijacked, and a relay socket must not inherit one).
			Handler:           limit.BodyDeadline(h, s.bodyTimeout, s.log),
			ReadHeaderTimeout: s.firstBytes,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	httpLn := ls.HTTP
	var turnTLS []net.Listener // the caller's slices stay as they were
	var mux *demux.Mux
	servers := []*http.Server{newHTTPServer(s.handler)}
	listeners := []net.Listener{nil} // the HTTP(S) listener, set below
	if s.tls != nil {
		// TLS is terminated here: r.TLS is then set and every URL the params build becomes
		// https/wss, and TURN URIs gain turns:. The HTTPS port is shared (server/demux):
		// plain HTTP on it is redirected, TURN on it goes to the TURN server.
		var err error
		if mux, err = s.newMux(ls.HTTP); err != nil {
			return err
		}
		httpLn = mux.HTTPS()
		servers = append(servers, newHTTPServer(s.redirectHandler(ls.HTTP)))
		listeners = append(listeners, mux.HTTP())
		for _, l := range ls.TURNTLS {
			turnTLS = append(turnTLS, tls.NewListener(l, s.tls.turnConfig))
		}
	}
	listeners[0] = httpLn
	ls.TURNTLS = turnTLS
	if ls.Redirect != nil && s.tls != nil {
		servers = append(servers, newHTTPServer(s.redirectHandler(ls.HTTP)))
		listeners = append(listeners, ls.Redirect)
	}
	if ls.Metrics != nil {
		servers = append(servers, newHTTPServer(s.metricsHandler()))
		listeners = append(listeners, ls.Metrics)
	}
	if ls.Pprof != nil {
		servers = append(servers, newHTTPServer(pprofHandler()))
		listeners = append(listeners, ls.Pprof)
	}
	if err := s.startSFU(ls, mux); err != nil {
		return err
	}
	if err := s.startTURN(ls, mux); err != nil {
		s.stopSFU()
		return err
	}
	selfTestCtx, stopSelfTests := context.WithCancel(ctx)
	defer stopSelfTests()
	if s.turn != nil && s.turn.srv.Load() != nil && len(ls.TURNUDP) > 0 && s.cfg.TURN.SelfTestInterval > 0 {
		go s.turn.probe.Run(selfTestCtx, s.cfg.TURN.SelfTestInterval)
	}
	if s.groupTable != nil {
		// Forgets the records of 1:1 rooms of onertc clients that ended.
		go s.groupTable.Run(selfTestCtx, time.Minute)
	}
	// The relay's background loops (reaping; with Redis heartbeats and wake-ups) outlive the
	// sockets' closing below, which still writes their detaching to the state.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); s.relay.Run(relayCtx) }()
	dirDone := make(chan struct{})
	dirCtx, withdrawTURN := context.WithCancel(relayCtx)
	defer withdrawTURN()
	if s.turn != nil && s.turn.srv.Load() != nil {
		go func() { defer close(dirDone); s.runTURNDirectory(dirCtx, s.state) }()
	} else {
		close(dirDone)
	}
	sfuDirDone := s.startSFUDirectory(dirCtx, ls.HTTP)
	errc := make(chan error, len(servers)+1)
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	if mux != nil {
		go func() {
			if err := mux.Serve(ls.HTTP); !errors.Is(err, net.ErrClosed) {
				errc <- err
			}
		}()
	}
	s.log.Info("serving", "http", ls.HTTP.Addr().String(), "https", s.tls != nil)
	if s.ready != nil {
		s.ready()
	}

	var err error
	turnUntil := time.Now() // how long TURN allocations of calls in progress may go on
	select {
	case <-ctx.Done():
		if s.stopping != nil {
			s.stopping(s.stopBudget())
		}
		turnUntil = s.drain(withdrawTURN, false)
	case <-s.released:
		s.letGo(ls, mux, servers, stopSelfTests)
		if s.drainLn != nil {
			hs := newHTTPServer(s.predecessorHandler())
			servers = append(servers, hs)
			go func() { _ = hs.Serve(s.drainLn) }() // ends with its Shutdown below
		}
		turnUntil = s.drain(withdrawTURN, true)
	case err = <-errc:
		err = fmt.Errorf("http server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if mux != nil {
		// Stop taking connections on the HTTPS port and drop those not yet classified;
		// the ones handed over are the servers' to shut down.
		_ = mux.Close()
	}
	for _, hs := range servers {
		serr := hs.Shutdown(shutdownCtx)
		if errors.Is(serr, context.DeadlineExceeded) {
			// Requests still running (or connections opened but silent, which net/http
			// waits 5 s for) after ShutdownTimeout are cut: stopping is what was asked.
			s.log.Warn("shutdown timeout: closing connections still active", "timeout", s.cfg.ShutdownTimeout)
			serr = hs.Close()
		}
		// After Release the listeners are closed already.
		if serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("http shutdown: %w", serr))
		}
	}
	// Hijacked relay and group sockets are not tracked by http.Server: close them
	// ourselves. Group participants get a bye saying the server is shutting down.
	s.stopSFU()
	s.relay.Close()
	s.awaitTURN(turnUntil)
	stopRelay()
	<-relayDone
	<-dirDone
	<-sfuDirDone
	if terr := s.stopTURN(); terr != nil {
		err = errors.Join(err, terr)
	}
	s.closeRedis(nil)
	s.log.Info("stopped")
	return err
}

// closeRedis closes the Redis connection, if any, and passes err on.
func (s *Server) closeRedis(err error) error {
	if s.redis != nil {
		s.redis.Close()
	}
	return err
}

// drain turns /readyz to 503 and lets the calls in progress go on; it returns when the
// relay sockets may be closed, and until when the TURN allocations of calls may go on. The
// relay's state says how long that is (relaystate.State.Drain), the rest is the same in
// both modes: the TURN URIs are withdrawn from the directory so that no new credentials
// name this instance, messages still queued for a socket here are written (bounded), and
// Serve then closes the port and the relay sockets with "going away".
//
// Memory mode: this process is the only one holding its calls, so new joins are refused
// and the state waits for the rooms to empty, up to DrainTimeout: the calls have ended.
//
// Redis mode: calls need not end here. Their clients re-register on another instance as
// soon as their sockets close with "going away", their queues waiting in Redis; joins go on
// (the room table is shared). First the load balancer must see /readyz say 503, or the
// re-registrations land here again: the port and the sockets stay open for drainNotice.
// Then Serve closes the port (a balancer that still sends a connection here gets a refusal
// and passes it on to another instance; nginx's example has no health check and relies on
// that) and the sockets. Media relayed by this instance's TURN server has no such move: it
// would stop until the call finds another path (an ICE restart, seconds), so the TURN
// server goes on for the calls that moved on until their allocations end or DrainTimeout.
//
// After Release (handedOver) the successor serves the port: there is no notice to give, so
// in Redis mode the sockets close at once, their clients re-registering on the successor;
// in memory mode the calls stay here as above, their relay sockets and open HTTP
// connections still served.
func (s *Server) drain(withdrawTURN func(), handedOver bool) time.Time {
	s.draining.Store(true)
	start := time.Now()
	if s.cfg.DrainTimeout <= 0 {
		return start
	}
	withdrawTURN()
	notice := min(s.drainNotice, s.cfg.DrainTimeout)
	if handedOver {
		notice = 0
	}
	s.log.Info("draining: /readyz says 503; relay sockets close once their clients can go on elsewhere, or their calls have ended",
		"notice", notice, "timeout", s.cfg.DrainTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(s.cfg.DrainTimeout))
	movedOn := s.relay.Drain(ctx, notice)
	s.awaitGroups(ctx)
	cancel()
	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer fcancel()
	if err := s.relay.Flush(fctx); err != nil {
		s.log.Warn("drain: messages still queued at shutdown", "err", err)
	}
	if movedOn {
		return start.Add(s.cfg.DrainTimeout)
	}
	return start // the calls have ended: their allocations are on their way out
}

// stopBudget is the longest a stop can take once the context ended: the drain, the flush
// of queued messages (memory mode) or the TURN wait (Redis mode, within the drain), the
// shutdown of requests in flight, and a margin for the rest.
func (s *Server) stopBudget() time.Duration {
	return s.cfg.DrainTimeout + 2*time.Second + s.cfg.ShutdownTimeout + 5*time.Second
}

// Release hands the serving over to another process that serves copies of this one's
// listeners (server/handover): Serve stops taking connections and datagrams at once (its
// copies are closed, the TURN server stopped: the successor's reads the shared UDP socket
// now) and drains the calls it holds as when its context ends, without telling systemd.
// In memory mode drainLn, if not nil, is where the successor (WithPredecessor) passes on
// requests about the rooms held here; Serve serves it until it returns.
func (s *Server) Release(drainLn net.Listener) {
	s.releaseOnce.Do(func() {
		s.drainLn = drainLn
		close(s.released)
	})
}

// letGo closes this process's copies of the listeners and stops its TURN server, whose
// allocations cannot outlive the shared TURN socket here.
func (s *Server) letGo(ls Listeners, mux *demux.Mux, servers []*http.Server, stopSelfTests func()) {
	s.draining.Store(true)
	stopSelfTests()
	if mux != nil {
		_ = mux.Close()
	}
	closeListeners([]net.Listener{ls.HTTP, ls.Redirect, ls.Metrics, ls.Pprof})
	// A client's next request on a kept-alive connection would come here, where joins are
	// refused: idle connections close now and busy ones after their response, so the next
	// request opens a connection to the successor.
	for _, hs := range servers {
		hs.SetKeepAlivesEnabled(false)
	}
	n := 0
	if s.turn != nil {
		if srv := s.turn.srv.Load(); srv != nil {
			n = srv.Stats().AllocationsActive
		}
	}
	if err := s.stopTURN(); err != nil {
		s.log.Warn("hand-over: stopping TURN", "err", err)
	}
	// The successor reads the SFU's socket now: the group calls here end (their clients
	// get a bye and join again, on the successor).
	s.stopSFU()
	s.log.Info("hand-over: the new process serves the listeners; draining the calls held here", "turn_allocations_dropped", n)
}

// awaitTURN keeps the TURN server relaying for the calls that moved on to other instances
// until its allocations have ended or until passes (see drain).
func (s *Server) awaitTURN(until time.Time) {
	if s.turn == nil || s.turn.srv.Load() == nil || !time.Now().Before(until) {
		return
	}
	srv := s.turn.srv.Load()
	n := srv.Stats().AllocationsActive
	if n == 0 {
		return
	}
	s.log.Info("draining: TURN relays for the calls it carries until their allocations end", "allocations", n, "until", until.Format(time.RFC3339))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(until) {
		if n = srv.Stats().AllocationsActive; n == 0 {
			s.log.Info("draining: the last TURN allocation ended")
			return
		}
		<-tick.C
	}
	s.log.Warn("drain timeout: TURN allocations still active are dropped; their calls find another path", "allocations", n)
}

func (s *Server) metricsHandler() http.Handler {
	h := s.metrics.handler()
	if s.cfg.MetricsAuth == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || !constantTimeEqual(user+":"+pass, s.cfg.MetricsAuth) {
			w.Header().Set("WWW-Authenticate", `Basic realm="onertc metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// newInstanceID names this process among the instances sharing a Redis.
func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// setupGate builds password mode's gate (s.gate stays nil in open mode). Its key comes from
// --access-key-file or from the TURN secret, both shared by the instances behind a load
// balancer, so each accepts the others' cookies and invites.
func (s *Server) setupGate() {
	if s.cfg.Access.Mode != string(access.Password) {
		return
	}
	key := s.cfg.Access.Key
	if key == "" && s.turn != nil {
		key = s.turn.secret
	}
	s.gate = admission.New(admission.Config{
		Password: s.cfg.Access.Password, Key: key,
		SessionTTL: s.cfg.Access.SessionTTL, InviteTTL: s.cfg.Access.InviteTTL,
		Trust: s.trust, Log: s.log,
		Limited: func(class string) { s.metrics.limited.WithLabelValues(class).Inc() },
	})
}

// setupAPI builds the AppRTC room server's API on the parts New made.
func (s *Server) setupAPI() {
	cfg := apprtc.Config{
		Rooms: s.rooms, Relay: s.relay, Trust: s.trust, Gate: s.gate, Log: s.log,
		Shared:   s.redis != nil,
		Draining: s.draining.Load,
		HandedOver: func() bool {
			select {
			case <-s.released:
				return true
			default:
				return false
			}
		},
		Joined:           func(result string) { s.metrics.joins.WithLabelValues(result).Inc() },
		Version:          Version,
		HideICEServerURL: s.cfg.TURN.Disabled || s.cfg.TURN.APIKey != "",
		JoinICEServers:   s.joinICEServers,
		Groups: func() grouproom.Store {
			if s.sfu.Load() == nil {
				return nil
			}
			return s.groups
		},
	}
	if s.tls != nil {
		cfg.SelfSignedFingerprint = s.tls.fingerprint
	}
	s.api = apprtc.New(cfg)
}

// Version is the build's version, set by the linker (-X).
var Version = "dev"

// WithBodyTimeout replaces the 15 s a request has to send its body: tests of slow clients
// run faster with less.
func WithBodyTimeout(d time.Duration) Option { return func(s *Server) { s.bodyTimeout = d } }

// limited wraps h with l's per-client-IP rate limit, counting refusals by class.
func (s *Server) limited(l *limit.PerIP, h http.HandlerFunc) http.HandlerFunc {
	return l.Wrap(h, s.trust.ClientIP, func(class string) { s.metrics.limited.WithLabelValues(class).Inc() })
}

// logFor is the server's logger with the request's id and peer.
func (s *Server) logFor(r *http.Request) *slog.Logger { return requestid.Logger(s.log, r) }
