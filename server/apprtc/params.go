package apprtc

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/origin"
)

// loopbackJS is AppRTC's include_loopback_js under ?debug=loopback, kept for clients that read
// it; onertc's own app has no loopback mode and serves no such script.
const loopbackJS = `<script src="/js/loopback.js"></script>`

// params builds AppRTC's room-independent parameter set of a request (GET /params); roomParams
// adds a room's fields to it.
func (a *API) params(r *http.Request) protocol.Params {
	q := r.URL.Query()
	o := a.cfg.Trust.Of(r)
	loopback := q.Get("debug") == "loopback"
	p := protocol.Params{
		PCConfig:               pcConfig(q.Get("it"), nil),
		PCConstraints:          `{"optional":[]}`,
		OfferOptions:           `{}`,
		MediaConstraints:       mediaConstraints(q),
		IsLoopback:             boolString(loopback),
		BypassJoinConfirmation: "false",
		VersionInfo:            a.versionInfo(),
		ICEServerURL:           o.HTTP() + "/v1alpha/iceconfig?key=",
		ICEServerTransports:    q.Get("tt"),
		ErrorMessages:          []string{},
		WarningMessages:        []string{},
	}
	if !validTransports(p.ICEServerTransports) {
		p.WarningMessages = append(p.WarningMessages, "ignored tt: expected a comma-separated list of udp, tcp, tls")
		p.ICEServerTransports = ""
	}
	p.WSSURL, p.WSSPostURL = wssURLs(o, q)
	if a.cfg.SelfSignedFingerprint != "" {
		p.HeaderMessage = "This server uses a self-signed certificate, so your browser warned about it. Its SHA-256 fingerprint is " + a.cfg.SelfSignedFingerprint + "."
	}
	if loopback {
		p.IncludeLoopbackJS = loopbackJS
	}
	if a.cfg.HideICEServerURL {
		// With an API key, /v1alpha/iceconfig takes only the key, and the room app's
		// clients get their credentials in /join's pc_config instead (see
		// joinICEServers): an empty ice_server_url keeps them from asking for nothing.
		p.ICEServerURL = ""
	}
	return p
}

// roomParams is the parameter set of a page or join in roomID: the request's params, the room
// and its link (with the request's query, so whoever follows it gets the same settings).
// /join adds the client's own fields.
func (a *API) roomParams(r *http.Request, roomID string) protocol.RoomParams {
	p := protocol.RoomParams{Params: a.params(r), Messages: []string{}}
	if roomID != "" {
		p.RoomID = roomID
		p.RoomLink = a.cfg.Trust.Of(r).HTTP() + "/r/" + roomID
		if r.URL.RawQuery != "" {
			p.RoomLink += "?" + r.URL.RawQuery
		}
	}
	return p
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// pcConfig is AppRTC's pc_config with servers (none: an empty list) as its iceServers.
func pcConfig(iceTransports string, servers []protocol.ICEServer) string {
	if servers == nil {
		servers = []protocol.ICEServer{}
	}
	cfg := struct {
		ICEServers    []protocol.ICEServer `json:"iceServers"`
		BundlePolicy  string               `json:"bundlePolicy"`
		RTCPMuxPolicy string               `json:"rtcpMuxPolicy"`
		ICETransports string               `json:"iceTransports,omitempty"`
	}{ICEServers: servers, BundlePolicy: "max-bundle", RTCPMuxPolicy: "require"}
	if iceTransports == "relay" || iceTransports == "all" {
		cfg.ICETransports = iceTransports
	}
	b, _ := json.Marshal(cfg) // a struct of strings always marshals
	return string(b)
}

// mediaConstraints follows AppRTC's ?audio=, ?video= and ?hd=; values other than true and
// false fall back to the default.
func mediaConstraints(q url.Values) string {
	audio := q.Get("audio") != "false"
	var video any = q.Get("video") != "false"
	if q.Get("hd") == "true" && video == true {
		video = map[string]any{
			"width":  map[string]int{"ideal": 1280},
			"height": map[string]int{"ideal": 720},
		}
	}
	b, _ := json.Marshal(map[string]any{"audio": audio, "video": video})
	return string(b)
}

func validTransports(tt string) bool {
	if tt == "" {
		return true
	}
	for _, t := range strings.Split(tt, ",") {
		if t != "udp" && t != "tcp" && t != "tls" {
			return false
		}
	}
	return true
}

func (a *API) versionInfo() string {
	b, _ := json.Marshal(map[string]string{"gitHash": a.cfg.Version, "branch": "", "time": ""})
	return string(b)
}

// wssURLs returns the relay URLs: this server's own /ws and /collider, or AppRTC's external
// relay selection with ?wshpp=host:port (TLS unless ?wstls=false).
func wssURLs(o origin.Origin, q url.Values) (wss, post string) {
	if hp := q.Get("wshpp"); hp != "" && origin.ValidHost(hp) {
		if q.Get("wstls") == "false" {
			return "ws://" + hp + "/ws", "http://" + hp
		}
		return "wss://" + hp + "/ws", "https://" + hp
	}
	if q.Get("wstls") == "false" {
		o.Secure = false
	}
	return o.WS() + "/ws", o.HTTP() + "/collider"
}
