//go:build js && wasm

package jsjson

import (
	"syscall/js"

	"github.com/onertc/onertc/protocol"
)

// The readers below follow the struct tags in package protocol field by field; the tests
// compare them with encoding/json.

// JoinResponse reads a protocol.JoinResponse.
func (d *Decoder) JoinResponse(v js.Value) protocol.JoinResponse {
	var r protocol.JoinResponse
	if d.Object(v) {
		r.Result = d.String(v, "result")
		r.Params = d.RoomParams(v.Get("params"))
	}
	return r
}

// RoomParams reads a protocol.RoomParams.
func (d *Decoder) RoomParams(v js.Value) protocol.RoomParams {
	var p protocol.RoomParams
	if !d.Object(v) {
		return p
	}
	p.IsInitiator = d.String(v, "is_initiator")
	p.RoomID = d.String(v, "room_id")
	p.RoomLink = d.String(v, "room_link")
	p.ClientID = d.String(v, "client_id")
	p.Messages = d.Strings(v, "messages")
	p.RoomMode = d.String(v, "room_mode")
	p.GroupURL = d.String(v, "group_url")
	p.Params = d.Params(v)
	return p
}

// Params reads a protocol.Params.
func (d *Decoder) Params(v js.Value) protocol.Params {
	var p protocol.Params
	if !d.Object(v) {
		return p
	}
	p.PCConfig = d.String(v, "pc_config")
	p.PCConstraints = d.String(v, "pc_constraints")
	p.OfferOptions = d.String(v, "offer_options")
	p.MediaConstraints = d.String(v, "media_constraints")
	p.IsLoopback = d.String(v, "is_loopback")
	p.IncludeLoopbackJS = d.String(v, "include_loopback_js")
	p.BypassJoinConfirmation = d.String(v, "bypass_join_confirmation")
	p.VersionInfo = d.String(v, "version_info")
	p.WSSURL = d.String(v, "wss_url")
	p.WSSPostURL = d.String(v, "wss_post_url")
	p.ICEServerURL = d.String(v, "ice_server_url")
	p.ICEServerTransports = d.String(v, "ice_server_transports")
	p.ErrorMessages = d.Strings(v, "error_messages")
	p.WarningMessages = d.Strings(v, "warning_messages")
	p.HeaderMessage = d.String(v, "header_message")
	return p
}

// MessageResponse reads a protocol.MessageResponse.
func (d *Decoder) MessageResponse(v js.Value) protocol.MessageResponse {
	var r protocol.MessageResponse
	if d.Object(v) {
		r.Result = d.String(v, "result")
	}
	return r
}

// ICEConfig reads a protocol.ICEConfig.
func (d *Decoder) ICEConfig(v js.Value) protocol.ICEConfig {
	var c protocol.ICEConfig
	if d.Object(v) {
		c.ICEServers = d.ICEServers(v, "iceServers")
	}
	return c
}

// ICEServers reads the array of protocol.ICEServer at obj[key].
func (d *Decoder) ICEServers(obj js.Value, key string) []protocol.ICEServer {
	arr, n := d.Array(obj, key)
	if n < 0 {
		return nil
	}
	out := make([]protocol.ICEServer, n)
	for i := range out {
		if e := arr.Index(i); d.Object(e) {
			out[i] = protocol.ICEServer{URLs: d.Strings(e, "urls"),
				Username: d.String(e, "username"), Credential: d.String(e, "credential")}
		}
	}
	return out
}

// RelayFrame reads a protocol.RelayFrame.
func (d *Decoder) RelayFrame(v js.Value) protocol.RelayFrame {
	var f protocol.RelayFrame
	if d.Object(v) {
		f.Msg = d.String(v, "msg")
		f.Error = d.String(v, "error")
	}
	return f
}

// Signal reads a protocol.Signal (without protocol.ParseSignal's checks).
func (d *Decoder) Signal(v js.Value) protocol.Signal {
	var s protocol.Signal
	if d.Object(v) {
		s.Type = d.String(v, "type")
		s.SDP = d.String(v, "sdp")
		s.Label = d.IntPtr(v, "label")
		s.ID = d.String(v, "id")
		s.Candidate = d.String(v, "candidate")
		s.URL = d.String(v, "url")
	}
	return s
}

// EncodeRelayRequest writes r as encoding/json does.
func EncodeRelayRequest(r protocol.RelayRequest) string {
	o := NewObject()
	setString(o, "cmd", r.Cmd, false)
	setString(o, "roomid", r.RoomID, true)
	setString(o, "clientid", r.ClientID, true)
	setString(o, "msg", r.Msg, true)
	return Stringify(o)
}

// EncodeSignal writes s as encoding/json does.
func EncodeSignal(s protocol.Signal) string {
	o := NewObject()
	setString(o, "type", s.Type, false)
	setString(o, "sdp", s.SDP, true)
	if s.Label != nil {
		o.Set("label", *s.Label)
	}
	setString(o, "id", s.ID, true)
	setString(o, "candidate", s.Candidate, true)
	setString(o, "url", s.URL, true)
	return Stringify(o)
}
