//go:build !js

package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
)

func TestHTTPTransport(t *testing.T) {
	var gotOrigin, gotBody, gotQuery string
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /join/{room}", func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		io.WriteString(w, `{"result":"SUCCESS","params":{"client_id":"c1","is_initiator":"true","messages":[]}}`)
	})
	mux.HandleFunc("POST /message/{room}/{client}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		if r.PathValue("client") == "gone" {
			io.WriteString(w, `{"result":"UNKNOWN_CLIENT"}`)
			return
		}
		io.WriteString(w, `{"result":"SUCCESS"}`)
	})
	mux.HandleFunc("POST /leave/{room}/{client}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("POST /v1alpha/iceconfig", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"iceServers":[{"urls":["turn:127.0.0.1:3478?transport=udp"],"username":"1:u","credential":"p"}]}`)
	})
	mux.HandleFunc("DELETE /collider/{room}/{client}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "OK\n")
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		gotOrigin = r.Header.Get("Origin")
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var req protocol.RelayRequest
		if c.ReadJSON(&req) == nil {
			_ = c.WriteJSON(protocol.RelayFrame{Msg: req.Cmd + ":" + req.ClientID})
		}
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx := context.Background()
	tr, err := NewHTTPTransport(ts.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}

	resp, err := tr.Join(ctx, "room", "it=relay&hd=true")
	if err != nil || resp.Params.ClientID != "c1" || resp.Params.IsInitiator != "true" {
		t.Fatalf("Join = %+v, %v", resp, err)
	}
	if gotQuery != "it=relay&hd=true" {
		t.Errorf("join query %q", gotQuery)
	}
	tests := []struct {
		name    string
		err     error
		wantErr error
	}{
		{"message ok", tr.Message(ctx, "room", "c1", `{"type":"bye"}`), nil},
		{"message rejected", tr.Message(ctx, "room", "gone", "x"), ErrMessageRejected},
		{"leave 500", tr.Leave(ctx, "room", "c1"), ErrHTTPStatus},
		{"delete", tr.DeleteRelay(ctx, "/collider", "room", "c1"), nil},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.wantErr) || (tt.wantErr == nil && tt.err != nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.wantErr)
		}
	}
	if gotBody != "x" {
		t.Errorf("message body %q", gotBody)
	}
	servers, err := tr.ICEServers(ctx, "/v1alpha/iceconfig?key=")
	if err != nil || len(servers) != 1 || servers[0].Username != "1:u" {
		t.Fatalf("ICEServers = %+v, %v", servers, err)
	}
	conn, err := tr.DialRelay(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Write(ctx, protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: "room", ClientID: "c1"}); err != nil {
		t.Fatal(err)
	}
	f, err := conn.Read(ctx)
	if err != nil || f.Msg != "register:c1" {
		t.Fatalf("Read = %+v, %v", f, err)
	}
	if gotOrigin != ts.URL {
		t.Errorf("Origin = %q, want %q", gotOrigin, ts.URL)
	}
	if _, err := NewHTTPTransport("ftp://x", nil); !errors.Is(err, ErrBadConfig) {
		t.Errorf("bad base URL: %v", err)
	}
}
