package web

import (
	"strconv"

	"github.com/onertc/onertc/web/page"
)

// Page is what every page template gets.
type Page struct {
	Title  string
	Assets *Assets
	Config page.Config
	// Suggested is the pre-filled random room name on the room-selection page, and the
	// "start a new room" link of the full page.
	Suggested string
	// Next is where the password form sends the browser once signed in; Problem what
	// went wrong with the last attempt (empty at first).
	Next, Problem string
	// RoomSize is the most people a room holds (--room-size; 2 without group rooms), for
	// the room-selection and full pages; InRoom, on the full page, how many are in it.
	RoomSize, InRoom int
}

// roomSizeText is the room-selection page's line about how many people a room holds.
func roomSizeText(size int) string {
	if size <= 2 {
		return "Rooms hold two people."
	}
	return "Rooms hold up to " + strconv.Itoa(size) + " people."
}

// fullTitle is the full page's heading: with the count when a room of more than two is at
// its size; without it in rooms of two (as before group rooms) and when a call that cannot
// grow (an app made for two is in it) stops the room sooner.
func fullTitle(p Page) string {
	if p.RoomSize <= 2 || p.InRoom < p.RoomSize {
		return "This room is full"
	}
	return "This room is full (" + strconv.Itoa(p.InRoom) + " of " + strconv.Itoa(p.RoomSize) + ")"
}

// fullDetail follows "Room NAME" on the full page.
func fullDetail(p Page) string {
	switch {
	case p.RoomSize < 2 || p.InRoom < 2:
		return " has as many people as it can hold."
	case p.InRoom < p.RoomSize:
		return " has a call of two in it that cannot take a third person (one of them uses an app made for two)."
	case p.InRoom == 2:
		return " already has two people in it."
	}
	return " already has " + strconv.Itoa(p.InRoom) + " people in it, as many as a room holds."
}
