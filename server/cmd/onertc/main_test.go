//go:build !js

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/internal/testkit/fleettest"
	"github.com/onertc/onertc/protocol"
	"github.com/onertc/onertc/server"
)

func TestFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c server.Config)
		wantErr string
	}{
		{"defaults", nil, nil, func(t *testing.T, c server.Config) {
			if c.HTTPAddr != ":8080" || c.RelayGrace != 10*time.Second || c.TURN.RelayPortMin != 49152 || len(c.TrustProxy) != 2 {
				t.Fatalf("config %+v", c)
			}
		}, ""},
		{"env sets, flag wins", []string{"--http", ":9000"}, map[string]string{"ONERTC_HTTP": ":7000", "ONERTC_RELAY_GRACE": "3s"}, func(t *testing.T, c server.Config) {
			if c.HTTPAddr != ":9000" || c.RelayGrace != 3*time.Second {
				t.Fatalf("http %q grace %v", c.HTTPAddr, c.RelayGrace)
			}
		}, ""},
		{"lists replace defaults and repeat", []string{"--trust-proxy", "10.0.0.0/8", "--trust-proxy", "192.0.2.0/24,2001:db8::/32"}, nil, func(t *testing.T, c server.Config) {
			if len(c.TrustProxy) != 3 || c.TrustProxy[0].String() != "10.0.0.0/8" {
				t.Fatalf("trust %v", c.TrustProxy)
			}
		}, ""},
		{"bad env value", nil, map[string]string{"ONERTC_RELAY_GRACE": "soon"}, nil, "ONERTC_RELAY_GRACE"},
		{"bad env value, help still answers", []string{"--help"}, map[string]string{"ONERTC_RELAY_GRACE": "soon"}, nil, "help requested"},
		{"bad flag", []string{"--no-such-flag"}, nil, nil, "not defined"},
		// The password never shows in ps: there is no flag for its value.
		{"no password flag", []string{"--access-password", "hunter2"}, nil, nil, "not defined"},
		{"password mode without its file", []string{"--access", "password"}, nil, func(t *testing.T, c server.Config) {
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--access-password-file") {
				t.Fatalf("Validate: %v, want it to ask for --access-password-file", err)
			}
		}, ""},
		{"bad list entry", []string{"--trust-proxy", "10.0.0.0/33"}, nil, nil, "--trust-proxy"},
		{"secret and its file", []string{"--turn-secret-file", "/x"}, map[string]string{"ONERTC_TURN_SECRET": "s"}, nil,
			"--turn-secret and --turn-secret-file are both set"},
		{"metrics auth and its file", []string{"--metrics-auth", "a:b", "--metrics-auth-file", "/x"}, nil, nil,
			"--metrics-auth and --metrics-auth-file are both set"},
		{"old secret and its file", nil, map[string]string{"ONERTC_TURN_OLD_SECRET": "s", "ONERTC_TURN_OLD_SECRET_FILE": "/x"}, nil,
			"--turn-old-secret and --turn-old-secret-file are both set"},
		{"an empty variable sets nothing", []string{"--turn-secret", "s"}, map[string]string{"ONERTC_TURN_SECRET_FILE": ""}, func(t *testing.T, c server.Config) {
			if c.TURN.Secret != "s" {
				t.Fatalf("secret %q", c.TURN.Secret)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, o := newServeFlags()
			err := parseWithEnv(fs, tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			var c server.Config
			if err == nil {
				c, err = o.config()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
	o := &serveOptions{relayPorts: "9-1"}
	o.cfg.TURN.TTL = time.Hour
	if _, err := o.config(); err != nil {
		t.Fatalf("config() should accept a syntactically valid range and leave the order to Validate: %v", err)
	}
	o.relayPorts = "lots"
	if _, err := o.config(); err == nil || !strings.Contains(err.Error(), "--relay-ports") {
		t.Fatalf("bad relay ports: %v", err)
	}
}

// A list on the command line replaces its variable, never adds to it: a trust list widened
// by accident believes X-Forwarded-For from a network nobody meant, a peer list lets the
// relay reach one. Every list flag, each way it can be given.
func TestListFlagsReplaceTheirVariable(t *testing.T) {
	flags := []struct {
		name string
		get  func(server.Config) []string
		x, y []string // two values that parse
	}{
		{"trust-proxy", func(c server.Config) []string {
			var out []string
			for _, p := range c.TrustProxy {
				out = append(out, p.String())
			}
			return out
		}, []string{"10.0.0.0/8", "172.16.0.0/12"}, []string{"192.0.2.0/24", "2001:db8::/32"}},
		{"allowed-origin", func(c server.Config) []string { return c.AllowedOrigins },
			[]string{"https://a.example", "https://b.example"}, []string{"https://c.example", "https://d.example"}},
		{"acme-domain", func(c server.Config) []string { return c.TLS.ACMEDomains },
			[]string{"a.example", "b.example"}, []string{"c.example", "d.example"}},
		{"turn-allow-peer", func(c server.Config) []string { return c.TURN.AllowPeers },
			[]string{"10.1.0.0/16", "10.2.0.0/16"}, []string{"10.3.0.0/16", "10.4.0.0/16"}},
		{"turn-deny-peer", func(c server.Config) []string { return c.TURN.DenyPeers },
			[]string{"198.51.100.0/24", "198.51.101.0/24"}, []string{"203.0.113.0/24", "203.0.114.0/24"}},
	}
	for _, f := range flags {
		env := envName(f.name)
		fs, o := newServeFlags()
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		def, err := o.config()
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			env  map[string]string
			args []string
			want []string
		}{
			{"default", nil, nil, f.get(def)},
			{"env alone", map[string]string{env: f.x[0] + "," + f.x[1]}, nil, f.x},
			{"env then flag", map[string]string{env: f.x[0] + "," + f.x[1]}, []string{"--" + f.name, f.y[0]}, f.y[:1]},
			{"env then repeated flags", map[string]string{env: f.x[0]}, []string{"--" + f.name, f.y[0], "--" + f.name, f.y[1]}, f.y},
			{"flag alone", nil, []string{"--" + f.name + "=" + f.y[0] + "," + f.y[1]}, f.y},
			{"repeated flags", nil, []string{"--" + f.name, f.x[0], "--" + f.name, f.y[0]}, []string{f.x[0], f.y[0]}},
		}
		for _, tt := range cases {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				fs, o := newServeFlags()
				if err := parseWithEnv(fs, tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }); err != nil {
					t.Fatal(err)
				}
				c, err := o.config()
				if err != nil {
					t.Fatal(err)
				}
				if got := f.get(c); !slices.Equal(got, tt.want) {
					t.Fatalf("%s with %v and %v = %q, want %q", f.name, tt.env, tt.args, got, tt.want)
				}
			})
		}
	}
	// The default list of --trust-proxy is replaced by a variable as by a flag.
	fs, o := newServeFlags()
	if err := parseWithEnv(fs, nil, func(k string) (string, bool) { return "10.0.0.0/8", k == "ONERTC_TRUST_PROXY" }); err != nil {
		t.Fatal(err)
	}
	if c, err := o.config(); err != nil || len(c.TrustProxy) != 1 || c.TrustProxy[0].String() != "10.0.0.0/8" {
		t.Fatalf("ONERTC_TRUST_PROXY=10.0.0.0/8 gives %v, %v; want the default replaced", c.TrustProxy, err)
	}
}

