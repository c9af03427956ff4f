package server

import (
	"html/template"
	"net/http"
)

// Placeholder pages until the browser app (web/) replaces them: they let a person see the
// server is up, and the full-room page is part of the protocol.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.}} · onertc</title>{{end}}
{{define "index"}}{{template "head" "onertc"}}<h1>onertc</h1>
<form onsubmit="location.href='/r/'+encodeURIComponent(this.room.value);return false">
<input id="room-id-input" name="room" pattern="[a-zA-Z0-9_\-]{1,64}" required>
<button id="join-button">Join</button></form>{{end}}
{{define "room"}}{{template "head" .}}<h1>Room {{.}}</h1><p id="status-div">Ready to join.</p>{{end}}
{{define "full"}}{{template "head" "Room full"}}<h1>This room is full</h1>
<p id="status-div">Room {{.}} already has two people in it. <a href="/">Pick another room</a>.</p>{{end}}
`))

func (s *Server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	s.render(w, http.StatusOK, "index", nil)
}

func (s *Server) handleRoomPage(w http.ResponseWriter, r *http.Request) {
	roomID, _, ok := ids(w, r, false)
	if !ok {
		return
	}
	n, err := s.rooms.Occupancy(r.Context(), roomID)
	if err != nil {
		s.log.Error("room page: occupancy", "room", roomID, "err", err)
		http.Error(w, "room state unavailable", http.StatusServiceUnavailable)
		return
	}
	if n >= 2 {
		s.render(w, http.StatusOK, "full", roomID)
		return
	}
	s.render(w, http.StatusOK, "room", roomID)
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.log.Warn("render page", "page", name, "err", err)
	}
}
