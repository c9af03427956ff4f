//go:build !js

package client

import (
	"encoding/json"

	"github.com/onertc/onertc/protocol"
)

func encodeSignal(s protocol.Signal) string {
	b, err := json.Marshal(s)
	if err != nil {
		// A struct of strings and an int always marshals.
		panic("client: marshal signal: " + err.Error())
	}
	return string(b)
}

func parseSignal(raw string) (protocol.Signal, error) { return protocol.ParseSignal(raw) }

func parsePCConfig(text string) (pcConfig, error) {
	var c pcConfig
	err := json.Unmarshal([]byte(text), &c)
	return c, err
}
