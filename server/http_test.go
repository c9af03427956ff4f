package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/onertc/onertc/protocol"
)

func TestHTTPInputs(t *testing.T) {
	ts := startServer(t, nil)
	a := ts.join(t, "inputs")
	tests := []struct {
		name       string
		method     string
		path, body string
		wantStatus int
		wantBody   string // substring
	}{
		{"join bad room id", "POST", "/join/bad%20room", "", 404, "invalid room id"},
		{"join too long id", "POST", "/join/" + strings.Repeat("a", protocol.MaxIDLen+1), "", 404, "invalid room id"},
		{"join wrong method", "GET", "/join/inputs", "", 405, ""},
		{"message unknown room", "POST", "/message/nope/" + a.ClientID, "x", 200, `"UNKNOWN_ROOM"`},
		{"message unknown client", "POST", "/message/inputs/nobody", "x", 200, `"UNKNOWN_CLIENT"`},
		{"message bad client id", "POST", "/message/inputs/a.b", "x", 404, "invalid client id"},
		{"message too large", "POST", "/message/inputs/" + a.ClientID, strings.Repeat("x", protocol.MaxMessageBytes+1), 413, "larger than"},
		{"message empty", "POST", "/message/inputs/" + a.ClientID, "", 400, "empty message"},
		{"message ok", "POST", "/message/inputs/" + a.ClientID, "stored", 200, `"SUCCESS"`},
		{"leave unknown", "POST", "/leave/nope/nobody", "", 200, ""},
		{"leave bad ids", "POST", "/leave/a.b/c.d", "", 200, ""},
		{"bye unknown", "POST", "/bye/nope/nobody", "", 200, ""},
		{"params", "GET", "/params", "", 200, `"pc_config"`},
		{"params wrong method", "POST", "/params", "", 405, ""},
		{"room page", "GET", "/r/inputs", "", 200, "Ready to join"},
		{"room page bad id", "GET", "/r/..%2f", "", 404, ""},
		{"index", "GET", "/", "", 200, "room-id-input"},
		{"healthz", "GET", "/healthz", "", 200, "ok"},
		{"status", "GET", "/status", "", 200, `"openws"`},
		{"unknown path", "GET", "/nothing-here", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.url+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
				t.Fatalf("%s %s = %d %q; want %d containing %q", tt.method, tt.path, resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if strings.HasPrefix(tt.path, "/leave") && len(b) != 0 {
				t.Fatalf("leave body = %q, want empty", b)
			}
		})
	}
	// Bad input changed nothing: A's mailbox holds exactly the one good message.
	b := ts.join(t, "inputs")
	if strings.Join(b.Messages, "|") != "stored" {
		t.Fatalf("mailbox = %q, want only the accepted message", b.Messages)
	}
	status, body := ts.post(t, "/join/inputs", "")
	if status != 200 || body != `{"result":"FULL","params":{"messages":[]}}`+"\n" {
		t.Fatalf("third join = %d %q", status, body)
	}
	resp, err := http.Get(ts.url + "/r/inputs")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "room is full") {
		t.Fatalf("room page of a full room: %s", page)
	}
}

