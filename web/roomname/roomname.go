// Package roomname makes and checks the room names people type on the room-selection page.
// It has no dependencies so that both the server (pre-filled name) and the browser app
// (random button, validation as you type) use the same rules without growing the wasm.
package roomname

import "github.com/onertc/onertc/protocol"

// MinLen is the shortest name the page accepts for a new room: shorter names are easy to
// guess and collide. The server itself accepts any valid id (1–64 characters), so old links
// keep working.
const MinLen = 5

// alphabet has 32 symbols without look-alikes (0/o, 1/l), so a name read aloud or typed from
// a screenshot still works; 32 divides 256, so taking a byte modulo 32 is unbiased.
const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// Encode makes a name like "k7qz-m3xa-p9dw" of 12 random bytes: 12 symbols of 5 bits = 60
// bits, where AppRTC used 9 decimal digits (30 bits). The caller brings the randomness:
// crypto/rand natively, crypto.getRandomValues in the browser (importing crypto/rand would
// add ~150 KB to the wasm).
func Encode(b [12]byte) string {
	out := make([]byte, 0, 14)
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, alphabet[c%32])
	}
	return string(out)
}

// Problem says what is wrong with a typed name, or "" when it can be joined.
func Problem(name string) string {
	switch {
	case name == "":
		return "Type a room name, or pick a random one."
	case len(name) > protocol.MaxIDLen:
		return "At most 64 characters."
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "Only letters, digits, - and _ are allowed."
		}
	}
	if len(name) < MinLen {
		n := MinLen - len(name)
		if n == 1 {
			return "At least 5 characters: 1 more."
		}
		return "At least 5 characters: " + string(rune('0'+n)) + " more."
	}
	return ""
}
