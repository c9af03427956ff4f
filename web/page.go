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
}
