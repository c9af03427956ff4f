//go:build js && wasm

// These tests run under node:
//
//	GOOS=js GOARCH=wasm go test -exec="$(go env GOROOT)/lib/wasm/go_js_wasm_exec" ./client/...
//
// They hold the js mapping to encoding/json, which only the tests may link.
package jsjson

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"syscall/js"
	"testing"

	"github.com/onertc/onertc/protocol"
)

// tricky is text that JSON must escape, or that encoding/json and JSON.stringify escape
// differently (<, >, &, U+2028), or that is not ASCII.
const tricky = "a\"b\\c\nd\te\u0001f<g>h&i\u2028j é 🎥 \r\n"

// checkDecode decodes each input with read and with encoding/json: both must fail, or both
// succeed with the same value.
func checkDecode[T any](t *testing.T, read func(*Decoder, js.Value) T, inputs ...string) {
	t.Helper()
	for _, in := range inputs {
		got, err := Decode(in, read)
		var want T
		wantErr := json.Unmarshal([]byte(in), &want)
		switch {
		case (err != nil) != (wantErr != nil):
			t.Errorf("%.120s: jsjson err = %v, encoding/json err = %v", in, err, wantErr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Errorf("%.120s:\n jsjson        %#v\n encoding/json %#v", in, got, want)
		}
	}
}

// filled returns a T whose every string field (nested too) holds a distinct value, every
// integer its name's length, every bool true and every slice two elements, so that a field the mapping misses or misnames shows up.
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), "")
	return v
}

func fill(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(name + " " + tricky)
	case reflect.Int:
		v.SetInt(int64(len(name)))
	case reflect.Uint16:
		v.SetUint(uint64(len(name)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), name)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), name+string(rune('0'+i)))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), name+"."+v.Type().Field(i).Name)
		}
	default:
		panic("fill: unsupported kind " + v.Kind().String())
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mismatches are inputs of the wrong JSON type for any struct, and broken JSON.
var mismatches = []string{`[]`, `"x"`, `5`, `true`, `{`, ``, `{"a":1,}`, `null`, `{}`}

func TestJoinResponse(t *testing.T) {
	full := protocol.JoinResponse{Result: protocol.ResultSuccess, Params: filled[protocol.RoomParams]()}
	checkDecode(t, (*Decoder).JoinResponse, mismatches...)
	checkDecode(t, (*Decoder).JoinResponse,
		marshal(t, full),
		marshal(t, protocol.NewJoinError(protocol.ResultFull)),
		marshal(t, protocol.JoinResponse{}),
		`{"result":"SUCCESS","params":null}`,
		`{"result":null,"params":{"messages":null,"error_messages":[]}}`,
		`{"params":{"messages":["{\"type\":\"bye\"}",null,"\u00e9\ud83c\udfa5"]}}`,
		`{"result":"SUCCESS","unknown":{"deep":[1,2,{"x":null}]}}`,
		`{"result":1}`,
		`{"result":["SUCCESS"]}`,
		`{"params":[]}`,
		`{"params":"x"}`,
		`{"params":{"messages":"x"}}`,
		`{"params":{"messages":[1]}}`,
		`{"params":{"messages":{}}}`,
		`{"params":{"is_initiator":true}}`,
	)
}

func TestParams(t *testing.T) {
	checkDecode(t, (*Decoder).Params, mismatches...)
	checkDecode(t, (*Decoder).Params, marshal(t, filled[protocol.Params]()), marshal(t, protocol.Params{}))
	checkDecode(t, (*Decoder).RoomParams, mismatches...)
	checkDecode(t, (*Decoder).RoomParams, marshal(t, filled[protocol.RoomParams]()), marshal(t, protocol.RoomParams{}))
}

