package client

import (
	"fmt"
	"net/url"

	"github.com/onertc/onertc/protocol"
)

// groupSocketURL adds the display name to the group socket's URL.
func groupSocketURL(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("group URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("group URL %q: scheme is not ws or wss", raw)
	}
	if name != "" {
		q := u.Query()
		q.Set("name", name)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// fatalGroupCode reports the error codes after which the server closes the socket for good.
func fatalGroupCode(code string) bool {
	switch code {
	case protocol.GroupErrFull, protocol.GroupErrRate, protocol.GroupErrDuplicate, protocol.GroupErrClosing, protocol.GroupErrTooLarge:
		return true
	}
	return false
}
