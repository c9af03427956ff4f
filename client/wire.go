package client

import "github.com/onertc/onertc/protocol"

// The JSON the call itself reads and writes goes through three functions with one version
// per build: encoding/json natively (wire_std.go), the browser's JSON in js/wasm
// (wire_js.go), which keeps encoding/json out of the browser app.
//
//	encodeSignal(s protocol.Signal) string
//	parseSignal(raw string) (protocol.Signal, error) // protocol.ParseSignal's contract
//	parsePCConfig(pcConfig string) (pcConfig, error)

// pcConfig is what a call reads of the join parameters' pc_config (RTCConfiguration JSON).
type pcConfig struct {
	ICEServers []protocol.ICEServer `json:"iceServers"`
	// ICETransports is AppRTC's name (?it=relay); ICETransportPolicy the standard one.
	ICETransports      string `json:"iceTransports"`
	ICETransportPolicy string `json:"iceTransportPolicy"`
}