func TestJoinParams(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TURN.Disabled = false })
	decode := func(t *testing.T, req *http.Request) protocol.RoomParams {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw map[string]json.RawMessage
		var jr protocol.JoinResponse
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &jr); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		var params map[string]json.RawMessage
		_ = json.Unmarshal(raw["params"], &params)
		for _, k := range []string{"is_initiator", "pc_config", "pc_constraints", "offer_options", "media_constraints", "is_loopback", "bypass_join_confirmation", "version_info"} {
			if v := params[k]; len(v) == 0 || v[0] != '"' {
				t.Errorf("param %s = %s, want a JSON string", k, v)
			}
		}
		return jr.Params
	}
	tests := []struct {
		name   string
		query  string
		header map[string]string
		check  func(t *testing.T, p protocol.RoomParams)
	}{
		{"defaults", "", nil, func(t *testing.T, p protocol.RoomParams) {
			want := map[string]string{
				"is_initiator":      "true",
				"wss_url":           "ws://" + ts.host + "/ws",
				"wss_post_url":      "http://" + ts.host + "/collider",
				"ice_server_url":    "http://" + ts.host + "/v1alpha/iceconfig?key=",
				"pc_config":         `{"iceServers":[],"bundlePolicy":"max-bundle","rtcpMuxPolicy":"require"}`,
				"media_constraints": `{"audio":true,"video":true}`,
			}
			got := map[string]string{"is_initiator": p.IsInitiator, "wss_url": p.WSSURL, "wss_post_url": p.WSSPostURL,
				"ice_server_url": p.ICEServerURL, "pc_config": p.PCConfig, "media_constraints": p.MediaConstraints}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if p.RoomLink != "http://"+ts.host+"/r/"+p.RoomID || !protocol.ValidID(p.ClientID) {
				t.Errorf("room_link %q client_id %q", p.RoomLink, p.ClientID)
			}
		}},
		{"page query", "?it=relay&hd=true&audio=false&tt=udp", nil, func(t *testing.T, p protocol.RoomParams) {
			if !strings.Contains(p.PCConfig, `"iceTransports":"relay"`) {
				t.Errorf("pc_config %s lacks iceTransports relay", p.PCConfig)
			}
			if p.MediaConstraints != `{"audio":false,"video":{"height":{"ideal":720},"width":{"ideal":1280}}}` {
				t.Errorf("media_constraints %s", p.MediaConstraints)
			}
			if !strings.HasSuffix(p.RoomLink, "?it=relay&hd=true&audio=false&tt=udp") || p.ICEServerTransports != "udp" {
				t.Errorf("room_link %q transports %q", p.RoomLink, p.ICEServerTransports)
			}
		}},
		{"no video", "?video=false", nil, func(t *testing.T, p protocol.RoomParams) {
			if p.MediaConstraints != `{"audio":true,"video":false}` {
				t.Errorf("media_constraints %s, want video false", p.MediaConstraints)
			}
		}},
		{"no video wins over hd", "?video=false&hd=true", nil, func(t *testing.T, p protocol.RoomParams) {
			if p.MediaConstraints != `{"audio":true,"video":false}` {
				t.Errorf("media_constraints %s, want video false", p.MediaConstraints)
			}
		}},
		{"trusted proxy says https", "", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "call.example.org"}, func(t *testing.T, p protocol.RoomParams) {
			if p.WSSURL != "wss://call.example.org/ws" || p.WSSPostURL != "https://call.example.org/collider" || !strings.HasPrefix(p.RoomLink, "https://call.example.org/r/") {
				t.Errorf("urls %q %q %q", p.WSSURL, p.WSSPostURL, p.RoomLink)
			}
		}},
		{"forwarded host with markup is ignored", "", map[string]string{"X-Forwarded-Host": "evil\"><script>"}, func(t *testing.T, p protocol.RoomParams) {
			if p.WSSURL != "ws://"+ts.host+"/ws" {
				t.Errorf("wss_url %q", p.WSSURL)
			}
		}},
		{"external relay", "?wshpp=collider.example:443", nil, func(t *testing.T, p protocol.RoomParams) {
			if p.WSSURL != "wss://collider.example:443/ws" || p.WSSPostURL != "https://collider.example:443" {
				t.Errorf("urls %q %q", p.WSSURL, p.WSSPostURL)
			}
		}},
		{"external relay without tls", "?wshpp=collider.example:8089&wstls=false", nil, func(t *testing.T, p protocol.RoomParams) {
			if p.WSSURL != "ws://collider.example:8089/ws" || p.WSSPostURL != "http://collider.example:8089" {
				t.Errorf("urls %q %q", p.WSSURL, p.WSSPostURL)
			}
		}},
		{"bad transports warned", "?tt=carrier-pigeon", nil, func(t *testing.T, p protocol.RoomParams) {
			if p.ICEServerTransports != "" || len(p.WarningMessages) != 1 {
				t.Errorf("transports %q warnings %q", p.ICEServerTransports, p.WarningMessages)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.url+"/join/params"+string(rune('a'+i))+tt.query, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			tt.check(t, decode(t, req))
		})
	}
	t.Run("untrusted proxy headers are ignored", func(t *testing.T) {
		ts2 := startServer(t, func(c *Config) { c.TrustProxy = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
		req, _ := http.NewRequest("POST", ts2.url+"/join/untrusted", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		if p := decode(t, req); p.WSSURL != "ws://"+ts2.host+"/ws" {
			t.Errorf("wss_url %q from an untrusted peer's header", p.WSSURL)
		}
	})
}

// TestParamsIsRoomIndependent checks GET /params against AppRTC's: no field of a room or a
// client, and include_loopback_js that is empty unless ?debug=loopback.
func TestParamsIsRoomIndependent(t *testing.T) {
	ts := startServer(t, nil)
	get := func(t *testing.T, query string) map[string]json.RawMessage {
		t.Helper()
		resp, err := http.Get(ts.url + "/params" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	tests := []struct {
		query                string
		wantLoopback, wantJS string
	}{
		{"", `"false"`, `""`},
		{"?debug=other", `"false"`, `""`},
		{"?debug=loopback", `"true"`, `"\u003cscript src=\"/js/loopback.js\"\u003e\u003c/script\u003e"`},
	}
	for _, tt := range tests {
		t.Run("query="+tt.query, func(t *testing.T) {
			raw := get(t, tt.query)
			for _, k := range []string{"client_id", "is_initiator", "room_id", "room_link", "messages"} {
				if v, ok := raw[k]; ok {
					t.Errorf("/params carries %s = %s, which belongs to /join", k, v)
				}
			}
			for _, k := range []string{"pc_config", "media_constraints", "wss_url", "wss_post_url", "ice_server_url", "version_info"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("/params lacks %s", k)
				}
			}
			if got := string(raw["is_loopback"]); got != tt.wantLoopback {
				t.Errorf("is_loopback = %s, want %s", got, tt.wantLoopback)
			}
			if got := string(raw["include_loopback_js"]); got != tt.wantJS {
				t.Errorf("include_loopback_js = %s, want %s", got, tt.wantJS)
			}
		})
	}
	// /join still answers the room's and the client's fields.
	p := ts.join(t, "params-room")
	if p.RoomID != "params-room" || !protocol.ValidID(p.ClientID) || p.IsInitiator != "true" || p.Messages == nil {
		t.Errorf("/join params lack the room's fields: %+v", p)
	}
}

func TestRequestIDs(t *testing.T) {
	ts := startServer(t, nil)
	resp, err := http.Get(ts.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if len(id) != 16 {
		t.Fatalf("X-Request-Id %q, want 16 hex characters", id)
	}
	// A trusted proxy's id is kept (loopback is trusted by default); markup is not.
	for _, tt := range []struct{ sent, want string }{{"proxy-abc-123", "proxy-abc-123"}, {"<script>", ""}} {
		req, _ := http.NewRequest("GET", ts.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", tt.sent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if (tt.want != "" && got != tt.want) || (tt.want == "" && (got == tt.sent || len(got) != 16)) {
			t.Errorf("sent %q, got %q", tt.sent, got)
		}
	}
}
