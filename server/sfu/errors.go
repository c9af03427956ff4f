package sfu

import "errors"

// Errors of the SFU, wrapped with context where they are returned.
var (
	// ErrConfig is a configuration New refuses.
	ErrConfig = errors.New("sfu: bad configuration")
	// ErrClosed is the answer of an SFU that Close has ended.
	ErrClosed = errors.New("sfu: closed")
	// ErrRoomFull and ErrServerFull refuse a join over MaxPerRoom or MaxTotal.
	ErrRoomFull   = errors.New("sfu: room full")
	ErrServerFull = errors.New("sfu: server full")
	// errBadOffer and its kin refuse a participant's SDP; the text goes to its error frame.
	errSDP           = errors.New("SDP")
	errNoCodec       = errors.New("no usable codec")
	errTooManyTracks = errors.New("too many tracks")
)
