package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/demux"
	"github.com/onertc/onertc/server/relay"
	"github.com/onertc/onertc/server/sfu"
)

// startSFU starts the SFU of group rooms on the listeners' SFU socket, when the
// configuration asks for group rooms and the socket is there; with the shared HTTPS port
// (mux), ICE over TCP on that port too, for clients that reach nothing but 443.
func (s *Server) startSFU(ls Listeners, mux *demux.Mux) error {
	if s.groups == nil {
		return nil
	}
	if ls.SFU == nil {
		s.log.Warn("group rooms off: no SFU socket to serve on; rooms hold two people")
		return nil
	}
	cfg := sfu.Config{
		UDPConn:     ls.SFU,
		MaxPerRoom:  s.cfg.RoomSize,
		CheckOrigin: relay.SameOrigin(s.cfg.AllowedOrigins, func(r *http.Request) string { return s.trust.Of(r).Host }),
		Grace:       s.cfg.RelayGrace,
		Logger:      s.log,
	}
	if s.cfg.TURN.PublicIP != "" {
		cfg.PublicIPs = []string{s.cfg.TURN.PublicIP}
	}
	if mux != nil {
		mux.EnableICETCP()
		cfg.TCPListener = mux.ICETCP()
		// A server that listens on loopback only has no other address to offer.
		if a, ok := ls.HTTP.Addr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
			cfg.IncludeLoopback = true
		}
	}
	f, err := sfu.New(cfg)
	if err != nil {
		return fmt.Errorf("start SFU: %w", err)
	}
	s.sfuPort = portOf(ls.SFU.LocalAddr())
	if ua, ok := ls.SFU.LocalAddr().(*net.UDPAddr); ok {
		s.sfuIP, _ = netip.AddrFromSlice(ua.IP)
		s.sfuIP = s.sfuIP.Unmap()
	}
	s.sfu.Store(f)
	s.log.Info("SFU serving group rooms", "udp", s.sfuPort, "ice_tcp_on_https_port", mux != nil, "room_size", s.cfg.RoomSize, "public_ip", s.cfg.TURN.PublicIP)
	return nil
}

// stopSFU ends every group call (each participant gets a bye saying the server is shutting
// down) and closes the SFU's socket.
func (s *Server) stopSFU() {
	f := s.sfu.Swap(nil)
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		s.log.Warn("SFU did not stop cleanly", "err", err)
	}
}

// awaitGroups lets group calls in progress go on while the server drains, until they have
// ended or ctx ends. In Redis mode the directory no longer offers this SFU by then (no new
// group is placed here), and the groups move to other instances first (moveGroupsAway):
// their participants leave this SFU once its grace for their resume is over.
func (s *Server) awaitGroups(ctx context.Context) {
	f := s.sfu.Load()
	if f == nil || f.Stats().Participants == 0 {
		return
	}
	s.moveGroupsAway(ctx)
	s.log.Info("draining: waiting for the group calls to end", "participants", f.Stats().Participants)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for f.Stats().Participants > 0 {
		select {
		case <-ctx.Done():
			s.log.Warn("drain timeout: group calls still in progress are closed", "participants", f.Stats().Participants)
			return
		case <-tick.C:
		}
	}
}

// serveGroup is GET /group/{room}/{client}: the group socket of a participant the room's
// record admitted (a group joiner, or one of the room table's two clients once the room is
// a group). Anything else is refused before the upgrade.
func (s *Server) serveGroup(w http.ResponseWriter, r *http.Request) {
	roomID, clientID := r.PathValue("room"), r.PathValue("client")
	switch {
	case !protocol.ValidID(roomID):
		http.Error(w, protocol.InvalidRoomText, http.StatusNotFound)
		return
	case !protocol.ValidID(clientID):
		http.Error(w, protocol.InvalidClientText, http.StatusNotFound)
		return
	}
	f := s.sfu.Load()
	if f == nil || s.groups == nil {
		http.Error(w, "group rooms are off on this server", http.StatusNotFound)
		return
	}
	name := r.URL.Query().Get("name")
	if name != "" && !protocol.ValidName(name) {
		http.Error(w, "invalid name: see docs/protocol.md, group rooms", http.StatusBadRequest)
		return
	}
	if name == "" {
		name = guestName(clientID)
	}
	instance, ok, err := s.groups.Placed(r.Context(), roomID, clientID)
	if ok && err == nil && instance != "" && instance != s.state.Instance() {
		s.passGroupOn(w, r, instance)
		return
	}
	var done func()
	if ok && err == nil {
		done, ok, err = s.groups.Open(r.Context(), roomID, clientID)
	}
	switch {
	case err != nil:
		s.logFor(r).Error("group socket refused: group record", "room", roomID, "client", clientID, "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "group room state unavailable", http.StatusServiceUnavailable)
		return
	case !ok:
		s.logFor(r).Info("group socket refused: not a participant of this group", "room", roomID, "client", clientID)
		http.Error(w, "not a participant of this group room: join it with POST /join/ROOM?group=1", http.StatusForbidden)
		return
	}
	defer done()
	f.ServeParticipant(s.groupSockets.track(w, roomID), r, roomID, clientID, name)
}

// guestName is the display name of a participant that gave none.
func guestName(clientID string) string {
	return "Guest " + clientID[:min(4, len(clientID))]
}
