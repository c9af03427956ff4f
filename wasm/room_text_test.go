//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/onertc/onertc/client"
)

func TestEndedView(t *testing.T) {
	broke := errors.New("relay closed the connection")
	for _, tc := range []struct {
		name   string
		err    error
		joined bool
		want   endView
	}{
		{"hung up", nil, true, endView{stateEnded, "You left the call", "Rejoin the room, or start a new one.", "Rejoin"}},
		{"full", client.ErrRoomFull, false, endView{stateFull, "This room is full", "Room abc has as many people as it can hold. Try again later, or start a new room.", "Try again"}},
		{"full, wrapped", fmt.Errorf("join: %w", client.ErrRoomFull), true,
			endView{stateFull, "This room is full", "Room abc has as many people as it can hold. Try again later, or start a new room.", "Try again"}},
		{"server never reached", broke, false,
			endView{stateError, "Cannot reach the server", "Check your connection and try again. (relay closed the connection)", "Try again"}},
		{"broke during the call", broke, true, endView{stateError, "The call ended", "relay closed the connection", "Try again"}},
	} {
		if got := endedView(tc.err, tc.joined, "abc"); got != tc.want {
			t.Errorf("%s: endedView = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
