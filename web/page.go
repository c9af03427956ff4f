package web

import "github.com/onertc/onertc/web/page"

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
}
