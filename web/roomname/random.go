//go:build !js

package roomname

import "crypto/rand"

// Random returns a new random name (see Encode).
func Random() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return Encode(b)
}
