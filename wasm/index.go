//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/web/roomname"
)

// startIndex runs the room selection: validation as you type, Enter or Join to go to the
// room, a random name, recent rooms.
func startIndex(u *ui) {
	input, button, msg := byID("room-id-input"), byID("join-button"), byID("room-id-message")
	validate := func() bool {
		problem := roomname.Problem(input.Get("value").String())
		valid := problem == ""
		if valid {
			problem = "Press Enter or Join to open the room."
		}
		setText(msg, problem)
		msg.Get("classList").Call("toggle", "invalid", !valid)
		msg.Get("classList").Call("toggle", "valid", valid)
		input.Get("classList").Call("toggle", "invalid", !valid)
		input.Call("setAttribute", "aria-invalid", !valid)
		button.Set("disabled", !valid)
		return valid
	}
	u.on(input, "input", func(js.Value) { validate() })
	u.on(byID("random-button"), "click", func(js.Value) {
		input.Set("value", roomname.Random())
		validate()
		input.Call("focus")
	})
	// The form submits by Enter or the button. preventDefault must run inside the event,
	// and the check is cheap, so this listener is synchronous.
	listen(byID("room-form"), "submit", func(ev js.Value) {
		ev.Call("preventDefault")
		if !validate() {
			input.Call("focus")
			return
		}
		// The page's own query (?it=relay, ?hd=true, …) carries over into the room.
		js.Global().Get("location").Call("assign", roomPath(input.Get("value").String())+
			js.Global().Get("location").Get("search").String())
	})
	validate()
	showRecent()
	input.Call("focus")
	input.Call("select")
}

func showRecent() {
	rooms := recentRooms()
	list := byID("recent-list")
	if len(rooms) == 0 || !list.Truthy() {
		return
	}
	for _, r := range rooms {
		li := doc().Call("createElement", "li")
		a := doc().Call("createElement", "a")
		a.Set("href", roomPath(r))
		a.Set("textContent", r)
		li.Call("appendChild", a)
		list.Call("appendChild", li)
	}
	setHidden(byID("recent"), false)
}
