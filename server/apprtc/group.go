package apprtc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/grouproom"
)

// groupJoin answers a join into a room that is full or already a group room: a group join
// (room_mode "group", the joiner's group socket) when the room may be a group, FULL
// otherwise. The join that turns the room into a group tells the room table's two clients,
// over the relay, where their own group socket is.
func (a *API) groupJoin(w http.ResponseWriter, r *http.Request, groups grouproom.Store, roomID string, capable bool) {
	log := a.logFor(r).With("room", roomID)
	full := func(why string) {
		log.Info("join refused: room full", "why", why)
		a.cfg.Joined(protocol.ResultFull)
		writeJSON(w, http.StatusOK, protocol.NewJoinError(protocol.ResultFull))
	}
	if !capable {
		full("group room, and the joiner did not ask for group=1")
		return
	}
	adm, err := groups.Admit(r.Context(), roomID, NewClientID)
	switch {
	case errors.Is(err, grouproom.ErrNotCapable):
		full("a client in the room cannot do group calls")
		return
	case errors.Is(err, grouproom.ErrFull):
		full("group room at its size")
		return
	case err != nil:
		log.Error("group join failed", "err", err)
		a.cfg.Joined(protocol.ResultError)
		writeJSON(w, http.StatusOK, protocol.NewJoinError(protocol.ResultError))
		return
	}
	if len(adm.Moved) > 0 {
		log.Info("room becomes a group room", "clients", adm.Moved)
		a.tellMoved(r, roomID, adm.Moved)
	}
	a.cfg.Joined(protocol.ResultSuccess)
	p := a.roomParams(r, roomID)
	if servers := a.joinICEServers(); servers != nil {
		p.PCConfig = pcConfig(r.URL.Query().Get("it"), servers)
	}
	p.ClientID = adm.ID
	p.IsInitiator = "false"
	p.RoomMode = protocol.RoomModeGroup
	p.GroupURL = a.GroupURL(r, roomID, adm.ID)
	log.Info("joined the group", "client", adm.ID)
	writeJSON(w, http.StatusOK, protocol.JoinResponse{Result: protocol.ResultSuccess, Params: p})
}

// GroupURL is the group socket of participant clientID, on the host r came to.
func (a *API) GroupURL(r *http.Request, roomID, clientID string) string {
	return a.cfg.Trust.Of(r).WS() + "/group/" + roomID + "/" + clientID
}

// tellMoved sends each of the room table's clients, through the relay, the group message
// naming its own group socket. The relay delivers a message to the client other than its
// sender: each is sent as coming from the other.
func (a *API) tellMoved(r *http.Request, roomID string, clients []string) {
	if len(clients) != 2 {
		a.logFor(r).Error("group: expected the room table's two clients", "room", roomID, "clients", len(clients))
		return
	}
	// The joiner's request may end before the relay took the messages: they are the
	// room's, not the request's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	for i, to := range clients {
		from := clients[1-i]
		b, err := json.Marshal(protocol.Signal{Type: protocol.TypeGroup, URL: a.GroupURL(r, roomID, to)})
		if err != nil {
			a.logFor(r).Error("group message not encoded", "err", err)
			continue
		}
		if err := a.cfg.Relay.Send(ctx, roomID, from, string(b)); err != nil {
			// The client will find its peer gone and can join again: it then lands in
			// the group.
			a.logFor(r).Warn("group message not delivered", "room", roomID, "client", to, "err", err)
		}
	}
}
