//go:build js && wasm

package main

import "strings"

// member is one participant of a group room, as the session's participant list says.
type member struct {
	ID, Name         string
	Muted, CameraOff bool
}

// mediaTrack is one forwarded track: whose, and which (its id starts with audio-, video-
// or screen-, docs/protocol.md section 10).
type mediaTrack struct {
	Participant, ID string
}

// tile is one box of the grid. Key is stable for as long as the box exists, so the page
// keeps its <video> across updates (a new element would restart playback).
type tile struct {
	Key         string // the participant id, or id + "/screen" for a screen share
	Participant string
	Name        string
	Screen      bool
	HasVideo    bool // a camera (or screen) track is forwarded
	Muted       bool
	CameraOff   bool // said so, or no camera forwarded
	Speaking    bool
}

// tilesFor makes the grid's tiles: one per other participant, in the order of the list
// (the order they joined: tiles do not jump around when someone speaks), and before them a
// tile per screen share, the first of which the grid shows large. Self is not a tile: the
// own picture is the small one in the corner.
func tilesFor(self string, members []member, tracks []mediaTrack, speaker string) []tile {
	video, screen := map[string]bool{}, map[string]bool{}
	for _, t := range tracks {
		switch {
		case strings.HasPrefix(t.ID, "screen-"):
			screen[t.Participant] = true
		case strings.HasPrefix(t.ID, "video-"):
			video[t.Participant] = true
		}
	}
	var screens, people []tile
	for _, m := range members {
		if m.ID == self {
			continue
		}
		name := m.Name
		if name == "" {
			name = "Guest"
		}
		if screen[m.ID] {
			screens = append(screens, tile{Key: m.ID + "/screen", Participant: m.ID, Name: name + " (screen)",
				Screen: true, HasVideo: true})
		}
		people = append(people, tile{Key: m.ID, Participant: m.ID, Name: name, HasVideo: video[m.ID],
			Muted: m.Muted, CameraOff: m.CameraOff || !video[m.ID], Speaking: speaker != "" && speaker == m.ID})
	}
	return append(screens, people...)
}

// hasLargeTile says whether the grid shows tiles[0] large: a screen share beside people.
func hasLargeTile(tiles []tile) bool { return len(tiles) > 0 && tiles[0].Screen }
