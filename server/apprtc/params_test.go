package apprtc

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server/origin"
)

func TestWSSURLs(t *testing.T) {
	secure := origin.Origin{Secure: true, Host: "call.example.org"}
	tests := []struct {
		name, query, wantWS, wantPost string
	}{
		{"own relay", "", "wss://call.example.org/ws", "https://call.example.org/collider"},
		{"own relay without TLS asked", "wstls=false", "ws://call.example.org/ws", "http://call.example.org/collider"},
		{"external relay", "wshpp=relay.example.net:8089", "wss://relay.example.net:8089/ws", "https://relay.example.net:8089"},
		{"external relay without TLS", "wshpp=relay.example.net:8089&wstls=false", "ws://relay.example.net:8089/ws", "http://relay.example.net:8089"},
		{"external relay with markup ignored", `wshpp=x"><script>`, "wss://call.example.org/ws", "https://call.example.org/collider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			ws, post := wssURLs(secure, q)
			if ws != tt.wantWS || post != tt.wantPost {
				t.Errorf("wssURLs = %s %s, want %s %s", ws, post, tt.wantWS, tt.wantPost)
			}
		})
	}
}

func TestMediaConstraints(t *testing.T) {
	tests := []struct{ query, want string }{
		{"", `{"audio":true,"video":true}`},
		{"audio=false", `{"audio":false,"video":true}`},
		{"video=false&hd=true", `{"audio":true,"video":false}`},
		{"hd=true", `{"audio":true,"video":{"height":{"ideal":720},"width":{"ideal":1280}}}`},
		{"audio=maybe", `{"audio":true,"video":true}`},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		if got := mediaConstraints(q); got != tt.want {
			t.Errorf("mediaConstraints(%q) = %s, want %s", tt.query, got, tt.want)
		}
	}
}

func TestValidTransports(t *testing.T) {
	tests := []struct {
		tt   string
		want bool
	}{
		{"", true}, {"udp", true}, {"udp,tcp,tls", true}, {"tls,udp", true},
		{"quic", false}, {"udp,", false}, {"udp, tcp", false}, {"UDP", false},
	}
	for _, tt := range tests {
		if got := validTransports(tt.tt); got != tt.want {
			t.Errorf("validTransports(%q) = %v, want %v", tt.tt, got, tt.want)
		}
	}
}

func TestPCConfig(t *testing.T) {
	servers := []protocol.ICEServer{{URLs: []string{"turn:192.0.2.1:3478"}, Username: "u", Credential: "c"}}
	tests := []struct {
		name, it      string
		servers       []protocol.ICEServer
		wantServers   int
		wantTransport string
	}{
		{"no servers is an empty list", "", nil, 0, ""},
		{"servers kept", "", servers, 1, ""},
		{"relay only", "relay", servers, 1, "relay"},
		{"all", "all", nil, 0, "all"},
		{"unknown policy dropped", "none", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				ICEServers    []protocol.ICEServer `json:"iceServers"`
				BundlePolicy  string               `json:"bundlePolicy"`
				RTCPMuxPolicy string               `json:"rtcpMuxPolicy"`
				ICETransports *string              `json:"iceTransports"`
			}
			raw := pcConfig(tt.it, tt.servers)
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("pc_config %s: %v", raw, err)
			}
			if got.ICEServers == nil || len(got.ICEServers) != tt.wantServers {
				t.Errorf("iceServers %v in %s, want %d (never null)", got.ICEServers, raw, tt.wantServers)
			}
			if got.BundlePolicy != "max-bundle" || got.RTCPMuxPolicy != "require" {
				t.Errorf("policies in %s", raw)
			}
			switch {
			case tt.wantTransport == "" && got.ICETransports != nil:
				t.Errorf("iceTransports %q in %s, want none", *got.ICETransports, raw)
			case tt.wantTransport != "" && (got.ICETransports == nil || *got.ICETransports != tt.wantTransport):
				t.Errorf("iceTransports missing or wrong in %s, want %q", raw, tt.wantTransport)
			}
		})
	}
}
