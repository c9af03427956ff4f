package apprtc

import (
	"context"
	"net/http"

	"github.com/a-h/templ"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/web"
	"github.com/onertc/onertc/web/page"
	"github.com/onertc/onertc/web/roomname"
)

// Index is the room selection. Without the app, its form submits GET /?room=NAME:
// that redirects to the room, so Enter works before (or without) the wasm.
func (a *API) Index(w http.ResponseWriter, r *http.Request) {
	if name := r.URL.Query().Get("room"); name != "" && protocol.ValidID(name) {
		q := r.URL.Query()
		q.Del("room")
		target := "/r/" + name
		if len(q) > 0 {
			target += "?" + q.Encode()
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if !a.cfg.Gate.AdmitPage(w, r, "") {
		return
	}
	p := a.pageData(r, page.Index, "", "onertc · video calls")
	p.Suggested = roomname.Random()
	p.RoomSize = a.roomSize()
	a.render(w, r, p, web.IndexPage(p))
}

// RoomPage is a room: "Ready to join?", then the call; the full page when the room
// already holds two clients (the app also shows it should it lose the race at /join).
func (a *API) RoomPage(w http.ResponseWriter, r *http.Request) {
	roomID, _, ok := ids(w, r, false)
	if !ok || !a.cfg.Gate.AdmitPage(w, r, roomID) {
		return
	}
	n, err := a.cfg.Rooms.Occupancy(r.Context(), roomID)
	if err != nil {
		a.cfg.Log.Error("room page: occupancy", "room", roomID, "err", err)
		http.Error(w, "room state unavailable", http.StatusServiceUnavailable)
		return
	}
	full, in, err := a.roomFull(r.Context(), roomID, n)
	if err != nil {
		a.cfg.Log.Error("room page: group record", "room", roomID, "err", err)
		http.Error(w, "room state unavailable", http.StatusServiceUnavailable)
		return
	}
	if full {
		p := a.pageData(r, page.Full, roomID, "Room full · onertc")
		p.Suggested = roomname.Random()
		p.RoomSize, p.InRoom = a.roomSize(), in
		a.render(w, r, p, web.FullPage(p))
		return
	}
	p := a.pageData(r, page.Room, roomID, roomID+" · onertc")
	a.render(w, r, p, web.RoomPage(p))
}

// roomFull decides the room-full page from the room table's occupancy n: two without group
// rooms; with them, a group at its size, or a room table of two that cannot become a group
// (an AppRTC client in it). It also says how many people are in the room.
func (a *API) roomFull(ctx context.Context, roomID string, n int) (full bool, in int, err error) {
	groups := a.groups()
	if groups == nil {
		return n >= 2, n, nil
	}
	if in, err = groups.Count(ctx, roomID); err != nil || in > 0 {
		return in >= groups.Size(), in, err
	}
	if n < 2 {
		return false, n, nil
	}
	grow, err := groups.Growable(ctx, roomID)
	return !grow, n, err
}

// roomSize is the most people a room holds: --room-size with group rooms on, else two.
func (a *API) roomSize() int {
	if groups := a.groups(); groups != nil {
		return groups.Size()
	}
	return 2
}

// pageData builds the data of a page, with the AppRTC parameters of the request.
func (a *API) pageData(r *http.Request, kind, roomID, title string) web.Page {
	params := a.roomParams(r, roomID)
	return web.Page{Title: title, Assets: web.DefaultAssets(),
		Config: page.Config{Page: kind, Room: roomID, Params: &params, Access: a.cfg.Gate.Mode()}}
}

func (a *API) render(w http.ResponseWriter, r *http.Request, p web.Page, c templ.Component) {
	if err := web.Render(w, r, http.StatusOK, p, c); err != nil {
		a.cfg.Log.Warn("page not rendered whole", "err", err)
	}
}
