//go:build js && wasm

package main

import (
	"reflect"
	"syscall/js"
	"testing"

	"github.com/onertc/onertc/client/jsjson"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/web/page"
)

func TestDeviceChoices(t *testing.T) {
	devs := []device{
		{"cam1", "Front camera", "videoinput"},
		{"mic1", "Headset", "audioinput"},
		{"cam2", "", "videoinput"},
		{"", "", "videoinput"}, // before access: no id, cannot be chosen
		{"spk", "Speakers", "audiooutput"},
		{"cam3", "Back camera", "videoinput"},
	}
	many := make([]device, 12)
	for i := range many {
		many[i] = device{id: string(rune('a' + i)), kind: "audioinput"}
	}
	for _, tc := range []struct {
		name             string
		devs             []device
		kind, label, cur string
		want             []choice
	}{
		{"cameras, the current one selected, unlabelled ones numbered by place", devs, "videoinput", "Camera", "cam3", []choice{
			{"Front camera", "cam1", false}, {"Camera 2", "cam2", false}, {"Back camera", "cam3", true},
		}},
		{"microphones, outputs left out", devs, "audioinput", "Microphone", "", []choice{{"Headset", "mic1", false}}},
		{"none", devs[3:5], "videoinput", "Camera", "", nil},
		{"more than nine unlabelled", many, "audioinput", "Microphone", "l", []choice{
			{"Microphone 1", "a", false}, {"Microphone 2", "b", false}, {"Microphone 3", "c", false}, {"Microphone 4", "d", false},
			{"Microphone 5", "e", false}, {"Microphone 6", "f", false}, {"Microphone 7", "g", false}, {"Microphone 8", "h", false},
			{"Microphone 9", "i", false}, {"Microphone 10", "j", false}, {"Microphone 11", "k", false}, {"Microphone 12", "l", true},
		}},
	} {
		if got := deviceChoices(tc.devs, tc.kind, tc.label, tc.cur); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, got, tc.want)
		}
	}
}

func TestCodecOrder(t *testing.T) {
	browser := []string{"video/VP8", "video/rtx", "video/VP9", "video/H264", "video/VP9", "video/AV1"}
	for _, tc := range []struct {
		kind, name string
		mimeTypes  []string
		want       []int
	}{
		{"video", "VP9", browser, []int{2, 4, 0, 1, 3, 5}},
		{"video", "vp9", browser, []int{2, 4, 0, 1, 3, 5}},
		{"video", "AV1", browser, []int{5, 0, 1, 2, 3, 4}},
		{"video", "VP8", browser, []int{0, 1, 2, 3, 4, 5}},
		{"video", "HEVC", browser, nil}, // the browser lacks it
		{"audio", "VP9", browser, nil},  // the kind is part of the name
		{"audio", "opus", []string{"audio/red", "audio/opus", "audio/G722"}, []int{1, 0, 2}},
		{"audio", "opus", nil, nil},
	} {
		if got := codecOrder(tc.mimeTypes, tc.kind, tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("codecOrder(%s/%s) = %v, want %v", tc.kind, tc.name, got, tc.want)
		}
	}
}

// TestConstraints: the page's media_constraints (?audio=, ?video=, ?hd=) as handed to
// getUserMedia, read with the browser's JSON.
func TestConstraints(t *testing.T) {
	for _, tc := range []struct {
		constraints  string
		audio, video string // JSON of what getUserMedia gets
		wantA, wantV bool   // whether a track of the kind is asked for
	}{
		{"", "true", "true", true, true},
		{`{"audio":true,"video":true}`, "true", "true", true, true},
		{`{"audio":false,"video":true}`, "false", "true", false, true},
		{`{"audio":true,"video":false}`, "true", "false", true, false},
		{`{"audio":true,"video":{"width":{"ideal":1280},"height":{"ideal":720}}}`, "true", `{"width":{"ideal":1280},"height":{"ideal":720}}`, true, true},
		{`{"video":null}`, "true", "true", true, true},
		{`not json`, "true", "true", true, true},
		{`[false]`, "true", "true", true, true},
		{`"audio"`, "true", "true", true, true},
		{`null`, "true", "true", true, true},
		{`7`, "true", "true", true, true},
	} {
		r := &room{cfg: page.Config{Page: page.Room, Params: &protocol.RoomParams{Params: protocol.Params{MediaConstraints: tc.constraints}}}}
		audio, video := r.constraints()
		if got := jsonOf(t, audio); got != tc.audio {
			t.Errorf("%s: audio constraint %s, want %s", tc.constraints, got, tc.audio)
		}
		if got := jsonOf(t, video); got != tc.video {
			t.Errorf("%s: video constraint %s, want %s", tc.constraints, got, tc.video)
		}
		if wanted(audio) != tc.wantA || wanted(video) != tc.wantV {
			t.Errorf("%s: wanted = %v, %v; want %v, %v", tc.constraints, wanted(audio), wanted(video), tc.wantA, tc.wantV)
		}
	}
	if audio, video := (&room{cfg: page.Config{Page: page.Room}}).constraints(); audio != true || video != true {
		t.Errorf("without parameters: constraints %v, %v; want true, true", audio, video)
	}
}

// jsonOf is JSON.stringify of a constraint (a Go bool or a JS value).
func jsonOf(t *testing.T, c any) string {
	t.Helper()
	switch c.(type) {
	case bool, js.Value:
		return jsjson.Stringify(js.ValueOf(c))
	}
	t.Errorf("constraint of type %T, want a bool or a js.Value", c)
	return ""
}
