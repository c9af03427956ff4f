package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/onertc/onertc/server/apprtc"
	"github.com/onertc/onertc/server/handover"
)

// WithPredecessor names the unix socket (server/handover) of the process this one took the
// listeners over from: requests about a room this one does not hold go there while it
// answers (see handover.ForwardToPredecessor).
func WithPredecessor(socket string) Option { return func(s *Server) { s.predecessor = socket } }

// roomRoutes are the paths naming a room whose requests may concern a predecessor's call:
// sending, leaving, and the Collider's POST/DELETE. A join starts or enters a call here.
var roomRoutes = []string{"/message/", "/leave/", "/bye/", "/collider/"}

// forwardUnknownRooms passes requests about a room not held here to the predecessor, if
// there is one.
func (s *Server) forwardUnknownRooms(next http.Handler) http.Handler {
	if s.predecessor == "" {
		return next
	}
	return handover.ForwardToPredecessor(next, handover.Forwarding{
		Socket: s.predecessor,
		RoomOf: pathRoom,
		Holds: func(ctx context.Context, room string) (bool, error) {
			n, err := s.rooms.Occupancy(ctx, room)
			return n > 0, err
		},
		ClientIP:    func(r *http.Request) string { return s.trust.ClientIP(r).String() },
		Unavailable: func(w http.ResponseWriter, _ *http.Request) { apprtc.Unavailable(w) },
		Log:         s.log,
	})
}

// pathRoom is the room a request of roomRoutes names, "" for any other request.
func pathRoom(path string) string {
	for _, p := range roomRoutes {
		if rest, ok := strings.CutPrefix(path, p); ok {
			roomID, _, _ := strings.Cut(rest, "/")
			return roomID
		}
	}
	return ""
}

// predecessorHandler serves the successor's forwarded requests (handover.FromSuccessor).
func (s *Server) predecessorHandler() http.Handler { return handover.FromSuccessor(s.handler) }
