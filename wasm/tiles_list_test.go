//go:build js && wasm

package main

import (
	"reflect"
	"testing"
)

func TestTilesFor(t *testing.T) {
	ann := member{ID: "a", Name: "Ann"}
	bob := member{ID: "b", Name: "Bob", Muted: true}
	cy := member{ID: "c", Name: "Cy", CameraOff: true}
	me := member{ID: "m", Name: "Me"}
	cams := []mediaTrack{{"a", "video-a"}, {"a", "audio-a"}, {"b", "video-b"}, {"c", "video-c"}, {"m", "video-m"}}
	for _, tc := range []struct {
		name    string
		members []member
		tracks  []mediaTrack
		speaker string
		want    []tile
	}{
		{"alone", []member{me}, nil, "", nil},
		{"others in join order, self left out", []member{ann, me, bob}, cams, "",
			[]tile{{Key: "a", Participant: "a", Name: "Ann", HasVideo: true},
				{Key: "b", Participant: "b", Name: "Bob", HasVideo: true, Muted: true}}},
		{"the speaker is marked and stays in place", []member{ann, bob, me}, cams, "b",
			[]tile{{Key: "a", Participant: "a", Name: "Ann", HasVideo: true},
				{Key: "b", Participant: "b", Name: "Bob", HasVideo: true, Muted: true, Speaking: true}}},
		{"self speaking marks no tile", []member{ann, me}, cams, "m",
			[]tile{{Key: "a", Participant: "a", Name: "Ann", HasVideo: true}}},
		{"camera off, said so", []member{cy}, cams, "",
			[]tile{{Key: "c", Participant: "c", Name: "Cy", HasVideo: true, CameraOff: true}}},
		{"no camera forwarded yet (audio only)", []member{ann}, []mediaTrack{{"a", "audio-a"}}, "",
			[]tile{{Key: "a", Participant: "a", Name: "Ann", CameraOff: true}}},
		{"a screen share comes first", []member{ann, bob}, append([]mediaTrack{{"b", "screen-b"}}, cams...), "a",
			[]tile{{Key: "b/screen", Participant: "b", Name: "Bob (screen)", Screen: true, HasVideo: true},
				{Key: "a", Participant: "a", Name: "Ann", HasVideo: true, Speaking: true},
				{Key: "b", Participant: "b", Name: "Bob", HasVideo: true, Muted: true}}},
		{"a nameless participant", []member{{ID: "x"}}, nil, "",
			[]tile{{Key: "x", Participant: "x", Name: "Guest", CameraOff: true}}},
		{"tracks of someone who left make no tile", []member{me}, cams, "a", nil},
	} {
		got := tilesFor("m", tc.members, tc.tracks, tc.speaker)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
		if large := hasLargeTile(got); large != (len(tc.want) > 0 && tc.want[0].Screen) {
			t.Errorf("%s: hasLargeTile = %v", tc.name, large)
		}
	}
}
