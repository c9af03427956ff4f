//go:build js && wasm

package main

import "syscall/js"

// pathEscape is encodeURIComponent: for room and client ids ([a-zA-Z0-9_-]) the same as
// url.PathEscape, without linking net/url.
func pathEscape(s string) string {
	return js.Global().Call("encodeURIComponent", s).String()
}

// roomPath is the room page of room.
func roomPath(room string) string { return "/r/" + pathEscape(room) }

// leavePath is where the leave beacon of client in room goes.
func leavePath(room, client string) string {
	return "/leave/" + pathEscape(room) + "/" + pathEscape(client)
}

// queryParam is a parameter of the page's URL.
func queryParam(name string) string {
	return searchParam(js.Global().Get("location").Get("search").String(), name)
}

// searchParam is the first value of name in a query ("?a=1&b=2", the "?" optional),
// decoded as forms are ("+" is a space); "" when absent.
func searchParam(search, name string) string {
	v := js.Global().Get("URLSearchParams").New(search).Call("get", name)
	if v.IsNull() {
		return ""
	}
	return v.String()
}

// invitePath makes an invite link to room (POST).
func invitePath(room string) string { return "/invite/" + pathEscape(room) }
