//go:build js && wasm

package jsjson

import (
	"syscall/js"

	"github.com/onertc/onertc/protocol"
)

// GroupMessage reads a protocol.GroupMessage (without protocol.ParseGroupMessage's checks:
// the browser reads the server's frames, which that function refuses).
func (d *Decoder) GroupMessage(v js.Value) protocol.GroupMessage {
	var m protocol.GroupMessage
	if !d.Object(v) {
		return m
	}
	m.Type = d.String(v, "type")
	m.PC = d.String(v, "pc")
	m.SDP = d.String(v, "sdp")
	m.Candidate = d.GroupICECandidate(v.Get("candidate"))
	m.ID = d.String(v, "id")
	m.Participants = d.GroupParticipants(v, "participants")
	m.Participant = d.String(v, "participant")
	m.Layer = d.String(v, "layer")
	m.Width = d.Int(v, "width")
	m.Height = d.Int(v, "height")
	m.Muted = d.BoolPtr(v, "muted")
	m.CameraOff = d.BoolPtr(v, "cameraOff")
	m.Resume = d.Bool(v, "resume")
	m.Screen = d.String(v, "screen")
	m.Name = d.String(v, "name")
	m.Text = d.String(v, "text")
	m.Code = d.String(v, "code")
	m.Message = d.String(v, "message")
	return m
}

// GroupICECandidate reads a *protocol.GroupICECandidate: nil for null or absent, as
// encoding/json leaves a pointer, and a new value for any object, {} included.
func (d *Decoder) GroupICECandidate(v js.Value) *protocol.GroupICECandidate {
	if !d.Object(v) {
		return nil
	}
	return &protocol.GroupICECandidate{
		Candidate:     d.String(v, "candidate"),
		SDPMid:        d.StringPtr(v, "sdpMid"),
		SDPMLineIndex: d.Uint16Ptr(v, "sdpMLineIndex"),
	}
}

// GroupParticipants reads the array of protocol.GroupParticipant at obj[key]; a null
// element is the zero participant.
func (d *Decoder) GroupParticipants(obj js.Value, key string) []protocol.GroupParticipant {
	arr, n := d.Array(obj, key)
	if n < 0 {
		return nil
	}
	out := make([]protocol.GroupParticipant, n)
	for i := range out {
		if e := arr.Index(i); d.Object(e) {
			out[i] = protocol.GroupParticipant{ID: d.String(e, "id"), Name: d.String(e, "name"),
				Muted: d.Bool(e, "muted"), CameraOff: d.Bool(e, "cameraOff")}
		}
	}
	return out
}

// EncodeGroupMessage writes m as encoding/json does.
func EncodeGroupMessage(m protocol.GroupMessage) string {
	o := NewObject()
	setString(o, "type", m.Type, false)
	setString(o, "pc", m.PC, true)
	setString(o, "sdp", m.SDP, true)
	if c := m.Candidate; c != nil {
		co := NewObject()
		setString(co, "candidate", c.Candidate, false)
		if c.SDPMid != nil {
			co.Set("sdpMid", *c.SDPMid)
		}
		if c.SDPMLineIndex != nil {
			co.Set("sdpMLineIndex", int(*c.SDPMLineIndex))
		}
		o.Set("candidate", co)
	}
	setString(o, "id", m.ID, true)
	if len(m.Participants) > 0 {
		arr := js.Global().Get("Array").New(len(m.Participants))
		for i, p := range m.Participants {
			po := NewObject()
			setString(po, "id", p.ID, false)
			setString(po, "name", p.Name, false)
			po.Set("muted", p.Muted)
			po.Set("cameraOff", p.CameraOff)
			arr.SetIndex(i, po)
		}
		o.Set("participants", arr)
	}
	setString(o, "participant", m.Participant, true)
	setString(o, "layer", m.Layer, true)
	if m.Width != 0 {
		o.Set("width", m.Width)
	}
	if m.Height != 0 {
		o.Set("height", m.Height)
	}
	if m.Muted != nil {
		o.Set("muted", *m.Muted)
	}
	if m.CameraOff != nil {
		o.Set("cameraOff", *m.CameraOff)
	}
	if m.Resume {
		o.Set("resume", true)
	}
	setString(o, "screen", m.Screen, true)
	setString(o, "name", m.Name, true)
	setString(o, "text", m.Text, true)
	setString(o, "code", m.Code, true)
	setString(o, "message", m.Message, true)
	return Stringify(o)
}
