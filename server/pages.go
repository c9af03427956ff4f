package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/web"
	"github.com/onertc/onertc/web/page"
	"github.com/onertc/onertc/web/roomname"
)

// handleIndex is the room selection. Without the app, its form submits GET /?room=NAME:
// that redirects to the room, so Enter works before (or without) the wasm.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
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
	if !s.admitPage(w, r, "") {
		return
	}
	p := s.pageData(r, page.Index, "", "onertc · video calls")
	p.Suggested = roomname.Random()
	s.render(w, r, p, web.IndexPage(p))
}

// handleRoomPage is a room: "Ready to join?", then the call; the full page when the room
// already holds two clients (the app also shows it should it lose the race at /join).
func (s *Server) handleRoomPage(w http.ResponseWriter, r *http.Request) {
	roomID, _, ok := ids(w, r, false)
	if !ok || !s.admitPage(w, r, roomID) {
		return
	}
	n, err := s.rooms.Occupancy(r.Context(), roomID)
	if err != nil {
		s.log.Error("room page: occupancy", "room", roomID, "err", err)
		http.Error(w, "room state unavailable", http.StatusServiceUnavailable)
		return
	}
	if n >= 2 {
		p := s.pageData(r, page.Full, roomID, "Room full · onertc")
		p.Suggested = roomname.Random()
		s.render(w, r, p, web.FullPage(p))
		return
	}
	p := s.pageData(r, page.Room, roomID, roomID+" · onertc")
	s.render(w, r, p, web.RoomPage(p))
}

// pageData builds the data of a page, with the AppRTC parameters of the request.
func (s *Server) pageData(r *http.Request, kind, roomID, title string) web.Page {
	params := s.roomParams(r, roomID)
	return web.Page{Title: title, Assets: web.DefaultAssets(),
		Config: page.Config{Page: kind, Room: roomID, Params: &params, Access: s.accessMode()}}
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, p web.Page, c templ.Component) {
	s.renderStatus(w, r, http.StatusOK, p, c)
}

func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, p web.Page, c templ.Component) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // the pre-filled name and occupancy are per request
	var params *protocol.Params
	if p.Config.Params != nil {
		params = &p.Config.Params.Params
	}
	setPageSecurityHeaders(h, params)
	w.WriteHeader(status)
	if err := c.Render(context.WithoutCancel(r.Context()), w); err != nil {
		s.log.Warn("render page", "page", p.Config.Page, "err", err)
	}
}

// setPageSecurityHeaders allows exactly what the app needs: its own scripts and styles,
// WebAssembly compilation ('wasm-unsafe-eval', not 'unsafe-eval'), fetch and WebSocket to
// this server (and to an external relay chosen with ?wshpp=), camera streams in media
// elements; nothing may frame the page.
func setPageSecurityHeaders(h http.Header, p *protocol.Params) {
	connect := []string{"'self'"}
	if p != nil {
		for _, u := range []string{p.WSSURL, p.WSSPostURL} {
			if o := urlOrigin(u); o != "" && !containsString(connect, o) {
				connect = append(connect, o)
			}
		}
	}
	h.Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'none'",
		"script-src 'self' 'wasm-unsafe-eval'",
		"style-src 'self'",
		"img-src 'self' data:",
		"media-src 'self'", // camera streams are set as srcObject, which CSP does not govern
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), fullscreen=(self)")
}

// urlOrigin is scheme://host of u, or "" when u is not an absolute URL.
func urlOrigin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