func TestSmallResponses(t *testing.T) {
	checkDecode(t, (*Decoder).MessageResponse, mismatches...)
	checkDecode(t, (*Decoder).MessageResponse, `{"result":"SUCCESS"}`, `{"result":"UNKNOWN_CLIENT"}`,
		`{"result":false}`, marshal(t, filled[protocol.MessageResponse]()))
	checkDecode(t, (*Decoder).RelayFrame, mismatches...)
	checkDecode(t, (*Decoder).RelayFrame, `{"msg":"{\"type\":\"bye\"}","error":""}`,
		`{"msg":"","error":"`+protocol.ErrTextRoomFull+`"}`, `{"msg":{},"error":""}`,
		marshal(t, filled[protocol.RelayFrame]()))
	checkDecode(t, (*Decoder).ICEConfig, mismatches...)
	checkDecode(t, (*Decoder).ICEConfig,
		marshal(t, filled[protocol.ICEConfig]()),
		`{"iceServers":[]}`, `{"iceServers":null}`, `{"iceServers":[null,{}]}`,
		`{"iceServers":[{"urls":["turn:127.0.0.1:3478?transport=udp"],"username":"1:u","credential":"p"}]}`,
		`{"iceServers":[{"urls":"turn:x"}]}`, `{"iceServers":{}}`, `{"iceServers":[1]}`,
		`{"iceServers":[{"urls":[null]}]}`)
}

func TestSignalDecode(t *testing.T) {
	checkDecode(t, (*Decoder).Signal, mismatches...)
	checkDecode(t, (*Decoder).Signal,
		marshal(t, filled[protocol.Signal]()),
		`{"type":"offer","sdp":"v=0\r\na=fingerprint:sha-256 AB\r\n"}`,
		`{"type":"candidate","label":0,"id":"0","candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host"}`,
		`{"type":"candidate","label":-3}`, `{"type":"candidate","label":null}`,
		`{"type":"candidate","label":1.5}`, `{"type":"candidate","label":"1"}`,
		`{"type":"candidate","label":1e300}`, `{"type":"candidate","label":true}`,
		`{"type":"bye"}`, `{"type":7}`, `{"sdp":null,"id":null}`)
}

