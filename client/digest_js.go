//go:build js && wasm

package client

import (
	"context"
	"syscall/js"

	"github.com/onertc/onertc/internal/wrap"
)

// sha256Sum hashes with the browser's Web Crypto instead of crypto/sha256, which would bring
// Go's whole FIPS 140 module into the app (+212 KB, +62 KB gzipped) for one hash per call.
// It waits for a promise, so it must not run on the JS event loop's own goroutine (a
// callback); the call machine computes the code aside.
func sha256Sum(data []byte) ([32]byte, error) {
	var sum [32]byte
	subtle := js.Global().Get("crypto")
	if subtle.Type() == js.TypeObject {
		subtle = subtle.Get("subtle")
	}
	if subtle.Type() != js.TypeObject {
		return sum, wrap.Error("sha-256: no Web Crypto here (the page is not a secure context)")
	}
	in := js.Global().Get("Uint8Array").New(len(data))
	js.CopyBytesToJS(in, data)
	promise, err := call(subtle, "digest", "SHA-256", in)
	if err != nil {
		return sum, wrap.Error("sha-256: ", err)
	}
	buf, err := await(context.Background(), promise)
	if err != nil {
		return sum, wrap.Error("sha-256: ", err)
	}
	out := js.Global().Get("Uint8Array").New(buf)
	if out.Length() != len(sum) {
		return sum, wrap.Error("sha-256: digest of ", out.Length(), " bytes")
	}
	js.CopyBytesToGo(sum[:], out)
	return sum, nil
}
