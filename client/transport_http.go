//go:build !js

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
)

// HTTPTransport is the native Transport: net/http for the room server and gorilla/websocket
// for the relay.
type HTTPTransport struct {
	base   *url.URL
	client *http.Client
	dialer *websocket.Dialer
}

// NewHTTPTransport returns a Transport for the server at base (e.g. "http://127.0.0.1:8080").
// hc may be nil for a client with a 15 s timeout.
func NewHTTPTransport(base string, hc *http.Client) (*HTTPTransport, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: server URL %q", ErrBadConfig, base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if hc.Jar == nil {
		// A server in password mode admits by cookie (SignIn, OpenInvite): every request
		// and the relay socket carry the cookies it set.
		withJar := *hc
		withJar.Jar, _ = cookiejar.New(nil) // never fails without options
		hc = &withJar
	}
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment, Jar: hc.Jar}
	// The relay socket goes where the HTTP requests go: same TLS trust, same dialer (a
	// caller that resolves the server's name itself, a proxy).
	if tr, ok := hc.Transport.(*http.Transport); ok {
		if tr.TLSClientConfig != nil {
			d.TLSClientConfig = tr.TLSClientConfig.Clone()
		}
		d.NetDialContext = tr.DialContext
		if tr.Proxy != nil {
			d.Proxy = tr.Proxy
		}
	}
	return &HTTPTransport{base: u, client: hc, dialer: d}, nil
}

func (t *HTTPTransport) endpoint(parts ...string) string {
	u := *t.base
	for _, p := range parts {
		u.Path += "/" + url.PathEscape(p)
	}
	return u.String()
}

// resolve makes ref absolute against the server base.
func (t *HTTPTransport) resolve(ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", ref, err)
	}
	return t.base.ResolveReference(r).String(), nil
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (t *HTTPTransport) do(ctx context.Context, method, u, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading body: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %w: %.200s", method, u, statusError(resp.StatusCode), data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, u, err)
		}
	}
	return nil
}

// Join implements Transport.
func (t *HTTPTransport) Join(ctx context.Context, room, query string) (protocol.JoinResponse, error) {
	u := t.endpoint("join", room)
	if query != "" {
		u += "?" + query
	}
	var r protocol.JoinResponse
	err := t.do(ctx, http.MethodPost, u, "", &r)
	return r, err
}

// Message implements Transport.
func (t *HTTPTransport) Message(ctx context.Context, room, clientID, msg string) error {
	var r protocol.MessageResponse
	if err := t.do(ctx, http.MethodPost, t.endpoint("message", room, clientID), msg, &r); err != nil {
		return err
	}
	if r.Result != protocol.ResultSuccess {
		return fmt.Errorf("message to room %q: %w: %s", room, ErrMessageRejected, r.Result)
	}
	return nil
}

// Leave implements Transport.
func (t *HTTPTransport) Leave(ctx context.Context, room, clientID string) error {
	return t.do(ctx, http.MethodPost, t.endpoint("leave", room, clientID), "", nil)
}

// ICEServers implements Transport.
func (t *HTTPTransport) ICEServers(ctx context.Context, iceServerURL string) ([]protocol.ICEServer, error) {
	u, err := t.resolve(iceServerURL)
	if err != nil {
		return nil, err
	}
	var cfg protocol.ICEConfig
	if err := t.do(ctx, http.MethodPost, u, "", &cfg); err != nil {
		return nil, err
	}
	return cfg.ICEServers, nil
}

// DeleteRelay implements Transport.
func (t *HTTPTransport) DeleteRelay(ctx context.Context, wssPostURL, room, clientID string) error {
	u, err := t.resolve(strings.TrimRight(wssPostURL, "/") + "/" + url.PathEscape(room) + "/" + url.PathEscape(clientID))
	if err != nil {
		return err
	}
	return t.do(ctx, http.MethodDelete, u, "", nil)
}

// DialRelay implements Transport. It sends an Origin header: the original Collider refuses
// handshakes without one.
func (t *HTTPTransport) DialRelay(ctx context.Context, wssURL string) (RelayConn, error) {
	conn, err := t.dialWS(ctx, wssURL, protocol.MaxFrameBytes)
	if err != nil {
		return nil, err
	}
	return &jsonSocket[protocol.RelayRequest, protocol.RelayFrame]{conn: conn, what: "relay"}, nil
}

// dialWS opens a WebSocket to u with this transport's dialer (TLS trust, cookies) and the
// server's Origin, reading frames of at most readLimit bytes.
func (t *HTTPTransport) dialWS(ctx context.Context, u string, readLimit int64) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("Origin", t.base.Scheme+"://"+t.base.Host)
	conn, resp, err := t.dialer.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", u, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	conn.SetReadLimit(readLimit)
	return conn, nil
}

// jsonSocket carries JSON messages over gorilla/websocket, Out written and In read: the
// relay socket and the group socket. One reader; writes serialised by a mutex.
type jsonSocket[Out, In any] struct {
	conn *websocket.Conn
	what string // "relay" or "group", for errors
	wmu  sync.Mutex
}

func (c *jsonSocket[Out, In]) Write(ctx context.Context, m Out) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", c.what, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("%s write: %w", c.what, err)
	}
	return nil
}

func (c *jsonSocket[Out, In]) Read(context.Context) (In, error) {
	for {
		var m In
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return m, fmt.Errorf("%s read: %w", c.what, err)
		}
		if err := json.Unmarshal(data, &m); err != nil {
			continue // a garbled frame is not a reason to drop the socket
		}
		return m, nil
	}
}

func (c *jsonSocket[Out, In]) Close() error {
	err := c.conn.Close()
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}
