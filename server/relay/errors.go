package relay

import (
	"errors"

	"github.com/onertc/onertc/protocol"
)

// Errors of the relay; their texts are what Collider clients see.
var (
	ErrUnknownClient = errors.New(protocol.ErrTextUnknownClient)
	ErrQueueFull     = errors.New("Message queue full")
	ErrTooLarge      = errors.New("Message too large")
	ErrClosed        = errors.New("Relay shutting down")
)
