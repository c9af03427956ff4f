//go:build !js

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
)

// DialGroup implements GroupDialer: the group socket goes where the relay socket goes (same
// TLS trust, dialer and cookies), with the same Origin.
func (t *HTTPTransport) DialGroup(ctx context.Context, groupURL string) (GroupConn, error) {
	h := http.Header{}
	h.Set("Origin", t.base.Scheme+"://"+t.base.Host)
	conn, resp, err := t.dialer.DialContext(ctx, groupURL, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", groupURL, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", groupURL, err)
	}
	conn.SetReadLimit(protocol.MaxGroupFrameBytes)
	return &wsGroupConn{conn: conn}, nil
}

// wsGroupConn is a GroupConn over gorilla/websocket: one reader, writes serialised.
type wsGroupConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex
}

func (c *wsGroupConn) Write(ctx context.Context, m protocol.GroupMessage) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode group frame: %w", err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("group write: %w", err)
	}
	return nil
}

func (c *wsGroupConn) Read(context.Context) (protocol.GroupMessage, error) {
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return protocol.GroupMessage{}, fmt.Errorf("group read: %w", err)
		}
		var m protocol.GroupMessage
		if err := json.Unmarshal(data, &m); err != nil {
			continue // a garbled frame is not a reason to drop the socket
		}
		return m, nil
	}
}

func (c *wsGroupConn) Close() error {
	err := c.conn.Close()
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}
