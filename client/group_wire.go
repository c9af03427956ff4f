package client

import (
	"strconv"
	"strings"

	"github.com/onertc/onertc/internal/wrap"
	"github.com/onertc/onertc/protocol"
)

// groupSocketURL adds the display name to the group socket's URL. It is written without
// net/url, which would add 40 KB to the browser app for this one use.
func groupSocketURL(raw, name string) (string, error) {
	rest, ok := strings.CutPrefix(raw, "wss://")
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "ws://"); !ok {
			return "", wrap.Error("group URL ", strconv.Quote(raw), ": scheme is not ws or wss")
		}
	}
	if rest == "" || rest[0] == '/' {
		return "", wrap.Error("group URL ", strconv.Quote(raw), ": no host")
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c <= ' ' || c >= 0x7f || c == '#':
			return "", wrap.Error("group URL ", strconv.Quote(raw), ": byte ", strconv.QuoteRune(rune(c)), " not allowed")
		case c == '%' && (i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2])):
			return "", wrap.Error("group URL ", strconv.Quote(raw), ": bad escape")
		}
	}
	if name == "" {
		return raw, nil
	}
	sep := "?"
	if strings.Contains(rest, "?") {
		sep = "&"
	}
	return raw + sep + "name=" + queryEscape(name), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// queryEscape escapes s for a query value as net/url's QueryEscape does: unreserved bytes
// kept, a space as '+', every other byte as %XX.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// fatalGroupCode reports the error codes after which the server closes the socket for good.
func fatalGroupCode(code string) bool {
	switch code {
	case protocol.GroupErrFull, protocol.GroupErrRate, protocol.GroupErrDuplicate, protocol.GroupErrClosing, protocol.GroupErrTooLarge:
		return true
	}
	return false
}
