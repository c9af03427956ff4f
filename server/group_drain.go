package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// A draining instance in Redis mode moves its groups to other instances (see
// docs/scaling.md, group rooms): each group's record is moved to the SFU grouproom.Place
// picks among the others, then the sockets of its participants here are closed without
// a bye, as if the instance had died. Their clients resume at once; the resume, wherever
// it lands, is passed on to the new SFU, which takes it as a fresh join.

// groupSockets are the group sockets this instance's SFU serves, by room.
type groupSockets struct {
	mu    sync.Mutex
	conns map[net.Conn]string
}

// track returns w, whose hijacked connection (the group socket) is listed under roomID
// until the connection is closed.
func (g *groupSockets) track(w http.ResponseWriter, roomID string) http.ResponseWriter {
	return &trackedWriter{ResponseWriter: w, g: g, room: roomID}
}

// close closes the sockets of the rooms listed.
func (g *groupSockets) close(rooms map[string]bool) int {
	var closing []net.Conn
	g.mu.Lock()
	for c, r := range g.conns {
		if rooms[r] {
			closing = append(closing, c)
		}
	}
	g.mu.Unlock()
	for _, c := range closing {
		_ = c.Close() // the client's resume is what follows, not an error to report
	}
	return len(closing)
}

func (g *groupSockets) rooms() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, r := range g.conns {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

type trackedWriter struct {
	http.ResponseWriter
	g    *groupSockets
	room string
}

func (w *trackedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("group socket: %T cannot be hijacked", w.ResponseWriter)
	}
	c, rw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	tc := &trackedConn{Conn: c, g: w.g}
	w.g.mu.Lock()
	if w.g.conns == nil {
		w.g.conns = map[net.Conn]string{}
	}
	w.g.conns[tc] = w.room
	w.g.mu.Unlock()
	return tc, rw, nil
}

type trackedConn struct {
	net.Conn
	g    *groupSockets
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
	})
	return c.Conn.Close()
}

// moveGroupsAway moves the groups whose sockets this instance serves to other instances'
// SFUs and closes those sockets, in Redis mode. A group no other instance can take stays.
func (s *Server) moveGroupsAway(ctx context.Context) {
	if s.sharedGroups == nil {
		return
	}
	moved := map[string]bool{}
	for _, roomID := range s.groupSockets.rooms() {
		to, err := s.sharedGroups.MoveAway(ctx, roomID)
		switch {
		case err != nil:
			s.log.Warn("draining: group not moved; its call goes on here", "room", roomID, "err", err)
		case to != "":
			moved[roomID] = true
			s.log.Info("draining: group moved to another instance", "room", roomID, "sfu_instance", to)
		}
	}
	if len(moved) > 0 {
		n := s.groupSockets.close(moved)
		s.log.Info("draining: group sockets closed for their clients to resume on the groups' new SFUs", "groups", len(moved), "sockets", n)
	}
}
