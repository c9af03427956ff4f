//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"

	"github.com/onertc/onertc/protocol"
)

const (
	recentKey = "onertc.recentRooms"
	recentMax = 10
)

// recentRooms reads the recently joined rooms, newest first. localStorage can be missing or
// throw (storage disabled, private mode): then there are none.
func recentRooms() []string {
	v, err := try(js.Global().Get("localStorage"), "getItem", recentKey)
	if err != nil || v.Type() != js.TypeString {
		return nil
	}
	var rooms []string
	if json.Unmarshal([]byte(v.String()), &rooms) != nil {
		return nil
	}
	out := rooms[:0]
	for _, r := range rooms {
		if protocol.ValidID(r) && len(out) < recentMax {
			out = append(out, r)
		}
	}
	return out
}

// rememberRoom puts room first in the recent list, without duplicates, keeping at most 10.
func rememberRoom(room string) {
	rooms := []string{room}
	for _, r := range recentRooms() {
		if r != room && len(rooms) < recentMax {
			rooms = append(rooms, r)
		}
	}
	b, _ := json.Marshal(rooms) // a []string always marshals
	_, _ = try(js.Global().Get("localStorage"), "setItem", recentKey, string(b))
}
