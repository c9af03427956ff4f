//go:build !js

package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/onertc/onertc/protocol"
)

func TestFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o *serveOptions)
		wantErr string
	}{
		{"defaults", nil, nil, func(t *testing.T, o *serveOptions) {
			c, err := o.config()
			if err != nil || c.HTTPAddr != ":8080" || c.RelayGrace != 10*time.Second || c.TURN.RelayPortMin != 49152 || len(c.TrustProxy) != 2 {
				t.Fatalf("config %+v, %v", c, err)
			}
		}, ""},
		{"env sets, flag wins", []string{"--http", ":9000"}, map[string]string{"ONERTC_HTTP": ":7000", "ONERTC_RELAY_GRACE": "3s"}, func(t *testing.T, o *serveOptions) {
			c, _ := o.config()
			if c.HTTPAddr != ":9000" || c.RelayGrace != 3*time.Second {
				t.Fatalf("http %q grace %v", c.HTTPAddr, c.RelayGrace)
			}
		}, ""},
		{"lists replace defaults and repeat", []string{"--trust-proxy", "10.0.0.0/8", "--trust-proxy", "192.0.2.0/24,2001:db8::/32"}, nil, func(t *testing.T, o *serveOptions) {
			c, err := o.config()
			if err != nil || len(c.TrustProxy) != 3 || c.TrustProxy[0].String() != "10.0.0.0/8" {
				t.Fatalf("trust %v, %v", c.TrustProxy, err)
			}
		}, ""},
		{"bad env value", nil, map[string]string{"ONERTC_RELAY_GRACE": "soon"}, nil, "ONERTC_RELAY_GRACE"},
		{"bad flag", []string{"--no-such-flag"}, nil, nil, "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var out strings.Builder
			fs.SetOutput(&out)
			o := bindServeFlags(fs)
			err := parseWithEnv(fs, tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+out.String(), tt.wantErr) {
					t.Fatalf("err %v / %q, want %q", err, out.String(), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
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

// buildBinary compiles onertc once for the tests that run it as a process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "onertc")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SIGTERM stops accepting, closes relay sockets with "going away" and exits 0.
func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "--http", addr, "--turn-disable", "--log-format", "json")
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
	waitFor(t, lines, `"msg":"serving"`)

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
	waitFor(t, lines, `"msg":"stopped"`)
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

func waitFor(t *testing.T, lines <-chan string, pattern string) {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(pattern))
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("process output ended before %s", pattern)
			}
			if re.MatchString(l) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s within 30s", pattern)
		}
	}
}

func TestRedisFlagRefusals(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unreachable", []string{"--redis", "redis://:hunter2@127.0.0.1:1/3", "--turn-secret", "s"},
			[]string{"redis://:xxxxx@127.0.0.1:1/3", "unreachable"}},
		{"no turn secret", []string{"--redis", "redis://127.0.0.1:1"},
			[]string{"--redis needs --turn-secret"}},
		{"not a redis url", []string{"--redis", "http://127.0.0.1:1", "--turn-secret", "s"},
			[]string{`--redis "http://127.0.0.1:1"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			args := append([]string{"--http", "127.0.0.1:0", "--turn", "127.0.0.1:0", "--turn-tls", "127.0.0.1:0"}, tt.args...)
			code := serve(t.Context(), args, &out)
			msg := strings.TrimSpace(out.String())
			if code == 0 || strings.Count(msg, "\n") != 0 {
				t.Fatalf("exit %d, output %q; want non-zero and one line", code, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("output %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("output %q shows the password", msg)
			}
		})
	}
}
