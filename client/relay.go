package client

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// relayLink keeps one registered relay socket for a client: it re-dials and re-registers
// after a socket loss for up to window, and reports to the call loop what arrives.
type relayLink struct {
	t              Transport
	url            string
	room, clientID string
	window         time.Duration
	log            Logger

	frames chan<- protocol.RelayFrame // to the call loop
	events chan<- linkEvent           // to the call loop
	done   <-chan struct{}            // closed when the call loop has returned

	mu     sync.Mutex
	conn   RelayConn     // nil while (re)connecting
	ready  chan struct{} // closed when conn is set
	closed bool
	gen    int // counts sockets, so a stale reader cannot tear down a newer one
}

type linkEvent struct {
	lost     bool  // the socket dropped; reconnecting
	restored bool  // re-registered after a loss
	err      error // fatal: gave up
}

func newRelayLink(t Transport, url, room, clientID string, window time.Duration, log Logger,
	frames chan<- protocol.RelayFrame, events chan<- linkEvent, done <-chan struct{}) *relayLink {
	return &relayLink{t: t, url: url, room: room, clientID: clientID, window: window, log: log,
		frames: frames, events: events, done: done, ready: make(chan struct{})}
}

// emit hands ev to the call loop unless the loop is gone.
func (l *relayLink) emit(ev linkEvent) {
	select {
	case l.events <- ev:
	case <-l.done:
	}
}

// connect dials and registers once.
func (l *relayLink) connect(ctx context.Context) error {
	conn, err := l.t.DialRelay(ctx, l.url)
	if err != nil {
		return wrap.Error("dial relay ", l.url, ": ", err)
	}
	reg := protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: l.room, ClientID: l.clientID}
	if err := conn.Write(ctx, reg); err != nil {
		_ = conn.Close()
		return wrap.Error("register on relay: ", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = conn.Close()
		return errors.New("relay link closed")
	}
	l.gen++
	gen := l.gen
	l.conn = conn
	close(l.ready)
	l.mu.Unlock()
	go l.read(conn, gen)
	return nil
}

// read forwards frames until the socket fails, then starts the reconnection.
func (l *relayLink) read(conn RelayConn, gen int) {
	for {
		f, err := conn.Read(context.Background())
		if err != nil {
			l.lost(conn, gen, err)
			return
		}
		select {
		case l.frames <- f:
		case <-l.done:
			return
		}
	}
}

// lost marks conn as gone (once) and reconnects in the background.
func (l *relayLink) lost(conn RelayConn, gen int, cause error) {
	l.mu.Lock()
	if l.closed || gen != l.gen || l.conn != conn {
		l.mu.Unlock()
		return
	}
	l.conn = nil
	l.ready = make(chan struct{})
	l.mu.Unlock()
	_ = conn.Close()
	l.log.Warn("relay socket lost; reconnecting", "err", cause)
	l.emit(linkEvent{lost: true})
	go l.reconnect()
}

func (l *relayLink) reconnect() {
	deadline := time.Now().Add(l.window)
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := l.connect(ctx)
		cancel()
		if err == nil {
			l.log.Info("relay socket re-registered", "attempt", attempt)
			l.emit(linkEvent{restored: true})
			return
		}
		if l.isClosed() {
			return
		}
		if time.Now().Add(backoff).After(deadline) {
			l.emit(linkEvent{err: wrap.Error(ErrRelayLost, ": ", attempt, " attempts in ", l.window, ": ", err)})
			return
		}
		select {
		case <-time.After(backoff):
		case <-l.done:
			return
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (l *relayLink) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// send writes a "send" frame, waiting for a live socket while reconnecting.
func (l *relayLink) send(ctx context.Context, msg string) error {
	for {
		l.mu.Lock()
		conn, ready, closed, gen := l.conn, l.ready, l.closed, l.gen
		l.mu.Unlock()
		if closed {
			return errors.New("relay link closed")
		}
		if conn == nil {
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				return wrap.Error("relay send: waiting for socket: ", ctx.Err())
			}
		}
		err := conn.Write(ctx, protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: msg})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return wrap.Error("relay send: ", err)
		}
		l.lost(conn, gen, err)
	}
}

// close shuts the link down for good.
func (l *relayLink) close() {
	l.mu.Lock()
	l.closed = true
	conn := l.conn
	l.conn = nil
	l.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}
