package apprtc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/limit"
	"github.com/onertc/onertc/server/redisconn"
	"github.com/onertc/onertc/server/relay"
	"github.com/onertc/onertc/server/room"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}

// ids reads and validates the {room} and, when wantClient, {client} path values; it
// answers 404 itself when they are not acceptable.
func ids(w http.ResponseWriter, r *http.Request, wantClient bool) (roomID, clientID string, ok bool) {
	roomID = r.PathValue("room")
	if !protocol.ValidID(roomID) {
		http.Error(w, protocol.InvalidRoomText, http.StatusNotFound)
		return "", "", false
	}
	if wantClient {
		clientID = r.PathValue("client")
		if !protocol.ValidID(clientID) {
			http.Error(w, protocol.InvalidClientText, http.StatusNotFound)
			return "", "", false
		}
	}
	return roomID, clientID, true
}

func (a *API) Join(w http.ResponseWriter, r *http.Request) {
	roomID, _, ok := ids(w, r, false)
	if !ok {
		return
	}
	log := a.logFor(r).With("room", roomID)
	if a.cfg.Draining() && !a.cfg.Shared {
		// In Redis mode the room table is shared: a join here is as good as anywhere.
		if a.cfg.HandedOver() {
			// A new process serves the port already; this request came on a connection
			// kept alive from before. The next one, on a new connection, reaches it.
			w.Header().Set("Connection", "close")
			a.refuseJoin(w, "1", "The server is restarting. Try again now.")
			return
		}
		a.refuseJoin(w, "30", "The server is restarting. Try again in a minute.")
		return
	}
	groups := a.groups()
	capable := groups != nil && r.URL.Query().Get("group") == "1"
	if groups != nil {
		group, err := groups.IsGroup(r.Context(), roomID)
		if err != nil {
			log.Error("join failed: group record", "err", err)
			a.refuseJoin(w, "5", "The room service cannot reach its database. Try again in a few seconds.")
			return
		}
		if group {
			// A group room sends nobody to the room table: its capable joiners go to the
			// SFU, the others find it full.
			a.groupJoin(w, r, groups, roomID, capable)
			return
		}
	}
	j, err := a.cfg.Rooms.Join(r.Context(), roomID, NewClientID)
	switch {
	case errors.Is(err, room.ErrFull) && capable:
		a.groupJoin(w, r, groups, roomID, capable)
		return
	case errors.Is(err, room.ErrFull):
		log.Info("join refused: room full")
		a.cfg.Joined(protocol.ResultFull)
		writeJSON(w, http.StatusOK, protocol.NewJoinError(protocol.ResultFull))
		return
	case err != nil && a.cfg.Shared:
		// The shared room table cannot be reached: say so, and when to try again.
		log.Error("join failed: Redis unreachable", "err", err)
		a.refuseJoin(w, "5", "The room service cannot reach its database. Try again in a few seconds.")
		return
	case err != nil:
		log.Error("join failed", "err", err)
		a.cfg.Joined(protocol.ResultError)
		writeJSON(w, http.StatusOK, protocol.NewJoinError(protocol.ResultError))
		return
	}
	if err := a.cfg.Relay.Expect(roomID, j.ClientID); err != nil {
		// Only a relay that is shutting down refuses (its clients are the room table's,
		// see relay.Relay.Expect). Undo the join, giving back the mailbox it took, so
		// the two tables still agree and nothing is lost.
		log.Error("relay did not take the new client", "client", j.ClientID, "err", err)
		if rerr := a.cfg.Rooms.Remove(r.Context(), roomID, j.ClientID, j.Messages); rerr != nil {
			log.Error("undo join", "client", j.ClientID, "err", rerr)
		}
		a.cfg.Joined(protocol.ResultError)
		writeJSON(w, http.StatusServiceUnavailable, protocol.NewJoinError(protocol.ResultError))
		return
	}
	if groups != nil {
		if err := groups.Joined(r.Context(), roomID, j.ClientID, capable, j.IsInitiator); err != nil {
			// The 1:1 join stands; the room cannot become a group until the next initiator.
			log.Warn("group record not updated: this room stays a room for two", "client", j.ClientID, "err", err)
		}
	}
	a.cfg.Joined(protocol.ResultSuccess)
	p := a.roomParams(r, roomID)
	if servers := a.joinICEServers(); servers != nil {
		p.PCConfig = pcConfig(r.URL.Query().Get("it"), servers)
	}
	p.ClientID = j.ClientID
	p.IsInitiator = boolString(j.IsInitiator)
	p.Messages = j.Messages
	log.Info("joined", "client", j.ClientID, "initiator", j.IsInitiator, "messages", len(j.Messages))
	writeJSON(w, http.StatusOK, protocol.JoinResponse{Result: protocol.ResultSuccess, Params: p})
}

