//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
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
	rooms, err := jsjson.Decode(v, (*jsjson.Decoder).StringSlice)
	if err != nil {
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
	list := make([]any, len(rooms))
	for i, r := range rooms {
		list[i] = r
	}
	_, _ = try(js.Global().Get("localStorage"), "setItem", recentKey, jsjson.Stringify(js.ValueOf(list)))
}
