package server

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/turn"
)

// joinICEServers are the TURN servers, with credentials minted for this join, that /join
// puts in pc_config when --turn-api-key is set; nil otherwise (or with no TURN URI to
// offer), and the clients then ask ice_server_url as AppRTC's do.
//
// Why /join: the key exists so that strangers cannot mint credentials through the
// credential APIs (GET /turn, POST /v1alpha/iceconfig), and both then refuse a request
// without it. The room app's own clients cannot hold the key (a key in a public page is
// no secret), yet they need TURN. A join is the one request that proves someone is using
// the app: it takes a place in a room (two at most), is rate-limited per address
// (--rate-join) and expires with the client, so the credentials come with it, one set per
// join. onertc's browser app and bots, and AppRTC's Android client, take pc_config's TURN
// servers and skip ice_server_url, which is left empty (params); AppRTC's web and iOS
// clients, which read only the page's or /params' ice_server_url, get no TURN with the
// key set unless given it. The key does not make TURN private to the operator's backend:
// anyone who can open a room gets one set per join, as anyone could use the app.
func (s *Server) joinICEServers() []protocol.ICEServer {
	if s.turn == nil || s.cfg.TURN.APIKey == "" {
		return nil
	}
	uris := s.turn.uris()
	if len(uris) == 0 { // never an entry with empty urls
		return nil
	}
	ttl := s.turnTTL()
	if ttl <= 0 {
		ttl = turn.DefaultTTL
	}
	// A random user name, not the client id: TURN user names cross the network in the
	// clear, and the client id is what /message and /collider trust.
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	username, pass := turn.Mint(s.turn.secret, hex.EncodeToString(b[:]), ttl, time.Now())
	return []protocol.ICEServer{{URLs: uris, Username: username, Credential: pass}}
}
