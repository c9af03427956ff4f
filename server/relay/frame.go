package relay

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/onertc/onertc/protocol"
)

// decodeRequest decodes one client frame. Collider frames are flat objects of strings, which
// a small parser reads without reflection: cheaper per message, and it keeps the reader
// goroutine's stack small (an idle socket's stack is most of what it costs). Anything else
// goes to encoding/json, so the result is always encoding/json's (FuzzDecodeRequest holds
// the two together).
func decodeRequest(data []byte) (protocol.RelayRequest, error) {
	if req, ok := decodeFlat(data); ok {
		return req, nil
	}
	var req protocol.RelayRequest
	err := json.Unmarshal(data, &req)
	return req, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decodeFlat parses {"key":"value",...}; ok is false for anything it does not handle.
func decodeFlat(b []byte) (req protocol.RelayRequest, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return req, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return req, skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := parseString(b, i)
		if !ok {
			return req, false
		}
		j = skipSpace(b, j)
		if j >= len(b) || b[j] != ':' {
			return req, false
		}
		val, k, ok := parseString(b, skipSpace(b, j+1))
		if !ok {
			return req, false
		}
		switch key {
		case "cmd":
			req.Cmd = val
		case "roomid":
			req.RoomID = val
		case "clientid":
			req.ClientID = val
		case "msg":
			req.Msg = val
		default:
			// encoding/json matches field names without regard to case.
			for _, name := range [...]string{"cmd", "roomid", "clientid", "msg"} {
				if strings.EqualFold(key, name) {
					return req, false
				}
			}
		}
		k = skipSpace(b, k)
		if k >= len(b) {
			return req, false
		}
		switch b[k] {
		case ',':
			i = skipSpace(b, k+1)
		case '}':
			return req, skipSpace(b, k+1) == len(b)
		default:
			return req, false
		}
	}
}

// parseString reads the JSON string starting at b[i] and returns it and the index after it.
// It declines (ok false) invalid UTF-8 and surrogate escapes, which encoding/json replaces
// with U+FFFD, and anything that is not a string.
func parseString(b []byte, i int) (s string, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	ascii := true
	var out []byte // nil until the first escape
	for j := start; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			raw := b[start:j]
			if !ascii && !utf8.Valid(raw) {
				return "", 0, false
			}
			if out == nil {
				return string(raw), j + 1, true
			}
			return string(out), j + 1, true
		case c < 0x20:
			return "", 0, false
		case c >= 0x80:
			ascii = false
			if out != nil {
				out = append(out, c)
			}
		case c == '\\':
			if out == nil {
				out = append(make([]byte, 0, len(b)-start), b[start:j]...)
			}
			if j+1 >= len(b) {
				return "", 0, false
			}
			j++
			switch b[j] {
			case '"', '\\', '/':
				out = append(out, b[j])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if j+4 >= len(b) {
					return "", 0, false
				}
				var r rune
				for _, h := range b[j+1 : j+5] {
					r <<= 4
					switch {
					case h >= '0' && h <= '9':
						r |= rune(h - '0')
					case h >= 'a' && h <= 'f':
						r |= rune(h - 'a' + 10)
					case h >= 'A' && h <= 'F':
						r |= rune(h - 'A' + 10)
					default:
						return "", 0, false
					}
				}
				if r >= 0xD800 && r <= 0xDFFF {
					return "", 0, false
				}
				out = utf8.AppendRune(out, r)
				j += 4
			default:
				return "", 0, false
			}
		default:
			if out != nil {
				out = append(out, c)
			}
		}
	}
	return "", 0, false
}
