//go:build js && wasm

package main

import (
	"slices"

	"github.com/onertc/onertc/protocol"
)

// recentMax is how many recently joined rooms the room selection lists.
const recentMax = 10

// keepRecent is rooms as the list keeps them: newest first, each room once (its newest
// place), only valid room ids (localStorage can be edited by hand), at most recentMax.
func keepRecent(rooms []string) []string {
	var out []string
	for _, r := range rooms {
		if len(out) == recentMax {
			break
		}
		if protocol.ValidID(r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// pushRecent is rooms with room put first.
func pushRecent(room string, rooms []string) []string {
	return keepRecent(append([]string{room}, rooms...))
}
