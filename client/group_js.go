//go:build js && wasm

package client

import (
	"context"
	"errors"
	"sync"
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// DialGroup implements GroupDialer with the browser's WebSocket. The frames go through
// jsjson, as the relay's do, which keeps encoding/json out of the app.
func (t *BrowserTransport) DialGroup(ctx context.Context, groupURL string) (GroupConn, error) {
	ws, err := newWebSocket(groupURL)
	if err != nil {
		return nil, wrap.Error("dial ", groupURL, ": ", err)
	}
	s := &jsGroupSocket{ws: ws, l: &listeners{target: ws}, frames: newQueue[protocol.GroupMessage](),
		opened: make(chan struct{}), closed: make(chan struct{})}
	s.l.on("open", func(js.Value) { s.openOnce.Do(func() { close(s.opened) }) })
	s.l.on("message", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			return
		}
		// A garbled frame is skipped, as the native GroupConn skips it: it is not a reason
		// to drop the socket.
		if m, err := jsjson.Decode(data, (*jsjson.Decoder).GroupMessage); err == nil {
			s.frames.push(m)
		}
	})
	s.l.on("close", func(js.Value) { go s.shutdown() })
	select {
	case <-s.opened:
		return s, nil
	case <-s.closed:
		return nil, wrap.Error("dial ", groupURL, ": ", errors.New("socket closed before opening"))
	case <-ctx.Done():
		_ = s.Close()
		return nil, wrap.Error("dial ", groupURL, ": ", ctx.Err())
	}
}

// jsGroupSocket is a GroupConn over a browser WebSocket.
type jsGroupSocket struct {
	ws        js.Value
	l         *listeners
	frames    *queue[protocol.GroupMessage]
	opened    chan struct{}
	openOnce  sync.Once
	closed    chan struct{}
	closeOnce sync.Once
}

func (s *jsGroupSocket) Write(_ context.Context, m protocol.GroupMessage) error {
	select {
	case <-s.closed:
		return errors.New("group write: socket closed")
	default:
	}
	if s.ws.Get("readyState").Int() != 1 {
		return errors.New("group write: socket not open")
	}
	if _, err := call(s.ws, "send", jsjson.EncodeGroupMessage(m)); err != nil {
		return wrap.Error("group write: ", err)
	}
	return nil
}

func (s *jsGroupSocket) Read(ctx context.Context) (protocol.GroupMessage, error) {
	m, ok := s.frames.pop(ctx)
	if !ok {
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
		return m, errors.New("group read: socket closed")
	}
	return m, nil
}

func (s *jsGroupSocket) shutdown() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.frames.close()
		s.l.removeAll()
	})
}

func (s *jsGroupSocket) Close() error {
	_, err := call(s.ws, "close")
	s.shutdown()
	return err
}