// refuseJoin answers a join the server cannot take now with 503, the reason, and when to
// try again (seconds).
func (a *API) refuseJoin(w http.ResponseWriter, retryAfter, reason string) {
	a.cfg.Joined(protocol.ResultError)
	refusal := protocol.NewJoinError(protocol.ResultError)
	refusal.Params.ErrorMessages = []string{reason}
	w.Header().Set("Retry-After", retryAfter)
	writeJSON(w, http.StatusServiceUnavailable, refusal)
}

func (a *API) Message(w http.ResponseWriter, r *http.Request) {
	roomID, clientID, ok := ids(w, r, true)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxMessageBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, messageError{protocol.ResultError, "message larger than 65536 bytes"})
		return
	case limit.BodyTimedOut(err):
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestTimeout, messageError{protocol.ResultError, "message not received in time"})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, messageError{protocol.ResultError, "could not read the message"})
		return
	case len(body) == 0:
		writeJSON(w, http.StatusBadRequest, messageError{protocol.ResultError, "empty message"})
		return
	}
	msg := string(body)
	var stored bool
	err = redisconn.Hold(r.Context(), a.holdMessages(), messageAttempt, permanentRoomError, func(ctx context.Context) error {
		var err error
		stored, err = a.cfg.Rooms.Message(ctx, roomID, clientID, msg)
		return err
	})
	switch {
	case errors.Is(err, room.ErrUnknownRoom):
		writeJSON(w, http.StatusOK, protocol.MessageResponse{Result: protocol.ResultUnknownRoom})
		return
	case errors.Is(err, room.ErrUnknownClient):
		writeJSON(w, http.StatusOK, protocol.MessageResponse{Result: protocol.ResultUnknownClient})
		return
	case errors.Is(err, room.ErrMailboxFull):
		writeJSON(w, http.StatusOK, messageError{protocol.ResultError, "mailbox full"})
		return
	case err != nil:
		a.logFor(r).Error("message failed", "room", roomID, "client", clientID, "err", err)
		Unavailable(w)
		return
	}
	if !stored {
		err := a.cfg.Relay.Send(r.Context(), roomID, clientID, msg)
		if errors.Is(err, relay.ErrUnknownClient) {
			// Removed by the relay a moment ago; the room table is catching up.
			writeJSON(w, http.StatusOK, protocol.MessageResponse{Result: protocol.ResultUnknownClient})
			return
		}
		switch {
		case errors.Is(err, relay.ErrUnavailable):
			Unavailable(w)
			return
		case errors.Is(err, relay.ErrQueueFull):
			writeJSON(w, http.StatusOK, messageError{protocol.ResultError, err.Error()})
			return
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, messageError{protocol.ResultError, err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, protocol.MessageResponse{Result: protocol.ResultSuccess})
}

// messageAttempt bounds one try of a message's room-table step.
const messageAttempt = 3 * time.Second

// holdMessages is how long POST /message holds a message the room table cannot take (Redis
// away) before answering 503: as long as the relay holds one sent on a socket, which its
// state decides (nothing is transient in one process: no hold).
func (a *API) holdMessages() time.Duration { return a.cfg.Relay.SendHold() }

// permanentRoomError tells a room-table answer (unknown room or client, full mailbox) from
// a failure to reach the table, which is worth trying again.
func permanentRoomError(err error) bool {
	return errors.Is(err, room.ErrUnknownRoom) || errors.Is(err, room.ErrUnknownClient) || errors.Is(err, room.ErrMailboxFull)
}

// Unavailable answers a message that could not be stored because the shared state stayed
// out of reach: nothing was kept, the client may send it again.
func Unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, messageError{protocol.ResultError, relay.ErrUnavailable.Error()})
}

// messageError is a result with a human-readable reason, for failures AppRTC has no code for.
type messageError struct {
	Result string `json:"result"`
	Error  string `json:"error"`
}

// Leave removes the client from the relay and the room. It answers 200 with an empty
// body whatever the room or client, as AppRTC does.
func (a *API) Leave(w http.ResponseWriter, r *http.Request) {
	roomID, clientID := r.PathValue("room"), r.PathValue("client")
	if protocol.ValidID(roomID) && protocol.ValidID(clientID) {
		// Through the relay, so its queue for the leaver is handed to the one who stays
		// and the relay room frees its place for a newcomer's register.
		a.cfg.Relay.Delete(r.Context(), roomID, clientID)
		a.logFor(r).Info("left", "room", roomID, "client", clientID)
	}
	w.WriteHeader(http.StatusOK)
}

func (a *API) Params(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.params(r))
}
