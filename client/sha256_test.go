//go:build !js

package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestSum256MatchesCryptoSHA256 holds the browser build's SHA-256 to FIPS 180-4's examples
// and to crypto/sha256 at every length around the padding's block boundaries.
func TestSum256MatchesCryptoSHA256(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	} {
		if got := sum256([]byte(tc.in)); hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("sum256(%q) = %x, want %s", tc.in, got, tc.want)
		}
	}
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	for n := range len(data) + 1 {
		if got, want := sum256(data[:n]), sha256.Sum256(data[:n]); got != want {
			t.Fatalf("length %d: sum256 %x, crypto/sha256 %x", n, got, want)
		}
	}
}

func FuzzSum256(f *testing.F) {
	f.Add([]byte("onertc verification code v1\x00"))
	f.Add(bytes.Repeat([]byte{0xff}, 119))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := sum256(data), sha256.Sum256(data); got != want {
			t.Fatalf("sum256 %x, crypto/sha256 %x", got, want)
		}
	})
}