func TestSignalEncode(t *testing.T) {
	zero, two := 0, 2
	for _, s := range []protocol.Signal{
		{Type: protocol.TypeBye},
		{Type: protocol.TypeOffer, SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"},
		{Type: protocol.TypeCandidate, Label: &zero, ID: "0", Candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host"},
		{Type: protocol.TypeCandidate, Label: &two, Candidate: "candidate:x"},
		{},
		filled[protocol.Signal](),
	} {
		checkEncode(t, s, EncodeSignal(s))
		if back, err := Decode(EncodeSignal(s), (*Decoder).Signal); err != nil || !reflect.DeepEqual(back, s) {
			t.Errorf("round trip of %+v: %+v, %v", s, back, err)
		}
	}
}

// readRelayRequest is the server's side of a relay request, for the round trip.
func readRelayRequest(d *Decoder, v js.Value) protocol.RelayRequest {
	var r protocol.RelayRequest
	if d.Object(v) {
		r = protocol.RelayRequest{Cmd: d.String(v, "cmd"), RoomID: d.String(v, "roomid"),
			ClientID: d.String(v, "clientid"), Msg: d.String(v, "msg")}
	}
	return r
}

func TestRelayRequestEncode(t *testing.T) {
	for _, r := range []protocol.RelayRequest{
		{Cmd: protocol.CmdRegister, RoomID: "room-1", ClientID: "c_1"},
		{Cmd: protocol.CmdSend, Msg: `{"type":"bye"}`},
		{},
		filled[protocol.RelayRequest](),
	} {
		checkEncode(t, r, EncodeRelayRequest(r))
		if back, err := Decode(EncodeRelayRequest(r), readRelayRequest); err != nil || back != r {
			t.Errorf("round trip of %+v: %+v, %v", r, back, err)
		}
	}
	checkDecode(t, readRelayRequest, marshal(t, filled[protocol.RelayRequest]()))
}

// checkEncode compares got, the js encoding of v, with encoding/json's: the same value once
// decoded, and the same bytes unless encoding/json escaped <, >, &, U+2028 or U+2029 (which
// JSON.stringify writes as they are).
func checkEncode[T any](t *testing.T, v T, got string) {
	t.Helper()
	want := marshal(t, v)
	var back T
	if err := json.Unmarshal([]byte(got), &back); err != nil || !reflect.DeepEqual(back, v) {
		t.Errorf("encoding/json reads %s as %+v (%v), want %+v", got, back, err, v)
	}
	htmlSafe := regexp.MustCompile(`\\u(003c|003e|0026|2028|2029)`)
	if !htmlSafe.MatchString(want) && got != want {
		t.Errorf("encoded\n %s\nwant\n %s", got, want)
	}
}

func TestStringSlice(t *testing.T) {
	checkDecode(t, (*Decoder).StringSlice, `["a","b"]`, `[]`, `null`, `[null]`, `{}`, `[1]`, `"a"`, `["`+strings.Repeat("x", 1000)+`"]`)
}

func TestParseError(t *testing.T) {
	if _, err := Parse("{"); err == nil || !strings.HasPrefix(err.Error(), "jsjson: ") {
		t.Errorf("Parse({) err = %v", err)
	}
	var d Decoder
	d.String(NewObject(), "missing")
	if d.Err() != nil {
		t.Errorf("absent key: %v", d.Err())
	}
	v, _ := Parse(`{"a":[1]}`)
	d.String(v, "a")
	var te *TypeError
	if e, ok := d.Err().(*TypeError); !ok || e.Field != "a" || e.Got != "array" {
		t.Errorf("err = %#v", d.Err())
	} else {
		te = e
	}
	if te != nil && te.Error() != "jsjson: field a: cannot read array as string" {
		t.Errorf("message %q", te.Error())
	}
}

func TestGroupMessageDecode(t *testing.T) {
	checkDecode(t, (*Decoder).GroupMessage, mismatches...)
	checkDecode(t, (*Decoder).GroupMessage,
		marshal(t, filled[protocol.GroupMessage]()),
		marshal(t, protocol.GroupMessage{}),
		`{"type":"welcome","id":"p1","participants":[{"id":"p1","name":"Ann","muted":true,"cameraOff":false},{"id":"p2","name":"Bob","muted":false,"cameraOff":true}],"resume":true}`,
		`{"type":"participants","participants":[]}`,
		`{"type":"participants","participants":null}`,
		`{"type":"participants","participants":[null,{}]}`,
		`{"type":"participants","participants":[{"id":null,"name":null,"muted":null,"cameraOff":null}]}`,
		`{"type":"participants","participants":{}}`,
		`{"type":"participants","participants":"p1"}`,
		`{"type":"participants","participants":[1]}`,
		`{"type":"participants","participants":[[]]}`,
		`{"type":"participants","participants":[{"id":1}]}`,
		`{"type":"participants","participants":[{"name":true}]}`,
		`{"type":"participants","participants":[{"muted":"true"}]}`,
		`{"type":"participants","participants":[{"cameraOff":1}]}`,
		`{"type":"candidate","pc":"down","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"candidate","pc":"up","candidate":{"candidate":"","sdpMid":"","sdpMLineIndex":65535}}`,
		`{"type":"candidate","candidate":{}}`,
		`{"type":"candidate","candidate":null}`,
		`{"type":"candidate","candidate":{"candidate":null,"sdpMid":null,"sdpMLineIndex":null}}`,
		`{"type":"candidate","candidate":"candidate:1"}`,
		`{"type":"candidate","candidate":[]}`,
		`{"type":"candidate","candidate":{"candidate":1}}`,
		`{"type":"candidate","candidate":{"sdpMid":0}}`,
		`{"type":"candidate","candidate":{"sdpMLineIndex":"0"}}`,
		`{"type":"candidate","candidate":{"sdpMLineIndex":-1}}`,
		`{"type":"candidate","candidate":{"sdpMLineIndex":65536}}`,
		`{"type":"candidate","candidate":{"sdpMLineIndex":1.5}}`,
		`{"type":"candidate","candidate":{"sdpMLineIndex":true}}`,
		`{"type":"offer","pc":"up","sdp":"v=0\r\na=mid:1\r\n","screen":"1"}`,
		`{"type":"answer","pc":"down","sdp":"v=0\r\n"}`,
		`{"type":"view","participant":"p2","width":640,"height":360}`,
		`{"type":"view","participant":"p2","width":-1,"height":0}`,
		`{"type":"view","width":null,"height":null}`,
		`{"type":"view","width":"640"}`,
		`{"type":"view","height":true}`,
		`{"type":"view","width":1.5}`,
		`{"type":"view","height":1e300}`,
		`{"type":"layer","participant":"p2","layer":"h","width":1280,"height":720}`,
		`{"type":"state","muted":false}`,
		`{"type":"state","muted":true,"cameraOff":false}`,
		`{"type":"state","cameraOff":true}`,
		`{"type":"state","muted":null,"cameraOff":null}`,
		`{"type":"state","muted":"false"}`,
		`{"type":"state","cameraOff":0}`,
		`{"type":"join","resume":true}`,
		`{"type":"join","resume":null}`,
		`{"type":"join","resume":"yes"}`,
		`{"type":"speaker","participant":""}`,
		`{"type":"error","code":"bad-field","message":"view size out of range"}`,
		`{"type":"bye","code":"replaced","message":"`+tricky+`"}`,
		`{"type":1}`, `{"pc":[]}`, `{"sdp":{}}`, `{"id":2}`, `{"participant":false}`,
		`{"layer":1}`, `{"screen":1}`, `{"name":2}`, `{"text":[]}`, `{"code":[]}`, `{"message":{}}`,
		`{"type":null,"pc":null,"sdp":null,"id":null,"participant":null,"layer":null,"screen":null,"name":null,"text":null,"code":null,"message":null}`,
		`{"type":"welcome","unknown":{"deep":[1,2,{"x":null}]}}`,
	)
}

func TestGroupMessageEncode(t *testing.T) {
	yes, no := true, false
	mid, zero, two := "0", uint16(0), uint16(2)
	empty := ""
	for _, m := range []protocol.GroupMessage{
		{Type: protocol.GroupJoin},
		{Type: protocol.GroupJoin, Resume: true},
		{Type: protocol.GroupWelcome, ID: "p1", Resume: true, Participants: []protocol.GroupParticipant{
			{ID: "p1", Name: "Ann", Muted: true},
			{ID: "p2", Name: tricky, CameraOff: true},
			{},
		}},
		{Type: protocol.GroupParticipants, Participants: []protocol.GroupParticipant{{ID: "p3", Name: "Cy", Muted: true, CameraOff: true}}},
		{Type: protocol.GroupOffer, PC: protocol.PCUp, SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=mid:1\r\n", Screen: "1"},
		{Type: protocol.GroupAnswer, PC: protocol.PCDown, SDP: "v=0\r\n"},
		{Type: protocol.GroupCandidate, PC: protocol.PCDown, Candidate: &protocol.GroupICECandidate{
			Candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host", SDPMid: &mid, SDPMLineIndex: &zero}},
		{Type: protocol.GroupCandidate, PC: protocol.PCUp, Candidate: &protocol.GroupICECandidate{SDPMid: &empty, SDPMLineIndex: &two}},
		{Type: protocol.GroupCandidate, PC: protocol.PCUp, Candidate: &protocol.GroupICECandidate{}},
		{Type: protocol.GroupState, Muted: &no},
		{Type: protocol.GroupState, Muted: &yes, CameraOff: &no},
		{Type: protocol.GroupState, CameraOff: &yes},
		{Type: protocol.GroupView, Participant: "p2", Width: 640, Height: 360},
		{Type: protocol.GroupView, Participant: "p2", Width: -1},
		{Type: protocol.GroupLayer, Participant: "p2", Layer: "h", Height: 720},
		{Type: protocol.GroupSpeaker, Participant: "p2"},
		{Type: protocol.GroupChat, Text: "hi <b>all</b> 🎉"},
		{Type: protocol.GroupChat, Participant: "p2", Name: tricky, Text: tricky},
		{Type: protocol.GroupError, Code: protocol.GroupErrBadField, Message: "view size out of range"},
		{Type: protocol.GroupBye, Code: protocol.GroupErrDuplicate, Message: tricky},
		{},
		filled[protocol.GroupMessage](),
	} {
		got := EncodeGroupMessage(m)
		checkEncode(t, m, got)
		if back, err := Decode(got, (*Decoder).GroupMessage); err != nil || !reflect.DeepEqual(back, m) {
			t.Errorf("round trip of %+v: %+v, %v", m, back, err)
		}
	}
	// An empty list is left out, as encoding/json's omitempty does.
	m := protocol.GroupMessage{Type: protocol.GroupParticipants, Participants: []protocol.GroupParticipant{}}
	if got, want := EncodeGroupMessage(m), marshal(t, m); got != want {
		t.Errorf("empty participants: %s, want %s", got, want)
	}
}
