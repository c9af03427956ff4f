// Package page is the contract between the server-rendered pages and the browser app: the
// configuration the server embeds in every page (script #page-config) and the page kinds.
// It is separate from package web so that the wasm can use it without embedding web's files
// (which include the wasm itself).
package page

import "github.com/onertc/onertc/protocol"

// Page kinds, in Config.Page: the app picks its behaviour from them.
const (
	Index = "index"
	Room  = "room"
	Full  = "full"
	// Login is the password form of a server in password mode (no app behaviour).
	Login = "login"
)

// Config is the page configuration handed to the app as JSON (templ.JSONScript).
type Config struct {
	Page string `json:"page"`
	Room string `json:"room,omitempty"`
	// Params are the AppRTC parameters the server would answer /join with, minus the
	// per-client fields: the app reads media_constraints for the preview and room_link
	// for sharing before it joins.
	Params *protocol.RoomParams `json:"params,omitempty"`
	// Access is "password" when the server admits only holders of its password or of an
	// invite: the room view then offers "Copy invite link". Empty in open mode.
	Access string `json:"access,omitempty"`
}
