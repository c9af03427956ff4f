package client

import (
	"errors"
	"fmt"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrRoomFull: the room already holds two clients (join result FULL, or the relay's
	// "Max room capacity reached").
	ErrRoomFull = errors.New("room is full")
	// ErrJoinRefused: /join answered with a result other than SUCCESS or FULL.
	ErrJoinRefused = errors.New("join refused")
	// ErrMessageRejected: /message answered with a result other than SUCCESS.
	ErrMessageRejected = errors.New("message rejected")
	// ErrRelayLost: the relay socket could not be re-established within the reconnect window.
	ErrRelayLost = errors.New("relay connection lost")
	// ErrRelayRefused: the relay refused the registration.
	ErrRelayRefused = errors.New("relay refused registration")
	// ErrBadConfig: a Config or transport option is invalid.
	ErrBadConfig = errors.New("invalid client configuration")
	// ErrHTTPStatus: a server answered with an unexpected HTTP status.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
)

// JoinError is the refusal of a /join. It matches ErrRoomFull for FULL and ErrJoinRefused
// otherwise.
type JoinError struct {
	Room   string
	Result string
}

func (e *JoinError) Error() string {
	return fmt.Sprintf("join room %q: %s", e.Room, e.Result)
}

// Is makes errors.Is(err, ErrRoomFull) true for a FULL result.
func (e *JoinError) Is(target error) bool {
	if target == ErrRoomFull {
		return e.Result == "FULL"
	}
	return target == ErrJoinRefused
}
