//go:build js && wasm

package main

import (
	"errors"

	"github.com/onertc/onertc/client"
)

// endView is the room page after a call: the view and what it says.
type endView struct {
	state, title, detail, button string
}

// endedView is the view for a call whose Run returned err; joined tells a server that was
// never reached from a call that broke later.
func endedView(err error, joined bool, room string) endView {
	switch {
	case err == nil:
		return endView{stateEnded, "You left the call", "Rejoin the room, or start a new one.", "Rejoin"}
	case errors.Is(err, client.ErrRoomFull):
		return endView{stateFull, "This room is full", "Room " + room + " has as many people as it can hold. Try again later, or start a new room.", "Try again"}
	case !joined:
		return endView{stateError, "Cannot reach the server", "Check your connection and try again. (" + err.Error() + ")", "Try again"}
	}
	return endView{stateError, "The call ended", err.Error(), "Try again"}
}
