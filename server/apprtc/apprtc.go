// Package apprtc is the AppRTC room server's HTTP API as onertc serves it: POST /join,
// /message, /leave and /bye, GET /params, and the pages (room selection, room, room full)
// with the same parameters. The wire contract is docs/protocol.md; the relay the clients
// then talk through is package relay, the room table package room.
package apprtc

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/admission"
	"github.com/onertc/onertc/server/grouproom"
	"github.com/onertc/onertc/server/origin"
	"github.com/onertc/onertc/server/relay"
	"github.com/onertc/onertc/server/requestid"
	"github.com/onertc/onertc/server/room"
)

// Config is what the API is served from.
type Config struct {
	Rooms room.Store
	Relay *relay.Relay
	Trust origin.Trust
	// Gate admits pages in password mode; nil in open mode.
	Gate *admission.Gate
	Log  *slog.Logger
	// Shared says the room table is shared by several instances (Redis): a join is as good
	// on one instance as on another, and a draining instance keeps taking them.
	Shared bool
	// Draining says the instance is shutting down; HandedOver that a new process serves
	// its port already (an upgrade).
	Draining   func() bool
	HandedOver func() bool
	// Joined is told the result of every join (for metrics).
	Joined func(result string)
	// Version goes into the params' version_info.
	Version string
	// SelfSignedFingerprint, when the server's certificate is self-signed, is shown on the
	// pages so a person can check the browser's warning against it.
	SelfSignedFingerprint string
	// HideICEServerURL leaves the params' ice_server_url empty: TURN is off, or its
	// credentials come in /join's pc_config only (JoinICEServers).
	HideICEServerURL bool
	// JoinICEServers, if not nil, gives the ICE servers with fresh credentials that /join
	// puts in pc_config (nil: none, the client asks ice_server_url).
	JoinICEServers func() []protocol.ICEServer
	// Groups, when it returns a store, turns a full room of onertc clients into a group
	// room on the SFU (see Join); nil, or a nil store (no SFU serving), keeps every room a
	// room for two.
	Groups func() grouproom.Store
}

// API serves the room server's routes.
type API struct {
	cfg Config
}

// New makes the API of cfg.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Draining == nil {
		cfg.Draining = func() bool { return false }
	}
	if cfg.HandedOver == nil {
		cfg.HandedOver = func() bool { return false }
	}
	if cfg.Joined == nil {
		cfg.Joined = func(string) {}
	}
	return &API{cfg: cfg}
}

// groups is the group rooms' store, nil when group rooms are off.
func (a *API) groups() grouproom.Store {
	if a.cfg.Groups == nil {
		return nil
	}
	return a.cfg.Groups()
}

func (a *API) logFor(r *http.Request) *slog.Logger { return requestid.Logger(a.cfg.Log, r) }

func (a *API) joinICEServers() []protocol.ICEServer {
	if a.cfg.JoinICEServers == nil {
		return nil
	}
	return a.cfg.JoinICEServers()
}

// NewClientID makes an unguessable client id in the protocol's charset.
func NewClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}
