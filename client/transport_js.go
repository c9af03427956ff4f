//go:build js && wasm

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"syscall/js"

	"github.com/onertc/onertc/protocol"
)

// BrowserTransport is the js/wasm Transport: the browser's fetch and WebSocket (net/http
// would work too, but costs the wasm binary several hundred KB).
type BrowserTransport struct {
	base string
}

// NewBrowserTransport returns a Transport for the server at base; "" means the page's own
// origin (relative URLs).
func NewBrowserTransport(base string) *BrowserTransport {
	return &BrowserTransport{base: strings.TrimRight(base, "/")}
}

func (t *BrowserTransport) endpoint(parts ...string) string {
	var b strings.Builder
	b.WriteString(t.base)
	for _, p := range parts {
		b.WriteString("/")
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// fetch performs one request and returns the body text of a 200 answer.
func (t *BrowserTransport) fetch(ctx context.Context, method, u, body string) (string, error) {
	abort := js.Global().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()
	opts := map[string]any{"method": method, "signal": abort.Get("signal"), "cache": "no-store"}
	if body != "" {
		opts["body"] = body
	}
	p, err := call(js.Global(), "fetch", u, opts)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, u, err)
	}
	resp, err := await(ctx, p)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, u, err)
	}
	text, err := await(ctx, resp.Call("text"))
	if err != nil {
		return "", fmt.Errorf("%s %s: reading body: %w", method, u, err)
	}
	if status := resp.Get("status").Int(); status != 200 {
		return "", fmt.Errorf("%s %s: %w %d: %.200s", method, u, ErrHTTPStatus, status, text.String())
	}
	return text.String(), nil
}

func (t *BrowserTransport) fetchJSON(ctx context.Context, method, u, body string, out any) error {
	text, err := t.fetch(ctx, method, u, body)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, u, err)
		}
	}
	return nil
}

// Join implements Transport.
func (t *BrowserTransport) Join(ctx context.Context, room string) (protocol.JoinResponse, error) {
	var r protocol.JoinResponse
	err := t.fetchJSON(ctx, "POST", t.endpoint("join", room), "", &r)
	return r, err
}

// Message implements Transport.
func (t *BrowserTransport) Message(ctx context.Context, room, clientID, msg string) error {
	var r protocol.MessageResponse
	if err := t.fetchJSON(ctx, "POST", t.endpoint("message", room, clientID), msg, &r); err != nil {
		return err
	}
	if r.Result != protocol.ResultSuccess {
		return fmt.Errorf("message to room %q: %w: %s", room, ErrMessageRejected, r.Result)
	}
	return nil
}

// Leave implements Transport.
func (t *BrowserTransport) Leave(ctx context.Context, room, clientID string) error {
	_, err := t.fetch(ctx, "POST", t.endpoint("leave", room, clientID), "")
	return err
}

// ICEServers implements Transport.
func (t *BrowserTransport) ICEServers(ctx context.Context, iceServerURL string) ([]protocol.ICEServer, error) {
	var cfg protocol.ICEConfig
	if err := t.fetchJSON(ctx, "POST", iceServerURL, "", &cfg); err != nil {
		return nil, err
	}
	return cfg.ICEServers, nil
}

// DeleteRelay implements Transport.
func (t *BrowserTransport) DeleteRelay(ctx context.Context, wssPostURL, room, clientID string) error {
	u := strings.TrimRight(wssPostURL, "/") + "/" + url.PathEscape(room) + "/" + url.PathEscape(clientID)
	_, err := t.fetch(ctx, "DELETE", u, "")
	return err
}

// DialRelay implements Transport with the browser's WebSocket.
func (t *BrowserTransport) DialRelay(ctx context.Context, wssURL string) (RelayConn, error) {
	ws, err := newWebSocket(wssURL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", wssURL, err)
	}
	s := &jsSocket{ws: ws, l: &listeners{target: ws}, frames: newQueue[protocol.RelayFrame](),
		opened: make(chan struct{}), closed: make(chan struct{})}
	s.l.on("open", func(js.Value) { s.openOnce.Do(func() { close(s.opened) }) })
	s.l.on("message", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			return // the relay sends text frames only
		}
		var f protocol.RelayFrame
		if json.Unmarshal([]byte(data.String()), &f) == nil {
			s.frames.push(f)
		}
	})
	s.l.on("close", func(js.Value) { go s.shutdown() })
	select {
	case <-s.opened:
		return s, nil
	case <-s.closed:
		return nil, fmt.Errorf("dial %s: %w", wssURL, errors.New("socket closed before opening"))
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("dial %s: %w", wssURL, ctx.Err())
	}
}

func newWebSocket(u string) (ws js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("new WebSocket: %v", r)
		}
	}()
	return js.Global().Get("WebSocket").New(u), nil
}

// jsSocket is a RelayConn over a browser WebSocket.
type jsSocket struct {
	ws        js.Value
	l         *listeners
	frames    *queue[protocol.RelayFrame]
	opened    chan struct{}
	openOnce  sync.Once
	closed    chan struct{}
	closeOnce sync.Once
}

func (s *jsSocket) Write(_ context.Context, req protocol.RelayRequest) error {
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode relay request: %w", err)
	}
	select {
	case <-s.closed:
		return errors.New("relay write: socket closed")
	default:
	}
	if s.ws.Get("readyState").Int() != 1 {
		return errors.New("relay write: socket not open")
	}
	if _, err := call(s.ws, "send", string(data)); err != nil {
		return fmt.Errorf("relay write: %w", err)
	}
	return nil
}

func (s *jsSocket) Read(ctx context.Context) (protocol.RelayFrame, error) {
	f, ok := s.frames.pop(ctx)
	if !ok {
		if ctx.Err() != nil {
			return f, ctx.Err()
		}
		return f, errors.New("relay read: socket closed")
	}
	return f, nil
}

// shutdown runs once the socket is closed, by either side.
func (s *jsSocket) shutdown() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.frames.close()
		s.l.removeAll()
	})
}

func (s *jsSocket) Close() error {
	_, err := call(s.ws, "close")
	s.shutdown()
	return err
}
