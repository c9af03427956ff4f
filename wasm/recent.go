//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
	"github.com/onertc/onertc/internal/wrap"
)

// recentKey is the localStorage key of the recent rooms, a JSON array of room ids.
const recentKey = "onertc.recentRooms"

// recentRooms reads the recently joined rooms, newest first. localStorage can be missing or
// throw (storage disabled, private mode): then there are none.
func recentRooms() []string {
	v, err := try(js.Global().Get("localStorage"), "getItem", recentKey)
	if err != nil || v.Type() != js.TypeString {
		return nil
	}
	return decodeRecent(v)
}

// decodeRecent reads the stored list (a Go or JS string); what is not a JSON array of
// strings is no list at all.
func decodeRecent(text any) []string {
	rooms, err := jsjson.Decode(text, (*jsjson.Decoder).StringSlice)
	if err != nil {
		return nil
	}
	return keepRecent(rooms)
}

func encodeRecent(rooms []string) string {
	list := make([]any, len(rooms))
	for i, r := range rooms {
		list[i] = r
	}
	return jsjson.Stringify(js.ValueOf(list))
}

// rememberRoom puts room first in the recent list.
func rememberRoom(room string) error {
	_, err := try(js.Global().Get("localStorage"), "setItem", recentKey, encodeRecent(pushRecent(room, recentRooms())))
	if err != nil {
		return wrap.Error("remember room ", room, ": ", err)
	}
	return nil
}