// SIGTERM stops accepting, closes relay sockets with "going away" and exits 0. The one client
// never leaves, so the drain runs to its (short) timeout; TestDrainWithCallInProgress covers
// a drain that ends with the last call.
func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	bin := fleettest.Build(t)
	addr := fleettest.FreePort(t)
	cmd := exec.Command(bin, "serve", "--http", addr, "--turn-disable", "--sfu-addr", "127.0.0.1:0", "--log-format", "json", "--drain-timeout", "2s")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	fleettest.WaitLine(t, lines, `"msg":"serving"`)

	resp, err := http.Post("http://"+addr+"/join/r", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	var joined protocol.JoinResponse
	err = json.NewDecoder(resp.Body).Decode(&joined)
	resp.Body.Close()
	if err != nil || joined.Result != protocol.ResultSuccess {
		t.Fatalf("join: %+v %v", joined, err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteJSON(map[string]string{"cmd": "register", "roomid": "r", "clientid": joined.Params.ClientID}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("relay socket ended with %v, want close 1001 going away", err)
	}
	fleettest.WaitLine(t, lines, `"msg":"stopped"`)
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v, want 0", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting after shutdown")
	}
}

func TestRedisFlagRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int // usage errors 2, a server that cannot start 1
		want []string
	}{
		{"unreachable", []string{"--redis", "redis://:hunter2@127.0.0.1:1/3", "--turn-secret", "s"}, exitFailure,
			[]string{"redis://:xxxxx@127.0.0.1:1/3", "unreachable"}},
		{"no turn secret", []string{"--redis", "redis://127.0.0.1:1"}, exitUsage,
			[]string{"--redis needs --turn-secret"}},
		{"not a redis url", []string{"--redis", "http://127.0.0.1:1", "--turn-secret", "s"}, exitUsage,
			[]string{`--redis "http://127.0.0.1:1"`}},
		{"cluster without a url", []string{"--redis-cluster", "--turn-secret", "s"}, exitUsage,
			[]string{"--redis-cluster needs --redis"}},
		{"cluster with a database", []string{"--redis", "redis://:hunter2@127.0.0.1:1/3", "--redis-cluster", "--turn-secret", "s"}, exitFailure,
			[]string{"redis://:xxxxx@127.0.0.1:1/3", "only database 0"}},
		{"cluster unreachable", []string{"--redis", "redis://:hunter2@127.0.0.1:1?addr=127.0.0.1:2", "--redis-cluster", "--turn-secret", "s"}, exitFailure,
			[]string{"redis cluster", "unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			args := append([]string{"--http", "127.0.0.1:0", "--turn", "127.0.0.1:0", "--turn-tls", "127.0.0.1:0"}, tt.args...)
			code := serve(t.Context(), args, io.Discard, &out)
			// A test binary carries no browser app, which is logged first: the refusal is
			// the one line the binary prints itself.
			var refusals []string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, "onertc: ") {
					refusals = append(refusals, l)
				}
			}
			if code != tt.code || len(refusals) != 1 {
				t.Fatalf("exit %d, output %q; want %d and one refusal line", code, out.String(), tt.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(refusals[0], w) {
					t.Errorf("refusal %q lacks %q", refusals[0], w)
				}
			}
			if strings.Contains(out.String(), "hunter2") {
				t.Errorf("output %q shows the password", out.String())
			}
		})
	}
}

