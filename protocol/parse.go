//go:build !js

package protocol

import "encoding/json"

// The parsers of what the network sends, for the server and the native clients. The browser
// app decodes with client/jsjson instead, held to these parsers by its tests (DecodeSignal,
// client/jsjson's tests): encoding/json, with the fmt and reflection it brings, costs the app
// about 27 KB of brotli.

// ParseSignal decodes a call payload and checks that it carries what its type needs.
func ParseSignal(raw string) (Signal, error) { return DecodeSignal(raw, json.Unmarshal) }

// ParseGroupMessage decodes a client → server frame and checks that it carries what its type
// needs (checkGroupMessage).
func ParseGroupMessage(data []byte) (GroupMessage, error) {
	var m GroupMessage
	if len(data) > MaxGroupFrameBytes {
		return m, &GroupFrameError{Code: GroupErrTooLarge, Reason: "frame over the size limit"}
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, &GroupFrameError{Code: GroupErrMalformed, Reason: "not a JSON object of the group protocol"}
	}
	return checkGroupMessage(m)
}
