//go:build js && wasm

package client

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// BrowserTransport is the js/wasm Transport: the browser's fetch, WebSocket and JSON
// (net/http and encoding/json would work too, but cost the wasm binary several hundred KB).
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
		b.WriteString(pathEscape(p))
	}
	return b.String()
}

// pathEscape is encodeURIComponent: for the ids in paths ([a-zA-Z0-9_-]) the same as
// url.PathEscape, without linking net/url.
func pathEscape(s string) string {
	return js.Global().Call("encodeURIComponent", s).String()
}

// fetch performs one request and returns the body text (a JS string) of a 200 answer.
func (t *BrowserTransport) fetch(ctx context.Context, method, u, body string) (js.Value, error) {
	abort := js.Global().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()
	opts := map[string]any{"method": method, "signal": abort.Get("signal"), "cache": "no-store"}
	if body != "" {
		opts["body"] = body
	}
	p, err := call(js.Global(), "fetch", u, opts)
	if err != nil {
		return js.Undefined(), wrap.Error(method, " ", u, ": ", err)
	}
	resp, err := await(ctx, p)
	if err != nil {
		return js.Undefined(), wrap.Error(method, " ", u, ": ", err)
	}
	text, err := await(ctx, resp.Call("text"))
	if err != nil {
		return js.Undefined(), wrap.Error(method, " ", u, ": reading body: ", err)
	}
	if status := resp.Get("status").Int(); status != 200 {
		return js.Undefined(), wrap.Error(method, " ", u, ": ", statusError(status), ": ", wrap.Truncate(text.String(), 200))
	}
	return text, nil
}

// fetchJSON performs one request and reads its JSON answer with read.
func fetchJSON[T any](ctx context.Context, t *BrowserTransport, method, u, body string,
	read func(*jsjson.Decoder, js.Value) T) (T, error) {
	text, err := t.fetch(ctx, method, u, body)
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := jsjson.Decode(text, read)
	if err != nil {
		return out, wrap.Error(method, " ", u, ": decoding answer: ", err)
	}
	return out, nil
}

// Join implements Transport.
func (t *BrowserTransport) Join(ctx context.Context, room, query string) (protocol.JoinResponse, error) {
	u := t.endpoint("join", room)
	if query != "" {
		u += "?" + query
	}
	return fetchJSON(ctx, t, "POST", u, "", (*jsjson.Decoder).JoinResponse)
}

// Message implements Transport.
func (t *BrowserTransport) Message(ctx context.Context, room, clientID, msg string) error {
	r, err := fetchJSON(ctx, t, "POST", t.endpoint("message", room, clientID), msg, (*jsjson.Decoder).MessageResponse)
	if err != nil {
		return err
	}
	if r.Result != protocol.ResultSuccess {
		return wrap.Error("message to room ", strconv.Quote(room), ": ", ErrMessageRejected, ": ", r.Result)
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
	cfg, err := fetchJSON(ctx, t, "POST", iceServerURL, "", (*jsjson.Decoder).ICEConfig)
	if err != nil {
		return nil, err
	}
	return cfg.ICEServers, nil
}

// DeleteRelay implements Transport.
func (t *BrowserTransport) DeleteRelay(ctx context.Context, wssPostURL, room, clientID string) error {
	u := strings.TrimRight(wssPostURL, "/") + "/" + pathEscape(room) + "/" + pathEscape(clientID)
	_, err := t.fetch(ctx, "DELETE", u, "")
	return err
}

// DialRelay implements Transport with the browser's WebSocket.
func (t *BrowserTransport) DialRelay(ctx context.Context, wssURL string) (RelayConn, error) {
	ws, err := newWebSocket(wssURL)
	if err != nil {
		return nil, wrap.Error("dial ", wssURL, ": ", err)
	}
	s := &jsSocket{ws: ws, l: &listeners{target: ws}, frames: newQueue[protocol.RelayFrame](),
		opened: make(chan struct{}), closed: make(chan struct{})}
	s.l.on("open", func(js.Value) { s.openOnce.Do(func() { close(s.opened) }) })
	s.l.on("message", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			return // the relay sends text frames only
		}
		if f, err := jsjson.Decode(data, (*jsjson.Decoder).RelayFrame); err == nil {
			s.frames.push(f)
		}
	})
	s.l.on("close", func(js.Value) { go s.shutdown() })
	select {
	case <-s.opened:
		return s, nil
	case <-s.closed:
		return nil, wrap.Error("dial ", wssURL, ": ", errors.New("socket closed before opening"))
	case <-ctx.Done():
		_ = s.Close()
		return nil, wrap.Error("dial ", wssURL, ": ", ctx.Err())
	}
}

func newWebSocket(u string) (ws js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = wrap.Error("new WebSocket: ", wrap.Text(r))
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
	data := jsjson.EncodeRelayRequest(req)
	select {
	case <-s.closed:
		return errors.New("relay write: socket closed")
	default:
	}
	if s.ws.Get("readyState").Int() != 1 {
		return errors.New("relay write: socket not open")
	}
	if _, err := call(s.ws, "send", data); err != nil {
		return wrap.Error("relay write: ", err)
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