// TestDrainWithCallInProgress: SIGTERM during a call. The binary reports not ready, refuses
// new joins with "restarting", keeps relaying the call, and exits 0 as soon as the call's
// room is empty, long before its drain timeout.
func TestDrainWithCallInProgress(t *testing.T) {
	bin := fleettest.Build(t)
	addr := fleettest.FreePort(t)
	cmd := exec.Command(bin, "serve", "--http", addr, "--turn-disable", "--sfu-addr", "127.0.0.1:0", "--log-format", "json", "--drain-timeout", "120s")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	fleettest.WaitLine(t, lines, `"msg":"serving"`)

	join := func(room string) (*http.Response, protocol.JoinResponse) {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/join/"+room, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var jr protocol.JoinResponse
		if err := json.NewDecoder(resp.Body).Decode(&jr); err != nil {
			t.Fatalf("join %s: %v", room, err)
		}
		return resp, jr
	}
	register := func(id string) *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		if err := ws.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdRegister, RoomID: "call", ClientID: id}); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	relay := func(from, to *websocket.Conn, msg string) {
		t.Helper()
		if err := from.WriteJSON(protocol.RelayRequest{Cmd: protocol.CmdSend, Msg: msg}); err != nil {
			t.Fatal(err)
		}
		_ = to.SetReadDeadline(time.Now().Add(10 * time.Second))
		var f protocol.RelayFrame
		if err := to.ReadJSON(&f); err != nil || f.Msg != msg {
			t.Fatalf("relayed %q: got %+v, %v", msg, f, err)
		}
	}
	_, a := join("call")
	_, b := join("call")
	if a.Result != protocol.ResultSuccess || b.Result != protocol.ResultSuccess {
		t.Fatalf("joins: %s, %s", a.Result, b.Result)
	}
	wsA, wsB := register(a.Params.ClientID), register(b.Params.ClientID)
	relay(wsA, wsB, "before") // both registered: the call is in progress

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	fleettest.WaitLine(t, lines, `"msg":"draining`)
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining = %d, want 503", resp.StatusCode)
	}
	resp, refused := join("newcomer")
	if resp.StatusCode != http.StatusServiceUnavailable || refused.Result != protocol.ResultError ||
		!strings.Contains(strings.Join(refused.Params.ErrorMessages, " "), "restarting") {
		t.Errorf("join while draining: %d %+v, want 503 ERROR saying the server is restarting", resp.StatusCode, refused)
	}
	relay(wsA, wsB, "during the drain")
	relay(wsB, wsA, "and back")

	left := time.Now()
	for _, id := range []string{a.Params.ClientID, b.Params.ClientID} {
		resp, err := http.Post("http://"+addr+"/leave/call/"+id, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fleettest.WaitLine(t, lines, `"msg":"stopped"`)
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v, want 0", err)
	}
	if d := time.Since(left); d > 30*time.Second {
		t.Errorf("exited %v after the room emptied; the drain should end with the last call", d)
	}
}
