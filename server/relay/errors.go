package relay

import (
	"errors"

	"github.com/onertc/onertc/protocol"
)

// Errors of the relay; their texts are what Collider clients see.
var (
	ErrUnknownClient = errors.New(protocol.ErrTextUnknownClient)
	ErrQueueFull     = errors.New(protocol.ErrTextQueueFull)
	ErrTooLarge      = errors.New(protocol.ErrTextTooLarge)
	ErrClosed        = errors.New(protocol.ErrTextClosed)
	// ErrUnavailable is what a client is told when the state cannot be reached.
	ErrUnavailable = errors.New(protocol.ErrTextUnavailable)
)
