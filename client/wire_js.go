//go:build js && wasm

package client

import (
	"syscall/js"

	"github.com/onertc/onertc/client/jsjson"
	"github.com/onertc/onertc/protocol"
)

func encodeSignal(s protocol.Signal) string { return jsjson.EncodeSignal(s) }

// parseSignal is protocol.ParseSignal over the browser's JSON: the same size limit, the
// same checks and the same errors (the tests compare the two on good and bad payloads).
func parseSignal(raw string) (protocol.Signal, error) {
	if len(raw) > protocol.MaxMessageBytes {
		return protocol.Signal{}, &protocol.SignalError{Reason: "message too large"}
	}
	s, err := jsjson.Decode(raw, (*jsjson.Decoder).Signal)
	if err != nil {
		return s, &protocol.SignalError{Reason: "malformed JSON", Err: err}
	}
	return s, s.Check()
}

func parsePCConfig(text string) (pcConfig, error) {
	return jsjson.Decode(text, func(d *jsjson.Decoder, v js.Value) pcConfig {
		var c pcConfig
		if d.Object(v) {
			c.ICEServers = d.ICEServers(v, "iceServers")
			c.ICETransports = d.String(v, "iceTransports")
			c.ICETransportPolicy = d.String(v, "iceTransportPolicy")
		}
		return c
	})
}
