//go:build js && wasm

package roomname

import "syscall/js"

// Random returns a new random name (see Encode), from the browser's crypto.getRandomValues.
func Random() string {
	arr := js.Global().Get("Uint8Array").New(12)
	js.Global().Get("crypto").Call("getRandomValues", arr)
	var b [12]byte
	js.CopyBytesToGo(b[:], arr)
	return Encode(b)
}
