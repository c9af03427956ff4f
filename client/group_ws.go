//go:build !js

package client

import (
	"context"

	"github.com/onertc/onertc/protocol"
)

// DialGroup implements GroupDialer: the group socket goes where the relay socket goes (same
// TLS trust, dialer and cookies), with the same Origin.
func (t *HTTPTransport) DialGroup(ctx context.Context, groupURL string) (GroupConn, error) {
	conn, err := t.dialWS(ctx, groupURL, protocol.MaxGroupFrameBytes)
	if err != nil {
		return nil, err
	}
	return &jsonSocket[protocol.GroupMessage, protocol.GroupMessage]{conn: conn, what: "group"}, nil
}
