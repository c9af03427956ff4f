//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/web/roomname"
)

// The display name others see on this side's tile in group calls: typed once on the
// "Ready to join?" card and remembered in localStorage; until then a generated one.

// storedName is the remembered name, "" without one (or without storage).
func storedName() string {
	v, err := try(js.Global().Get("localStorage"), "getItem", nameKey)
	if err != nil || v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// fillName puts the remembered name, or a new generated one, in the name box.
func fillName() {
	in := byID("name-input")
	if !in.Truthy() {
		return
	}
	n := storedName()
	if n == "" {
		n = guestName(roomname.Random())
	}
	in.Set("value", n)
}

// chosenName is the name box's name (the generated fallback when it holds none the server
// would take), remembered for the next call.
func (r *room) chosenName() string {
	in := byID("name-input")
	typed := ""
	if in.Truthy() {
		typed = in.Get("value").String()
	}
	fallback := storedName()
	if !validName(fallback) {
		fallback = guestName(roomname.Random())
	}
	n := displayName(typed, fallback)
	if in.Truthy() {
		in.Set("value", n)
	}
	if _, err := try(js.Global().Get("localStorage"), "setItem", nameKey, n); err != nil {
		r.log.Debug("name not remembered", "err", err) // storage off: the call goes on
	}
	return n
}

func validName(n string) bool { return displayName(n, "") != "" }
