package client

import (
	"errors"
	"strconv"

	"github.com/onertc/onertc/internal/wrap"
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
	// ErrForgotten: the server no longer holds this client (it was away longer than the
	// server's grace period); Run joins again by itself a few times before returning it.
	ErrForgotten = errors.New("the server no longer holds this client")
	// ErrBadConfig: a Config or transport option is invalid.
	ErrBadConfig = errors.New("invalid client configuration")
	// ErrHTTPStatus: a server answered with an unexpected HTTP status.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
	// ErrUnavailable: the server answered 503, a refusal for now (it is restarting, or
	// cannot reach its database); it wraps ErrHTTPStatus's error too.
	ErrUnavailable = errors.New("service unavailable")
	// ErrPasswordRefused: the server in password mode did not take the password.
	ErrPasswordRefused = errors.New("password refused")
	// ErrInviteRefused: the server did not take the invite link (expired, or not its own).
	ErrInviteRefused = errors.New("invite link refused")
	// ErrNoPassword: SignIn was asked of a server that asks for no password (open mode).
	ErrNoPassword = errors.New("the server asks for no password (open mode)")
)

// JoinError is the refusal of a /join. It matches ErrRoomFull for FULL and ErrJoinRefused
// otherwise.
type JoinError struct {
	Room   string
	Result string
}

func (e *JoinError) Error() string {
	return "join room " + strconv.Quote(e.Room) + ": " + e.Result
}

// Is makes errors.Is(err, ErrRoomFull) true for a FULL result.
func (e *JoinError) Is(target error) bool {
	if target == ErrRoomFull {
		return e.Result == "FULL"
	}
	return target == ErrJoinRefused
}

// statusError is the error of an unexpected HTTP status: ErrHTTPStatus, and ErrUnavailable
// for a 503.
func statusError(code int) error {
	if code == 503 {
		return wrap.Error(ErrHTTPStatus, " ", code, ": ", ErrUnavailable)
	}
	return wrap.Error(ErrHTTPStatus, " ", code)
}
