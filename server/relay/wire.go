package relay

import (
	"encoding/binary"
	"unicode/utf8"
)

// The relay writes its frames itself, straight into one buffer per burst, rather than
// through gorilla's per-message writer: a burst of messages, the ping that will confirm them
// and any pongs owed then leave in a single write syscall (see socket.writeLoop). Reading
// stays with gorilla.

const (
	opText  = 1
	opClose = 8
	opPing  = 9
	opPong  = 10
)

// appendFrameHeader appends the header of an unmasked server frame (RFC 6455 §5.2) with
// FIN set, for a payload of n bytes.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

func appendFrame(b []byte, op byte, payload []byte) []byte {
	return append(appendFrameHeader(b, op, len(payload)), payload...)
}

// appendMessageFrame appends the text frame {"msg":<msg>,"error":""}, byte for byte what
// encoding/json makes of protocol.RelayFrame{Msg: msg} (FuzzMessageFrame holds them
// together).
func appendMessageFrame(b []byte, msg string) []byte {
	const head, tail = `{"msg":`, `,"error":""}`
	b = appendFrameHeader(b, opText, len(head)+jsonStringLen(msg)+len(tail))
	b = append(b, head...)
	b = appendJSONString(b, msg)
	return append(b, tail...)
}

// jsonEscape[c] is the escape of ASCII byte c in a JSON string as encoding/json writes it
// (HTML-safe: <, > and & escaped too), or "" when c stands for itself.
var jsonEscape = func() (t [utf8.RuneSelf]string) {
	const hex = "0123456789abcdef"
	for c := range 0x20 {
		t[c] = `\u00` + string(hex[c>>4]) + string(hex[c&0xf])
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	t['"'], t['\\'] = `\"`, `\\`
	t['<'], t['>'], t['&'] = `\u003c`, `\u003e`, `\u0026`
	return t
}()

// jsonStringLen is len(appendJSONString(nil, s)), computed without building it, so that a
// frame's header can be written before its payload.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			n += max(1, len(jsonEscape[c]))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += len(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			n += len(`\u2028`)
		default:
			n += size
		}
		i += size
	}
	return n
}

// appendJSONString appends s as a JSON string: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped (JavaScript line terminators), as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is pending, needing no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if esc := jsonEscape[c]; esc != "" {
				b = append(append(b, s[start:i]...), esc...)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == utf8.RuneError && size == 1:
			esc = `\ufffd`
		case r == '\u2028':
			esc = `\u2028`
		case r == '\u2029':
			esc = `\u2029`
		}
		if esc != "" {
			b = append(append(b, s[start:i]...), esc...)
			start = i + size
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
